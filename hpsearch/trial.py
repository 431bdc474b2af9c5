"""What an objective is called with and what it may answer: the contract of ``objective(trial)``.

One place to learn it: :class:`Trial` (the handle: params, seed, epochs, data, reports,
checkpoints), :class:`TrialData` (the split, as NumPy arrays), :class:`ObjectiveState` (what a
paused trial keeps between rungs), and the rules for return values (:func:`final_metrics`,
:func:`check_accuracies`). An objective ends a trial early with
:class:`~hpsearch.exceptions.TrialDiverged` or :class:`~hpsearch.exceptions.TrialTimedOut`.
The records a trial leaves are :mod:`hpsearch.records`.
"""

from __future__ import annotations

import json
import math
import numbers
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpsearch.exceptions import ObjectiveError, TrialTimedOut
from hpsearch.records import SCORES

__all__ = [
    "ObjectiveState",
    "Trial",
    "TrialData",
    "check_accuracies",
    "final_metrics",
    "global_generators",
]


@dataclass(frozen=True)
class ObjectiveState:
    """A paused trial's state kept by its objective (:meth:`Trial.set_checkpoint`), with the
    epochs it reported so far; stored with :func:`numpy.savez`, without pickle."""

    number: int
    state: dict[str, Any]
    reports: tuple[dict[str, float], ...]
    #: The global ``np.random`` and ``random`` generators' state when the rung ended (see
    #: :func:`global_generators`), so the next rung draws what an unbroken run would draw.
    generators: Mapping[str, np.ndarray] | None = None

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for :func:`numpy.savez`; :meth:`from_arrays` reads them back.

        Raises:
            ValueError: The state is not a mapping of names to arrays and JSON-ready values.
        """
        if not isinstance(self.state, Mapping):
            raise ValueError(
                "trial.set_checkpoint takes a dict of arrays and JSON-ready values, "
                f"not {type(self.state).__name__}"
            )
        arrays = {f"state/{k}": v for k, v in self.state.items() if isinstance(v, np.ndarray)}
        values = {str(k): v for k, v in self.state.items() if not isinstance(v, np.ndarray)}
        meta = {"number": self.number, "values": values, "reports": list(self.reports)}
        try:
            text = json.dumps(meta, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"trial.set_checkpoint: keep arrays and JSON-ready values only ({exc})"
            ) from None
        generators = {f"generators/{k}": v for k, v in (self.generators or {}).items()}
        return {"__state__": np.array(text), **arrays, **generators}

    @classmethod
    def from_arrays(cls, data: Mapping[str, np.ndarray]) -> ObjectiveState:
        meta = json.loads(str(data["__state__"]))
        state = {**meta["values"], **{k[6:]: data[k] for k in data if k.startswith("state/")}}
        generators = {k[11:]: data[k] for k in data if k.startswith("generators/")}
        return cls(meta["number"], state, tuple(meta["reports"]), generators or None)


def global_generators(state: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The state of the global ``np.random`` and ``random`` generators, as arrays; given a
    ``state`` such as this returns, puts the generators back in it first."""
    if state is not None:
        keys, numbers_ = state["np_keys"], state["np_numbers"]
        np.random.set_state(("MT19937", keys, int(numbers_[0]), int(numbers_[1]), numbers_[2]))
        internal = tuple(int(v) for v in state["py_internal"])
        gauss = state["py_gauss"]
        random.setstate((3, internal, float(gauss[1]) if gauss[0] else None))
    _, now_keys, pos, has_gauss, cached = np.random.get_state()
    _, now_internal, gauss_next = random.getstate()
    return {
        "np_keys": np.asarray(now_keys, dtype=np.uint32),
        "np_numbers": np.array([pos, has_gauss, cached], dtype=np.float64),
        "py_internal": np.array(now_internal, dtype=np.uint64),
        "py_gauss": np.array([gauss_next is not None, gauss_next or 0.0], dtype=np.float64),
    }


