"""Bayesian optimisation with a Gaussian process, built to cost little per suggested point.

scikit-optimize's ``Optimizer.ask(n, "cl_min")`` refits the GP's kernel hyperparameters (a
multi-start L-BFGS over the marginal likelihood) once per told batch and once more per lie, and
optimises the acquisition with thousands of predictions plus L-BFGS restarts each time: seconds
per batch once a study holds ~100 trials, longer than the trials themselves. This strategy keeps
scikit-optimize's building blocks (its normalised :class:`skopt.space.Space`, the default GP
estimator of ``cook_estimator("GP")``: constant x Matern(5/2) + white noise, and its
``gaussian_ei`` / ``gaussian_lcb`` acquisitions) but spends the effort only where it pays:

* **Kernel hyperparameters are fitted only when the data has grown** by ``refit_growth``
  (10, 13, 17, 22, ... told trials), on the first ``m`` trials told. Between two fits the GP
  is conditioned on all the data with the kernel held fixed: one Cholesky factorisation,
  milliseconds for a few hundred trials.
* **The acquisition is maximised by scoring** ``n_candidates`` random points of the space plus
  three rounds of local perturbations around the best few: a few thousand vectorised
  predictions, no gradient restarts.
* **A batch takes one kernel**: after each chosen point the GP is conditioned on a lie at that
  point (``cl_min`` by default, as scikit-optimize's ``cl_min``; or ``cl_mean``, ``cl_max``,
  or ``believer``: the GP's own mean) with the kernel fixed, so the next point goes elsewhere.

A proposal is a pure function of the study seed and the trials told, in order: the
hyperparameters depend on the first ``m`` trials only, and every random draw comes from a
generator derived from the study seed and the number of trials told. A study that resumes
(told all its trials at once) therefore proposes exactly what the uninterrupted study would have.

scikit-optimize minimises, so the model sees ``-accuracy``; failed trials count as
``-FAILURE_SCORE``, a finite penalty that never puts NaN into the GP.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np
from scipy.linalg import cho_solve, cholesky
from threadpoolctl import threadpool_limits

from hpsearch.seeding import PARAMS, STRATEGY, rng_for
from hpsearch.space import IntUniform, LogUniform, SearchSpace, Uniform
from hpsearch.strategies.base import Strategy, score_of
from hpsearch.trial import TrialResult

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
# Jitter added to the kernel matrix's diagonal, as scikit-learn's default ``alpha``.
_JITTER = 1e-10


def fit_sizes(first: int, growth: float, upto: int) -> list[int]:
    """The told-trial counts at which kernel hyperparameters are fitted, up to ``upto``.

    Example:
        >>> fit_sizes(10, 1.25, 40)
        [10, 13, 17, 22, 28, 35]
    """
    sizes = [first]
    while True:
        nxt = max(sizes[-1] + 1, math.ceil(sizes[-1] * growth))
        if nxt > upto:
            return sizes
        sizes.append(nxt)


def _reflect(u: np.ndarray) -> np.ndarray:
    """Folds values back into [0, 1]; clipping would pile perturbed points up on the bounds."""
    u = np.abs(u)
    u = np.where(u > 1.0, 2.0 - u, u)
    return np.clip(u, 0.0, 1.0)


class _Posterior:
    """The GP conditioned on ``(X, y)`` with fixed kernel hyperparameters.

    ``predict(X, return_std=True)`` has the signature scikit-optimize's acquisition functions
    expect. The predictive variance takes one matrix product (BLAS) and a two-operand ``einsum``
    rather than the three-operand ``einsum`` of scikit-optimize's regressor, which is slow for
    thousands of points.
    """

    def __init__(self, signal: Any, noise: float, X: np.ndarray, y: np.ndarray) -> None:
        self.signal = signal
        self.X = X
        self.y_mean = float(np.mean(y))
        std = float(np.std(y))
        self.y_std = std if std > 0 else 1.0  # as scikit-learn's normalize_y
        K = signal(X)
        K[np.diag_indices_from(K)] += noise + _JITTER
        self.L = cholesky(K, lower=True, check_finite=False)
        self.alpha = cho_solve((self.L, True), (y - self.y_mean) / self.y_std, check_finite=False)
        self.K_inv = cho_solve((self.L, True), np.eye(len(y)), check_finite=False)

    def predict(self, X: np.ndarray, return_std: bool = False) -> Any:
        K_trans = self.signal(X, self.X)
        mean = K_trans @ self.alpha * self.y_std + self.y_mean
        if not return_std:
            return mean
        var = self.signal.diag(X) - np.einsum("ij,ij->i", K_trans @ self.K_inv, K_trans)
        return mean, np.sqrt(np.maximum(var, 0.0)) * self.y_std


class BayesStrategy(Strategy):
    """A Gaussian-process model of validation accuracy, asked ``batch_size`` points at a time.

    The first ``n_initial_points`` trials are random search's own draws for those trial
    numbers; then each batch comes from one GP (see the module docstring for how it stays
    cheap). The batch size is a setting of its own, not the number of workers, so the same seed
    proposes the same trials on 1 worker or 16.

    Args:
        space: The search space.
        seed: The study seed.
        n_trials: Trials planned.
        batch_size: Points proposed between two model updates.
        n_initial_points: Random points before the model takes over.
        acq_func: ``"EI"`` (expected improvement) or ``"LCB"`` (lower confidence bound).
        xi: EI's minimum improvement worth having, in accuracy units.
        kappa: LCB's weight on the predictive std.
        liar: The value a batch's pending points are assumed to score: ``"cl_min"``,
            ``"cl_mean"``, ``"cl_max"`` (the best, mean or worst score told, as
            scikit-optimize's constant liars) or ``"believer"`` (the GP's prediction).
        n_candidates: Random points scored per suggested point before local refinement.
        refit_growth: Kernel hyperparameters are fitted again when the trials told have
            grown by this factor since the last fit.

    Raises:
        ValueError: An option out of range.

    Example:
        >>> from hpsearch.space import default_space
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
    ) -> None:
        super().__init__(space, seed, n_trials)
        for option, value in (("batch_size", batch_size), ("n_initial_points", n_initial_points),
                              ("n_candidates", n_candidates)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{option} must be an integer >= 1, but got {value!r}")
        if acq_func not in ACQ_FUNCS:
            raise ValueError(f"acq_func must be one of {list(ACQ_FUNCS)}, but got {acq_func!r}")
        if liar not in LIARS:
            raise ValueError(f"liar must be one of {list(LIARS)}, but got {liar!r}")
        for option, value in (("xi", xi), ("kappa", kappa)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                math.isfinite(value) and value >= 0
            ):
                raise ValueError(f"{option} must be a finite number >= 0, but got {value!r}")
        if isinstance(refit_growth, bool) or not isinstance(refit_growth, (int, float)) or not (
            math.isfinite(refit_growth) and refit_growth > 1
        ):
            raise ValueError(f"refit_growth must be a finite number > 1, but got {refit_growth!r}")

        from skopt.space import Categorical, Integer, Space
        from skopt.utils import normalize_dimensions

        self.batch_size = batch_size
        self.n_initial_points = n_initial_points
        self.acq_func = acq_func
        self.xi = float(xi)
        self.kappa = float(kappa)
        self.liar = liar
        self.n_candidates = n_candidates
        self.refit_growth = float(refit_growth)

        # The unit cube the GP works in: log dimensions in log scale, ints normalised,
        # categoricals one-hot (one column for two choices).
        self._sk = Space(normalize_dimensions(space.to_skopt()))
        self._blocks: list[tuple[str, int, int, Any]] = []  # kind, first column, width, extra
        col = 0
        for dim in self._sk.dimensions:
            width = dim.transformed_size
            if isinstance(dim, Categorical):
                table = np.asarray(dim.transform(list(dim.categories)), dtype=float).reshape(-1, width)
                self._blocks.append(("cat", col, width, table))
            elif isinstance(dim, Integer):
                self._blocks.append(("int", col, width, dim.high - dim.low))
            else:
                self._blocks.append(("real", col, width, None))
            col += width
        self._n_cols = col

        self._X = np.empty((0, col))
        self._y = np.empty(0)
        self._kernel: tuple[int, Any, float] | None = None  # (fitted on m trials, signal, noise)

    # ------------------------------------------------------------------ interface
    def tell(self, trials: Sequence[TrialResult]) -> None:
        if not trials:
            return
        Xt = np.asarray(self._sk.transform([self.space.to_list(t.params) for t in trials]), dtype=float)
        self._X = np.vstack([self._X, Xt.reshape(len(trials), self._n_cols)])
        self._y = np.concatenate([self._y, [-score_of(t) for t in trials]])

    def ask(self, numbers: Sequence[int]) -> list[dict[str, Any]]:
        numbers = list(numbers)
        n = len(self._y)
        # A GP needs at least two points; before n_initial_points it is not trusted yet.
        n_random = len(numbers) if n < 2 else min(len(numbers), max(0, self.n_initial_points - n))
        out = [self.space.sample(rng_for(self.seed, number, PARAMS)) for number in numbers[:n_random]]
        if n_random < len(numbers):
            # One BLAS thread: these matrices are small, the workers keep the cores busy, and
            # a second thread fighting them for a core made asks several times slower.
            # Sums in a fixed order also keep the proposals reproducible.
            with threadpool_limits(limits=1, user_api="blas"):
                out.extend(self._model_batch(len(numbers) - n_random, taken=out))
        return out

    def settings(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batch_size": self.batch_size,
            "n_initial_points": self.n_initial_points,
            "acq_func": self.acq_func,
            "xi": self.xi,
            "kappa": self.kappa,
            "liar": self.liar,
            "n_candidates": self.n_candidates,
            "refit_growth": self.refit_growth,
        }

    # ------------------------------------------------------------------ the model
    def _fitted_kernel(self) -> tuple[Any, float]:
        """Kernel hyperparameters fitted on the first ``m`` trials, ``m`` the last fit size <= n.

        The first fit is scikit-optimize's own (three L-BFGS starts); each later one starts from
        the hyperparameters of the fit before it, which are close, plus one random start. The chain
        of fits depends on the data alone, so a resumed study replays it to the same kernel.
        """
        n = len(self._y)
        sizes = fit_sizes(max(2, min(self.n_initial_points, n)), self.refit_growth, n)
        if self._kernel is not None and self._kernel[0] == sizes[-1]:
            return self._kernel[1], self._kernel[2]
        if self._kernel is None or self._kernel[0] not in sizes:
            self._kernel = None
            todo = sizes
        else:
            todo = sizes[sizes.index(self._kernel[0]) + 1 :]
        for m in todo:
            self._kernel = (m, *self._fit_kernel(m))
        return self._kernel[1], self._kernel[2]

    def _fit_kernel(self, m: int) -> tuple[Any, float]:
        from sklearn.base import clone
        from skopt.learning.gaussian_process.kernels import WhiteKernel
        from skopt.utils import cook_estimator

        seed_seq = np.random.SeedSequence(self.seed, spawn_key=(*STRATEGY, _FIT, m, 0))
        gp = cook_estimator(
            "GP", space=self.space.to_skopt(), noise="gaussian",
            random_state=int(seed_seq.generate_state(1)[0] % (2**31)),
        )
        if self._kernel is not None:
            _, signal, noise = self._kernel
            warm = clone(signal) + WhiteKernel(noise)
            # Start inside the bounds: from a bound L-BFGS-B may never leave it. One random
            # restart besides the warm start keeps a stale optimum from holding on for good.
            bounds = warm.bounds
            warm = warm.clone_with_theta(np.clip(warm.theta, bounds[:, 0] + 1.0, bounds[:, 1] - 1.0))
            gp.set_params(kernel=warm, n_restarts_optimizer=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # L-BFGS stopping at a bound is expected, not news
            gp.fit(self._X[:m], self._y[:m])
        # scikit-optimize zeroes the fitted white noise in kernel_ and keeps it in noise_.
        return gp.kernel_.k1, float(gp.noise_) if gp.noise_ is not None else 0.0

    def _acquisition(self, post: _Posterior, y_opt: float):
        from skopt.acquisition import gaussian_ei, gaussian_lcb

        if self.acq_func == "EI":
            return lambda Z: gaussian_ei(Z, post, y_opt=y_opt, xi=self.xi)
        return lambda Z: -gaussian_lcb(Z, post, kappa=self.kappa)

    def _model_batch(self, count: int, taken: list[dict[str, Any]]) -> list[dict[str, Any]]:
        n = len(self._y)
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(*STRATEGY, _ASK, n, 0)))
        signal, noise = self._fitted_kernel()
        X, y = self._X, self._y
        pool = self._sample_unit(rng, self.n_candidates)
        chosen: list[dict[str, Any]] = []
        for _ in range(count):
            post = _Posterior(signal, noise, X, y)
            acq = self._acquisition(post, float(np.min(y)))
            point, params = self._maximise(acq, pool, rng, exclude=taken + chosen)
            chosen.append(params)
            if self.liar == "believer":
                lie = float(post.predict(point[None, :])[0])
            else:
                lie = {"cl_min": np.min, "cl_mean": np.mean, "cl_max": np.max}[self.liar](y)
            X = np.vstack([X, point[None, :]])
            y = np.append(y, lie)
        return chosen

    def _maximise(self, acq, pool: np.ndarray, rng: np.random.Generator,
                  exclude: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, Any]]:
        """The best point found: the pool, then local perturbations around its best few."""
        pool_scores = acq(pool)
        points, scores = pool, pool_scores
        for sigma in _LOCAL_SIGMAS:
            best = np.argsort(-scores, kind="stable")[:_LOCAL_TOP]
            local = self._perturb(np.repeat(points[best], _LOCAL_PER_TOP, axis=0), sigma, rng)
            points = np.vstack([points[best], local])
            scores = np.concatenate([scores[best], acq(local)])
        # Best first; the refined points, then the whole pool, as fall-backs for a duplicate.
        ranked = np.vstack([points[np.argsort(-scores, kind="stable")],
                            pool[np.argsort(-pool_scores, kind="stable")]])
        first = None
        for point in ranked:
            params = self._to_params(point)
            if first is None:
                first = (point, params)
            if params not in exclude:
                return point, params
        return first  # a small discrete space with every point taken: repeat the best

    # ------------------------------------------------------------------ the unit cube
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
        Z = Z.copy()
        count = Z.shape[0]
        for kind, col, width, extra in self._blocks:
            if kind == "real":
                Z[:, col] = _reflect(Z[:, col] + sigma * rng.standard_normal(count))
            elif kind == "int":
                moved = _reflect(Z[:, col] + sigma * rng.standard_normal(count))
                Z[:, col] = np.round(moved * extra) / extra
            else:
                switch = rng.random(count) < sigma
                Z[switch, col : col + width] = extra[rng.integers(len(extra), size=int(switch.sum()))]
        return Z

    def _to_params(self, point: np.ndarray) -> dict[str, Any]:
        values = self._sk.inverse_transform(point[None, :])[0]
        params = self.space.from_list(values)
        for name, dim in self.space.items():
            # The inverse of the log transform can land a rounding error outside the bounds.
            if isinstance(dim, (Uniform, LogUniform)):
                params[name] = float(min(max(params[name], dim.low), dim.high))
            elif isinstance(dim, IntUniform):
                params[name] = int(min(max(params[name], dim.low), dim.high))
        return params
