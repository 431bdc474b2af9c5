"""Bayesian optimisation with a Gaussian process whose cost per proposal stays flat.

scikit-optimize's ``Optimizer.ask(n, "cl_min")`` refits the kernel once per told batch and per
lie, on every trial told: cubic in the trials. This strategy keeps its building blocks (the
normalised :class:`skopt.space.Space`, the GP of ``cook_estimator("GP")``: constant x
Matern(5/2) + white noise, ``gaussian_ei`` / ``gaussian_lcb``) and bounds the work per proposal:

* **What the model sees**: all trials up to ``max_model_points`` (128); beyond, a subset that
  size (:mod:`hpsearch.strategies.model_points`): the best eighth by score (the incumbent and
  its rivals), the quarter nearest the incumbent whatever they scored (a trust region where
  noise is averaged, not cherry-picked), and a farthest-point sample of the rest (each trial
  left out lies within the covering radius of one kept, so explored space never looks
  unexplored). Failed trials take part as the worst score. Kernel fits and predictions both see
  that subset.
* **Kernel hyperparameters are fitted only when the data has grown** by ``refit_growth``
  (10, 13, 17, 22, ... told), on the first ``m`` told; in between the kernel is held fixed.
* **The acquisition is maximised by scoring** ``n_candidates`` random points, projected through
  the GP once per batch, plus three rounds of local perturbations around the best few.
* **A batch takes one kernel**: after each chosen point the GP is conditioned on a lie there
  (``cl_min``, as scikit-optimize's; ``cl_mean``, ``cl_max``, or ``believer``: the GP's mean)
  by growing its Cholesky factor and the candidates' projection by one row.

A proposal is a pure function of the study seed and the set of trials told, kept in trial-number
order (as an unbroken study tells them): a resumed study, told its trials at once or a cut batch
in two parts, proposes exactly what the unbroken one would have. The model sees ``-accuracy``
(skopt minimises); failed trials count as ``-FAILURE_SCORE``, finite, so no NaN reaches the GP.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from hpsearch.records import TrialResult
from hpsearch.seeding import PARAMS, STRATEGY, rng_for
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies.base import Strategy, score_of
from hpsearch.strategies.model_points import model_subset
from hpsearch.strategies.posterior import Posterior
from hpsearch.strategies.unit_cube import UnitCube

__all__ = ["BayesStrategy"]

ACQ_FUNCS = ("EI", "LCB")
LIARS = ("cl_min", "cl_mean", "cl_max", "believer")

# Spawn keys of the strategy's streams: STRATEGY + (kind, n, 0). Length 4, so they never meet
# the per-trial streams (number, k) of hpsearch.seeding.
_FIT, _ASK = 0, 1
# Local refinement of the acquisition's maximum: perturbation scales in the unit cube, how many
# of the best points each round starts from, and perturbations per starting point.
_LOCAL_SIGMAS = (0.08, 0.025, 0.008)
_LOCAL_TOP = 5
_LOCAL_PER_TOP = 60
# Settings that define the strategy (stored with a study, checked on resume), in order.
_OPTIONS = (
    "batch_size",
    "n_initial_points",
    "acq_func",
    "xi",
    "kappa",
    "liar",
    "n_candidates",
    "refit_growth",
    "max_model_points",
)


def fit_sizes(first: int, growth: float, upto: int) -> list[int]:
    """The told-trial counts at which kernel hyperparameters are fitted, up to ``upto``.

    Example:
        >>> fit_sizes(10, 1.25, 40)
        [10, 13, 17, 22, 28, 35]
    """
    sizes = [first]
    while (nxt := max(sizes[-1] + 1, math.ceil(sizes[-1] * growth))) <= upto:
        sizes.append(nxt)
    return sizes


class BayesStrategy(Strategy):
    """A Gaussian-process model of validation accuracy, asked ``batch_size`` points at a time.

    The first ``n_initial_points`` trials are random search's own draws for those trial numbers;
    then each batch comes from one GP (the module docstring tells what it sees). The batch size is
    a setting of its own, not the number of workers: a seed proposes the same on 1 worker or 16.

    Args:
        space: The search space.
        seed: The study seed.
        n_trials: Trials planned.
        batch_size: Points proposed between two model updates.
        n_initial_points: Trial numbers below this are random search's draws, not the model's.
        acq_func: ``"EI"`` (expected improvement) or ``"LCB"`` (lower confidence bound).
        xi: EI's minimum improvement worth having, in accuracy units.
        kappa: LCB's weight on the predictive std.
        liar: What a batch's pending points are assumed to score: ``"cl_min"``, ``"cl_mean"``,
            ``"cl_max"`` (scikit-optimize's constant liars) or ``"believer"`` (the GP's mean).
        n_candidates: Random points scored per suggested point before local refinement.
        refit_growth: Kernel hyperparameters are refitted when the trials told grow by this factor.
        max_model_points: The most trials the GP and its kernel fits see
            (:func:`~hpsearch.strategies.model_points.model_subset`).

    Raises:
        ValueError: An option out of range.

    Example:
        >>> from hpsearch.space.search_space import default_space
        >>> b = BayesStrategy(default_space(), seed=0, n_trials=30)
        >>> len(b.ask([0, 1, 2, 3]))
        4
    """

    name = "bayes"

    def __init__(
        self,
        space: SearchSpace,
        seed: int,
        n_trials: int,
        *,
        batch_size: int = 4,
        n_initial_points: int = 10,
        acq_func: str = "EI",
        xi: float = 0.01,
        kappa: float = 1.96,
        liar: str = "cl_min",
        n_candidates: int = 2000,
        refit_growth: float = 1.25,
        max_model_points: int = 128,
    ) -> None:
        super().__init__(space, seed, n_trials)
        for option, value, least in (
            ("batch_size", batch_size, 1),
            ("n_initial_points", n_initial_points, 1),
            ("n_candidates", n_candidates, 1),
            ("max_model_points", max_model_points, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{option} must be an integer >= {least}, but got {value!r}")
        for option, name, choices in (("acq_func", acq_func, ACQ_FUNCS), ("liar", liar, LIARS)):
            if name not in choices:
                raise ValueError(f"{option} must be one of {list(choices)}, but got {name!r}")
        for option, number, low, strict in (
            ("xi", xi, 0, False),
            ("kappa", kappa, 0, False),
            ("refit_growth", refit_growth, 1, True),
        ):
            if (
                isinstance(number, bool)
                or not isinstance(number, (int, float))
                or not math.isfinite(number)
                or number < low
                or (strict and number == low)
            ):
                bound = ">" if strict else ">="
                raise ValueError(
                    f"{option} must be a finite number {bound} {low}, but got {number!r}"
                )

        self.batch_size, self.n_initial_points, self.n_candidates = (
            batch_size,
            n_initial_points,
            n_candidates,
        )
        self.acq_func, self.liar, self.max_model_points = acq_func, liar, max_model_points
        self.xi, self.kappa, self.refit_growth = float(xi), float(kappa), float(refit_growth)

        # The unit cube the GP works in (log dimensions in log scale, categoricals one-hot).
        self._cube = UnitCube(space)

        # Every trial told, sorted by trial number.
        self._numbers, self._X, self._y = (
            np.empty(0, dtype=np.int64),
            np.empty((0, self._cube.n_cols)),
            np.empty(0),
        )
        self._kernel: tuple[int, Any, float] | None = None  # (fitted on m trials, signal, noise)

    # ------------------------------------------------------------------ interface
    def tell(self, trials: Sequence[TrialResult]) -> None:
        if not trials:
            return
        Xt = self._cube.encode([t.params for t in trials])
        new = np.array([t.number for t in trials], dtype=np.int64)
        # A trial numbered below the m-th (a cut batch told in two parts) changes a kernel's data.
        if self._kernel is not None and int(np.min(new)) < self._numbers[self._kernel[0] - 1]:
            self._kernel = None
        numbers = np.concatenate([self._numbers, new])
        order = np.argsort(numbers, kind="stable")
        self._numbers = numbers[order]
        self._X = np.vstack([self._X, Xt])[order]
        y = np.concatenate([self._y, [-score_of(t, self.goal) for t in trials]])[order]
        if np.isnan(y).any():  # failed trials of a metric with no known worst: the worst seen
            finite = y[~np.isnan(y)]
            y[np.isnan(y)] = finite.max() if finite.size else 0.0
        self._y = y

    def ask(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        numbers, n = list(numbers), len(self._y)
        # Random search's draws for the first n_initial_points trial numbers, and while fewer than
        # two trials are told (a GP needs two). By number, not by count told, so that batches
        # proposed ahead of the results (the study's lag) get the model from the same trial on.
        out = [
            self.space.sample(rng_for(self.seed, k, PARAMS))
            if n < 2 or k < self.n_initial_points
            else None
            for k in numbers
        ]
        model: Iterator[dict[str, Any]] = iter(())
        if None in out:
            # One BLAS thread: the workers keep the cores busy, and a second thread fighting them
            # made asks several times slower. Sums in a fixed order keep proposals reproducible.
            with threadpool_limits(limits=1, user_api="blas"):
                model = iter(
                    self._model_batch(out.count(None), taken=[p for p in out if p is not None])
                )
        return [next(model) if p is None else p for p in out]

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, **{option: getattr(self, option) for option in _OPTIONS}}

    # ------------------------------------------------------------------ the model
    def _fitted_kernel(self) -> tuple[Any, float]:
        """Kernel hyperparameters fitted on the first ``m`` trials, ``m`` the last fit size <= n.

        The first fit is scikit-optimize's own (three L-BFGS starts); each later one starts from the
        one before, plus one random start: a chain of the data alone, which a resume replays."""
        n = len(self._y)
        sizes = fit_sizes(max(2, min(self.n_initial_points, n)), self.refit_growth, n)
        done = sizes.index(self._kernel[0]) + 1 if self._kernel and self._kernel[0] in sizes else 0
        self._kernel = self._kernel if done else None
        for m in sizes[done:]:
            self._kernel = (m, *self._fit_kernel(m))
        if self._kernel is None:  # never: sizes is not empty, so a kernel was kept or just fitted
            raise RuntimeError("no kernel was fitted")
        return self._kernel[1], self._kernel[2]

    def _fit_kernel(self, m: int) -> tuple[Any, float]:
        from sklearn.base import clone
        from skopt.learning.gaussian_process.kernels import WhiteKernel
        from skopt.utils import cook_estimator

        seed_seq = np.random.SeedSequence(self.seed, spawn_key=(*STRATEGY, _FIT, m, 0))
        gp = cook_estimator(
            "GP",
            space=self.space.to_skopt(),
            noise="gaussian",
            random_state=int(seed_seq.generate_state(1)[0] % (2**31)),
        )
        if self._kernel is not None:
            _, signal, noise = self._kernel
            warm = clone(signal) + WhiteKernel(noise)
            # Start inside the bounds: from a bound L-BFGS-B may never leave it. One random
            # restart besides the warm start keeps a stale optimum from holding on for good.
            bounds = warm.bounds
            warm = warm.clone_with_theta(
                np.clip(warm.theta, bounds[:, 0] + 1.0, bounds[:, 1] - 1.0)
            )
            gp.set_params(kernel=warm, n_restarts_optimizer=1)
        rows = model_subset(self._X[:m], self._y[:m], self.max_model_points)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # L-BFGS stopping at a bound is expected, not news
            gp.fit(self._X[rows], self._y[rows])
        # scikit-optimize zeroes the fitted white noise in kernel_ and keeps it in noise_.
        return gp.kernel_.k1, float(gp.noise_) if gp.noise_ is not None else 0.0

    def _model_batch(self, count: int, taken: list[dict[str, Any]]) -> list[dict[str, Any]]:
        n = len(self._y)
        rng = np.random.default_rng(
            np.random.SeedSequence(self.seed, spawn_key=(*STRATEGY, _ASK, n, 0))
        )
        signal, noise = self._fitted_kernel()
        rows = model_subset(self._X, self._y, self.max_model_points)
        post = Posterior(signal, noise, self._X[rows], self._y[rows], room=count)
        pool = post.project(self._cube.sample(rng, self.n_candidates), keep=count > 1)
        chosen: list[dict[str, Any]] = []
        for i in range(count):
            point, params = self._maximise(pool, post, rng, exclude=taken + chosen)
            chosen.append(params)
            if i == count - 1:  # the last point needs no lie
                break
            if self.liar == "believer":
                lie = float(post.predictor(post.project(point[None, :])).predict(None)[0])
            else:  # np.min, np.mean or np.max of the values so far, lies included
                lie = float(getattr(np, self.liar[3:])(post.y[: post.n]))
            post.add(point, lie, kept=[pool])
        return chosen

    def _maximise(
        self,
        pool: SimpleNamespace,
        post: Posterior,
        rng: np.random.Generator,
        exclude: list[dict[str, Any]],
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The best point found by scikit-optimize's acquisition on the posterior as it is now:
        the pool, then local perturbations around its best few."""
        from skopt.acquisition import gaussian_ei, gaussian_lcb

        y_opt = float(np.min(post.y[: post.n]))

        def acq(c: SimpleNamespace) -> np.ndarray:
            if self.acq_func == "EI":
                return gaussian_ei(c.Z, post.predictor(c), y_opt=y_opt, xi=self.xi)
            return -gaussian_lcb(c.Z, post.predictor(c), kappa=self.kappa)

        pool_scores = acq(pool)
        points, scores = pool.Z, pool_scores
        for sigma in _LOCAL_SIGMAS:
            best = np.argsort(-scores, kind="stable")[:_LOCAL_TOP]
            local = self._cube.perturb(np.repeat(points[best], _LOCAL_PER_TOP, axis=0), sigma, rng)
            points = np.vstack([points[best], local])
            scores = np.concatenate([scores[best], acq(post.project(local))])
        # Best first; the refined points, then the whole pool, as fall-backs for a duplicate.
        ranked = np.vstack(
            [
                points[np.argsort(-scores, kind="stable")],
                pool.Z[np.argsort(-pool_scores, kind="stable")],
            ]
        )
        for point in ranked:
            params = self._cube.to_params(point)
            if params not in exclude:
                return point, params
        # A small discrete space, every point taken.
        return ranked[0], self._cube.to_params(ranked[0])