@dataclass(frozen=True)
class TrialData:
    """The study's split, as NumPy arrays, handed to an objective as ``trial.data``.

    Images are one flat row each, float32 (or the study's ``dtype``): bytes (MNIST,
    Fashion-MNIST, a uint8 .npz) divided by 255, the digits' counts 0..16 divided by 16, a
    float .npz's values as given. Labels are int64 class numbers. The arrays are read-only
    (shared by the trials a process runs); :meth:`load_mnist` gives copies in the book's shapes.
    ``x_test`` and ``t_test`` are None in the search, so that the test part chooses nothing;
    confirm-stage runs get them.
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_val: np.ndarray
    t_val: np.ndarray
    x_test: np.ndarray | None = None
    t_test: np.ndarray | None = None

    def __post_init__(self) -> None:
        # The split is cached per process and handed to every trial it runs: an in-place change
        # (centring, say) would reach the next trials. Read-only, it fails the trial that tries.
        for name in ("x_train", "t_train", "x_val", "t_val", "x_test", "t_test"):
            array = getattr(self, name)
            if array is not None:
                array.flags.writeable = False

    @property
    def input_size(self) -> int:
        """Features of one image (784 for flat MNIST)."""
        return int(self.x_train.shape[1])

    @property
    def n_classes(self) -> int:
        """Classes the labels of the training and validation parts name (the largest, plus one)."""
        return int(max(t.max() for t in (self.t_train, self.t_val) if len(t))) + 1

    def load_mnist(
        self,
        normalize: bool = True,
        flatten: bool = True,
        one_hot_label: bool = False,
        *,
        test: bool = False,
    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """The split as the book's ``dataset.mnist.load_mnist`` gives MNIST, in new arrays.

        ``(x_train, t_train), (x_val, t_val)``: the validation part stands where the book's
        test part stood, so book code changes only its ``load_mnist`` line. The stored arrays
        are never changed.

        Args:
            normalize: Images as the split holds them (0..1 floats for byte images and the
                digits; a float .npz's values as given). False: byte images as uint8 0..255,
                images in 0..1 that are not bytes (the digits) as floats on the 0..255 scale.
            flatten: One row per image; False: ``(N, 1, side, side)``, one channel.
            one_hot_label: Labels as float rows of :attr:`n_classes` columns (a single 1);
                False: int64 class numbers.
            test: ``(x_test, t_test)`` in place of the validation part: in confirm runs only.

        Raises:
            ValueError: ``test`` in the search, ``flatten=False`` for images that are not
                square, ``normalize=False`` for float images outside 0..1, or one-hot test
                labels of a class the training and validation parts do not name.
        """
        call = "trial.data.load_mnist"
        if test and (self.x_test is None or self.t_test is None):
            raise ValueError(
                f"{call}(test=True): no test part here (trial.data.x_test is None); it is "
                "given in confirm runs only, so that it chooses nothing, and the digits have none"
            )
        x_other, t_other = (self.x_test, self.t_test) if test else (self.x_val, self.t_val)
        assert x_other is not None and t_other is not None  # for mypy: checked above
        xs = [self.x_train, x_other]
        xs = [x.copy() for x in xs] if normalize else _on_byte_scale(xs, call)
        if not flatten:
            size = self.input_size
            side = math.isqrt(size)
            if side * side != size:
                raise ValueError(
                    f"{call}(flatten=False): images of {size} values are not square "
                    "(side x side); use flatten=True"
                )
            xs = [x.reshape(len(x), 1, side, side) for x in xs]
        ts = [self.t_train.copy(), t_other.copy()]
        if one_hot_label:
            n = self.n_classes
            if len(t_other) and t_other.max() >= n:
                raise ValueError(
                    f"{call}(one_hot_label=True, test=True): test labels name class "
                    f"{int(t_other.max())}, but the training and validation parts only {n} "
                    "classes"
                )
            ts = [np.eye(n, dtype=self.x_train.dtype)[t] for t in ts]
        return (xs[0], ts[0]), (xs[1], ts[1])


def _on_byte_scale(xs: list[np.ndarray], call: str) -> list[np.ndarray]:
    """Images in 0..1 times 255: uint8 if all are whole bytes (scaled from bytes), else floats."""
    low = min(float(x.min(initial=0.0)) for x in xs)
    high = max(float(x.max(initial=0.0)) for x in xs)
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{call}(normalize=False): these float images are as the .npz gave them (from "
            f"{low:g} to {high:g}, not 0..1), so they have no 0..255 form; use normalize=True"
        )
    scaled = [x * x.dtype.type(255) for x in xs]
    whole = [np.rint(x) for x in scaled]
    # Bytes divided by 255 come back within float32 rounding; the digits' k/16 do not.
    if all(np.abs(x - w).max(initial=0.0) < 1e-3 for x, w in zip(scaled, whole, strict=True)):
        return [w.astype(np.uint8) for w in whole]
    return scaled


class Trial:
    """What an objective is called with: one run's params, seed, budget, data and reporter.

    Before the call, hpsearch has seeded the global ``np.random`` and ``random`` generators
    from :attr:`seed`, in whichever process runs it, so book-style code that draws from
    ``np.random`` gives the same numbers with any number of workers and after a resume.

    Attributes:
        params: The searched values and the study's fixed ones (``--set NAME=VALUE``,
            ``Settings.fixed``), by name (a dict).
        number: The trial number within the study (0-based).
        repeat: 0 in the search; 1, 2, ... in confirm-stage runs.
        seed: An int derived from the study seed, the trial number and the repeat.
        epochs: Train up to this epoch in this call: the study's epochs, or under pruning the
            rung's budget (a trial continued from :attr:`checkpoint` has trained some already).
        data: The split (:class:`TrialData`). For a refit run (:attr:`refit`) the validation
            images are part of the training arrays and the validation arrays are empty.
        refit: A confirm-stage run that trains on the training and validation images together.
        test_curve: The study asks for the test score after every epoch (``test_acc`` in
            :meth:`report`), where the objective can give it.
        checkpoint: What this trial's previous rung kept with :meth:`set_checkpoint` (under
            pruning), or None: train from scratch.

    Example:
        >>> def objective(trial):  # doctest: +SKIP
        ...     net = TwoLayerNet(784, 50, 10)
        ...     for epoch in range(trial.epochs):
        ...         train_one_epoch(net, trial.data.x_train, trial.data.t_train, trial.params["lr"])
        ...         trial.report(epoch, val_acc=net.accuracy(trial.data.x_val, trial.data.t_val))
        ...     return net.accuracy(trial.data.x_val, trial.data.t_val)
    """

    def __init__(
        self,
        number: int,
        params: Mapping[str, Any],
        seed: int,
        epochs: int,
        data: TrialData,
        repeat: int = 0,
        *,
        refit: bool = False,
        test_curve: bool = False,
        checkpoint: Any = None,
        stream: np.random.SeedSequence | None = None,
    ) -> None:
        self.number = number
        self.params: dict[str, Any] = dict(params)
        self.seed = seed
        self.epochs = epochs
        self.data = data
        self.repeat = repeat
        self.refit, self.test_curve = refit, test_curve
        #: What :meth:`report` was told, one dict per epoch reported, in order.
        self.reports: list[dict[str, float]] = []
        if isinstance(checkpoint, ObjectiveState):
            self.reports = [dict(r) for r in checkpoint.reports]
            checkpoint = checkpoint.state
        self.checkpoint = checkpoint
        #: What :meth:`set_checkpoint` was given in this call.
        self.kept: Any = None
        self._stream = stream
        #: ``time.monotonic()`` past which :meth:`report` ends the trial TIMEOUT (the study's
        #: time limit; None: none).
        self.deadline: float | None = None
        self._rng: np.random.Generator | None = None

    @property
    def rng(self) -> np.random.Generator:
        """This run's own generator (one per trial and repeat, from the study seed): the
        built-in network draws its initial weights and batch order from it."""
        if self._rng is None:
            self._rng = np.random.default_rng(self.seed if self._stream is None else self._stream)
        return self._rng

    def report(self, epoch: int, **metrics: float) -> None:
        """Records per-epoch values (``train_acc``, ``val_acc``, ``loss`` or any name); they
        feed ``curves.csv``, the Best-N grid and the progress bar.

        Reporting an epoch again (a rung that retrains from scratch) replaces it and every
        later one.

        Past the study's time limit (``--time-limit``), the epoch is kept and the trial ends
        TIMEOUT here: a function that reports each epoch stops in time by itself (one that
        never returns is stopped by the study, its worker replaced).

        Raises:
            ValueError: A value is not a number.
            TrialTimedOut: The time limit has passed.
        """
        row: dict[str, float] = {"epoch": float(epoch)}
        for name, value in metrics.items():
            try:
                row[name] = float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"trial.report({name}=...) takes numbers, but got {type(value).__name__}"
                ) from None
        while self.reports and self.reports[-1]["epoch"] >= row["epoch"]:
            self.reports.pop()
        self.reports.append(row)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TrialTimedOut(f"past the study's time limit after epoch {epoch:g}")

    def set_checkpoint(self, state: Any) -> None:
        """Keeps ``state`` for this trial's next rung under pruning (it gets it back as
        :attr:`checkpoint`), in the study folder, so a resumed study continues from it too.

        Args:
            state: A mapping of names to NumPy arrays and JSON-ready values (numbers, strings,
                lists, dicts): what the objective needs to continue training, such as weights
                and the optimizer's moments. It is stored without pickle.

        Raises:
            ValueError: ``state`` is not such a mapping.
        """
        ObjectiveState(self.number, state, ()).to_arrays()  # checks that it can be stored
        self.kept = state

    def saved(self) -> ObjectiveState | None:
        """What the study stores for the next rung: the kept state and the epochs reported."""
        if self.kept is None:
            return None
        return ObjectiveState(
            self.number, dict(self.kept), tuple(self.reports), global_generators()
        )

    def curve(self, name: str) -> tuple[float, ...]:
        """The values reported under ``name``, epoch by epoch."""
        return tuple(r[name] for r in self.reports if name in r)

    def __repr__(self) -> str:
        return f"Trial(number={self.number}, repeat={self.repeat}, params={self.params})"


def final_metrics(value: Any, metric: str, ref: str, required: bool) -> dict[str, float]:
    """The final metrics an objective returned: a number (the study's ``metric``) or a mapping
    of numbers, which must hold the metric where it is ``required`` (not in a refit run, which
    has no validation images).

    Raises:
        ObjectiveError: Anything else, in one line naming the objective ``ref``.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return {metric: float(value)}
    if isinstance(value, Mapping):
        out = {}
        for key, v in value.items():
            if not isinstance(v, numbers.Real) or isinstance(v, bool):
                raise ObjectiveError(
                    f"objective {ref} returned {key}={v!r}: expected a number for each metric"
                )
            out[str(key)] = float(v)
        if required and metric not in out:
            raise ObjectiveError(
                f"objective {ref} returned {sorted(out)}, without the metric {metric!r}"
            )
        return out
    raise ObjectiveError(
        f"objective {ref} returned {type(value).__name__}: expected a number ({metric}) or "
        f"a mapping of metrics that includes {metric!r}"
    )


def check_accuracies(metrics: Mapping[str, float], ref: str) -> None:
    """Refuses an accuracy outside 0..1 (a percentage, say): every report gives accuracies an
    interval on their set size, which only a share can have.

    Raises:
        ObjectiveError: ``val_acc``, ``train_acc`` or ``test_acc`` is finite and outside 0..1.
    """
    for name in SCORES:
        value = metrics.get(name)
        if value is not None and math.isfinite(value) and not 0.0 <= value <= 1.0:
            # A percentage gets its share; any other value (negative, over 100) only the rule.
            hint = f" (return {value / 100:g} for {value:g}%)" if 1.0 < value <= 100.0 else ""
            raise ObjectiveError(
                f"objective {ref} returned {name}={value:g}: accuracies are shares in 0..1"
                f"{hint}, or rank by another metric name with --metric"
            )
