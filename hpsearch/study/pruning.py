"""Early stopping of poor trials: synchronous successive halving and Hyperband over epochs.

Pure schedule arithmetic: which trial numbers form each bracket, at which epochs its rungs
stand, and who goes on from a rung. Promotions wait for every trial of the rung (synchronous),
so the outcome never depends on the number of workers or on timing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpsearch.records import Goal, TrialResult

__all__ = ["PRUNERS", "Bracket", "Pruning", "pruning_summary", "rungs_for", "survivors"]

PRUNERS = ("none", "halving", "hyperband")


def rungs_for(epochs: int, min_epochs: int, eta: int) -> list[int]:
    """Rung epochs ``round(epochs / eta**k)`` for k = K..0, the smallest at least ``min_epochs``.

    Example:
        >>> rungs_for(50, 5, 3)
        [6, 17, 50]
    """
    rungs = [epochs]
    k = 1
    while True:
        r = int(round(epochs / eta**k))
        if r < min_epochs or r >= rungs[0]:
            break
        rungs.insert(0, r)
        k += 1
    return rungs


@dataclass(frozen=True)
class Bracket:
    """Trials that start together and are halved at each rung."""

    numbers: tuple[int, ...]
    rungs: tuple[int, ...]


def survivors(
    at_rung: Sequence[TrialResult], n_started: int, eta: int, goal: Goal | None = None
) -> list[int]:
    """The trial numbers that go on from a rung: the best ``n_started // eta`` (at least one).

    Trials are ordered by validation accuracy at the rung, ties to the lower trial number;
    trials without a score (diverged, failed) never go on.
    """
    aim = goal or Goal()
    values = [(aim.of(t), t.number) for t in at_rung]
    scored = [(v, number) for v, number in values if v is not None]
    scored.sort(key=lambda s: (aim.key(s[0]), s[1]))
    keep = max(1, n_started // eta)
    return sorted(number for _, number in scored[:keep])


@dataclass(frozen=True)
class Pruning:
    """The pruning settings of a study.

    Args:
        kind: ``"none"``, ``"halving"`` or ``"hyperband"``.
        min_epochs: The fewest epochs a trial trains before it can be stopped.
        eta: The reduction factor: a rung keeps the best 1/eta.
    """

    kind: str = "none"
    min_epochs: int = 5
    eta: int = 3

    def __post_init__(self) -> None:
        if self.kind not in PRUNERS:
            raise ValueError(f"prune must be one of {list(PRUNERS)}, but got {self.kind!r}")
        if (
            isinstance(self.min_epochs, bool)
            or not isinstance(self.min_epochs, int)
            or self.min_epochs < 1
        ):
            raise ValueError(f"min_epochs must be a positive integer, but got {self.min_epochs!r}")
        if isinstance(self.eta, bool) or not isinstance(self.eta, int) or self.eta < 2:
            raise ValueError(f"reduction_factor must be an integer >= 2, but got {self.eta!r}")

    @property
    def active(self) -> bool:
        return self.kind != "none"

    def check(self, epochs: int) -> None:
        """Refuses pruning that could never stop a trial with ``epochs`` epochs.

        Raises:
            ValueError: No rung stands before the last epoch.
        """
        if self.active and len(rungs_for(epochs, self.min_epochs, self.eta)) < 2:
            raise ValueError(
                f"prune={self.kind!r} would stop nothing: its first rung needs at least min_epochs="
                f"{self.min_epochs} epochs and a rung before the last one needs about min_epochs x "
                f"reduction_factor = {self.min_epochs * self.eta} epochs, but epochs={epochs}; "
                "train longer, lower min_epochs, or do not prune"
            )

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "min_epochs": self.min_epochs, "eta": self.eta}

    def brackets(
        self, n_trials: int, epochs: int, bracket_size: int | None = None
    ) -> list[Bracket]:
        """Trial numbers ``0 .. n_trials - 1`` laid into brackets.

        Args:
            n_trials: Trials planned.
            epochs: Epochs of a trial that is never stopped.
            bracket_size: For halving, trials per bracket (None: all in one bracket).
        """
        rungs = rungs_for(epochs, self.min_epochs, self.eta)
        out: list[Bracket] = []
        start = 0
        if self.kind == "halving":
            size = bracket_size or n_trials
            while start < n_trials:
                stop = min(start + size, n_trials)
                out.append(Bracket(tuple(range(start, stop)), tuple(rungs)))
                start = stop
            return out
        # Hyperband: brackets from the most aggressive (start at the first rung) to none.
        top = len(rungs) - 1
        while start < n_trials:
            for s in range(top, -1, -1):
                n = math.ceil((top + 1) / (s + 1) * self.eta**s)
                stop = min(start + n, n_trials)
                out.append(Bracket(tuple(range(start, stop)), tuple(rungs[top - s :])))
                start = stop
                if start >= n_trials:
                    break
        return out


def pruning_summary(
    kind: str, trained: int, full: int, *, own: bool, kept_checkpoints: bool
) -> str:
    """One line on what pruning saved: epochs trained of those a study without it would train.

    For an own objective the count is of the epochs its trials stopped at; what they cost
    depends on whether the function kept a checkpoint between rungs (``kept_checkpoints``: at
    least one rung stored one, see :meth:`hpsearch.trial.Trial.set_checkpoint`): with one, each
    rung went on from the last; with none, each rung trained again from scratch.

    Example:
        >>> pruning_summary("halving", 26, 108, own=False, kept_checkpoints=False)
        'pruning (halving): 26 epochs trained of 108 without pruning (24%)'
    """
    share = f"{trained / full:.0%}" if full else "-"
    if not own:
        return f"pruning ({kind}): {trained} epochs trained of {full} without pruning ({share})"
    how = (
        "the objective keeps a checkpoint (trial.set_checkpoint), so each rung goes on from "
        "the last"
        if kept_checkpoints
        else "the objective keeps no checkpoint (trial.set_checkpoint), so each rung trains "
        "again from scratch"
    )
    return (
        f"pruning ({kind}): trials stopped at {trained} epochs in all, of {full} without "
        f"pruning ({share}); {how}"
    )
