"""Bayesian optimisation with a Gaussian process whose cost per proposal stays flat.

scikit-optimize's ``Optimizer.ask(n, "cl_min")`` refits the kernel once per told batch and per
lie, on every trial told: cubic in the trials. This strategy keeps its building blocks (the
normalised :class:`skopt.space.Space`, the GP of ``cook_estimator("GP")``: constant x
Matern(5/2) + white noise, ``gaussian_ei`` / ``gaussian_lcb``) and bounds the work per proposal:

* **What the model sees**: all trials up to ``max_model_points`` (128); beyond, a subset that
  size (:func:`model_subset`): the best eighth by score (the incumbent and its rivals), the
  quarter nearest the incumbent whatever they scored (a trust region where noise is averaged,
  not cherry-picked), and a farthest-point sample of the rest (each trial left out lies within
  the covering radius of one kept, so explored space never looks unexplored). Failed trials take
  part as the worst score. Kernel fits and predictions both see that subset.
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

from hpsearch.seeding import PARAMS, STRATEGY, rng_for
from hpsearch.space.dimensions import IntUniform, LogUniform, Uniform
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies.base import Strategy, score_of
from hpsearch.trial import TrialResult

__all__ = ["BayesStrategy", "model_subset"]

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
# Jitter added to the kernel matrix's diagonal, as scikit-learn's default ``alpha``.
_JITTER = 1e-10
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


def model_subset(X: np.ndarray, y: np.ndarray, cap: int) -> np.ndarray:
    """Rows (ascending) of the trials a GP capped at ``cap`` points sees: all up to ``cap``, else
    the ``max(1, cap // 8)`` lowest ``y``, the ``cap // 4`` other rows nearest the lowest, then a
    greedy farthest-point (k-center) sample of the rest; ties go to the first row.

    Example:
        >>> X = np.array([[0.0], [0.1], [0.25], [0.3], [0.6], [1.0]])
        >>> model_subset(X, (X[:, 0] - 0.3) ** 2, 4).tolist()  # 0.3, next to it 0.25, then 1, 0.6
        [2, 3, 4, 5]
    """
    n = len(y)
    if n <= cap:
        return np.arange(n)
    # Squared distances as |a|^2 + |b|^2 - 2 a.b: one matrix-vector product per row, several
    # times faster than differences at thousands of trials (a rounding below 0 changes nothing).
    sq = np.einsum("ij,ij->i", X, X)
    chosen = np.zeros(n, dtype=bool)
    best = np.argsort(y, kind="stable")
    chosen[best[: max(1, cap // 8)]] = True
    near = np.argsort(X @ (-2.0 * X[best[0]]) + sq, kind="stable")
    chosen[near[~chosen[near]][: cap // 4]] = True
    kept = np.flatnonzero(chosen)  # then gap: each row's squared distance to the nearest kept
    gap = (X @ (-2.0 * X[kept].T) + sq[kept] + sq[:, None]).min(axis=1)
    gap[chosen] = -1.0  # never again; duplicates (gap 0) come after every distinct row
    for _ in range(cap - int(chosen.sum())):
        j = int(np.argmax(gap))
        chosen[j] = True
        np.minimum(gap, X @ (-2.0 * X[j]) + (sq + sq[j]), out=gap)
        gap[j] = -1.0
    return np.flatnonzero(chosen)


def _reflect(u: np.ndarray) -> np.ndarray:
    """Folds values back into [0, 1]; clipping would pile perturbed points up on the bounds."""
    u = np.abs(u)
    return np.clip(np.where(u > 1.0, 2.0 - u, u), 0.0, 1.0)


class _Posterior:
    """The GP conditioned on ``(X, y)`` with fixed kernel hyperparameters, grown point by point.

    Holds ``Li``, the inverse Cholesky factor of ``K + noise I`` (products with it run several
    times faster than triangular solves), ``u = Li y``, ``e = Li 1``. With ``y`` normalised as by
    ``normalize_y`` (mean ``m``, std ``s``, lies included), at ``z`` projected as
    ``v = Li k(X, z)``: ``mean = m + v.u - m v.e``, ``std = s sqrt(k(z, z) - v.v)``,
    scikit-optimize's GP up to rounding. A lie adds a row to ``Li``, ``u``, ``e`` and to the
    projections kept.
    """

    def __init__(self, signal: Any, noise: float, X: np.ndarray, y: np.ndarray, room: int) -> None:
        n, size = len(y), len(y) + room
        self.signal, self.noise, self.n = signal, noise, n
        self.X, self.y = np.zeros((size, X.shape[1])), np.zeros(size)
        self.X[:n], self.y[:n] = X, y
        K = signal(X)
        K[np.diag_indices_from(K)] += noise + _JITTER
        # Imported here: scipy.linalg costs a quarter of a second, which a grid or random study
        # (that never fits a model) should not pay.
        from scipy.linalg import cholesky, solve_triangular

        self.Li = np.zeros((size, size))
        L = cholesky(K, lower=True, check_finite=False)
        self.Li[:n, :n] = solve_triangular(L, np.eye(n), lower=True, check_finite=False)
        self.u, self.e = np.zeros(size), np.zeros(size)
        self.u[:n], self.e[:n] = (self.Li[:n, :n] @ np.stack([y, np.ones(n)], axis=1)).T

    def project(self, Z: np.ndarray, keep: bool = False) -> SimpleNamespace:
        n, Li, X = self.n, self.Li[: self.n, : self.n], self.X[: self.n]
        # In chunks: a kernel matrix that stays in cache is computed twice as fast.
        V = np.hstack([Li @ self.signal(X, Z[i : i + 256]) for i in range(0, len(Z), 256)])
        c = SimpleNamespace(Z=Z, kzz=self.signal.diag(Z), vv=np.einsum("ij,ij->j", V, V))
        c.vu, c.ve = np.stack([self.u[:n], self.e[:n]]) @ V
        c.V = np.vstack([V, np.zeros((len(self.y) - n, len(Z)))]) if keep else None
        return c

    def predictor(self, c: SimpleNamespace) -> SimpleNamespace:
        """The predictions at ``c`` with the ``predict`` that scikit-optimize's acquisitions
        call."""
        y = self.y[: self.n]
        m, s = float(np.mean(y)), float(np.std(y))
        mean, std = (
            m + c.vu - m * c.ve,
            np.sqrt(np.maximum(c.kzz - c.vv, 0.0)) * (s if s > 0 else 1.0),
        )
        return SimpleNamespace(
            predict=lambda X, return_std=False: (mean, std) if return_std else mean
        )

    def add(self, x: np.ndarray, value: float, kept: Sequence[SimpleNamespace]) -> None:
        """Conditions on one more observation, updating the projections in ``kept``."""
        n, x, Li = self.n, x[None, :], self.Li[: self.n, : self.n]
        w = Li @ self.signal(self.X[:n], x)[:, 0]
        d = math.sqrt(max(float(self.signal.diag(x)[0]) + self.noise + _JITTER - w @ w, _JITTER))
        self.Li[n, :n], self.Li[n, n] = -(w @ Li) / d, 1.0 / d
        self.u[n], self.e[n] = (value - w @ self.u[:n]) / d, (1.0 - w @ self.e[:n]) / d
        self.X[n], self.y[n] = x[0], value
        for c in kept:
            row = c.V[n] = (self.signal(x, c.Z)[0] - w @ c.V[:n]) / d
            c.vv, c.vu, c.ve = c.vv + row * row, c.vu + row * self.u[n], c.ve + row * self.e[n]
        self.n = n + 1


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
        max_model_points: The most trials the GP and its kernel fits see (:func:`model_subset`).

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

        from skopt.space import Categorical, Integer, Space
        from skopt.utils import normalize_dimensions

        self.batch_size, self.n_initial_points, self.n_candidates = (
            batch_size,
            n_initial_points,
            n_candidates,
        )
        self.acq_func, self.liar, self.max_model_points = acq_func, liar, max_model_points
        self.xi, self.kappa, self.refit_growth = float(xi), float(kappa), float(refit_growth)

        # The unit cube the GP works in: log dimensions in log scale, ints normalised,
        # categoricals one-hot (one column for two choices).
        self._sk = Space(normalize_dimensions(space.to_skopt()))
        self._blocks: list[tuple[str, int, int, Any]] = []  # kind, first column, width, extra
        col = 0
        for dim in self._sk.dimensions:
            width = dim.transformed_size
            if isinstance(dim, Categorical):
                table = np.asarray(dim.transform(list(dim.categories)), dtype=float).reshape(
                    -1, width
                )
                self._blocks.append(("cat", col, width, table))
            elif isinstance(dim, Integer):
                self._blocks.append(("int", col, width, dim.high - dim.low))
            else:
                self._blocks.append(("real", col, width, None))
            col += width
        self._n_cols = col

        # Every trial told, sorted by trial number.
        self._numbers, self._X, self._y = (
            np.empty(0, dtype=np.int64),
            np.empty((0, col)),
            np.empty(0),
        )
        self._kernel: tuple[int, Any, float] | None = None  # (fitted on m trials, signal, noise)

    # ------------------------------------------------------------------ interface
    def tell(self, trials: Sequence[TrialResult]) -> None:
        if not trials:
            return
        Xt = np.asarray(
            self._sk.transform([self.space.to_list(t.params) for t in trials]), dtype=float
        )
        new = np.array([t.number for t in trials], dtype=np.int64)
        # A trial numbered below the m-th (a cut batch told in two parts) changes a kernel's data.
        if self._kernel is not None and new.min() < self._numbers[self._kernel[0] - 1]:
            self._kernel = None
        numbers = np.concatenate([self._numbers, new])
        order = np.argsort(numbers, kind="stable")
        self._numbers = numbers[order]
        self._X = np.vstack([self._X, Xt.reshape(len(trials), self._n_cols)])[order]
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
        post = _Posterior(signal, noise, self._X[rows], self._y[rows], room=count)
        pool = post.project(self._sample_unit(rng, self.n_candidates), keep=count > 1)
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
        post: _Posterior,
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
            local = self._perturb(np.repeat(points[best], _LOCAL_PER_TOP, axis=0), sigma, rng)
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
            params = self._to_params(point)
            if params not in exclude:
                return point, params
        return ranked[0], self._to_params(ranked[0])  # a small discrete space, every point taken

    def _sample_unit(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` points drawn uniformly in the transformed space (log-uniform for log dims)."""
        Z = np.empty((count, self._n_cols))
        for kind, col, width, extra in self._blocks:
            if kind == "real":
                Z[:, col] = rng.random(count)
            elif kind == "int":
                Z[:, col] = rng.integers(0, extra, endpoint=True, size=count) / extra
            else:
                Z[:, col : col + width] = extra[rng.integers(len(extra), size=count)]
        return Z

    def _perturb(self, Z: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        Z, count = Z.copy(), len(Z)
        for kind, col, width, extra in self._blocks:
            if kind == "real":
                Z[:, col] = _reflect(Z[:, col] + sigma * rng.standard_normal(count))
            elif kind == "int":
                Z[:, col] = (
                    np.round(_reflect(Z[:, col] + sigma * rng.standard_normal(count)) * extra)
                    / extra
                )
            else:
                switch = rng.random(count) < sigma
                Z[switch, col : col + width] = extra[
                    rng.integers(len(extra), size=int(switch.sum()))
                ]
        return Z

    def _to_params(self, point: np.ndarray) -> dict[str, Any]:
        params = self.space.from_list(self._sk.inverse_transform(point[None, :])[0])
        for name, dim in self.space.items():
            # The inverse of the log transform can land a rounding error outside the bounds.
            if isinstance(dim, (Uniform, LogUniform)):
                params[name] = float(min(max(params[name], dim.low), dim.high))
            elif isinstance(dim, IntUniform):
                params[name] = int(min(max(params[name], dim.low), dim.high))
        return params
