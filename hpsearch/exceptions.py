"""The errors a study raises to its caller, and how an error is said in one line, in one leaf that
every subpackage may import."""

from __future__ import annotations

import signal

__all__ = [
    "ClusterLost",
    "ObjectiveError",
    "StudyError",
    "StudyInterrupted",
    "TrialDiverged",
    "TrialEnded",
    "TrialTimedOut",
    "first_line",
]


def first_line(exc: BaseException) -> str:
    """An exception as one line: its message's first line, or its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class StudyError(ValueError):
    """A study cannot be created, opened or resumed as asked."""


class StudyInterrupted(KeyboardInterrupt):
    """Raised by :meth:`hpsearch.Study.optimize` after SIGINT or SIGTERM, once finished work is
    saved.

    Attributes:
        signum: The signal received.
        exit_code: The conventional shell status: 128 + signum (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.exit_code = 128 + signum


class ClusterLost(StudyError):
    """The connection to the scheduler broke during a study (one line, as the CLI prints it)."""


class ObjectiveError(StudyError):
    """The user's objective cannot be loaded, or returned what no trial can be ranked by.

    A mistake in the objective's own code (an exception in a trial) is not this: that trial is
    FAILED and the study goes on.
    """


class TrialEnded(Exception):
    """Raised by an objective to end its trial early in a named state, with a message.

    The epochs reported so far are kept, and so are the final ``metrics`` given here (measured
    after the last epoch trained). Raise a subclass: :class:`TrialDiverged` or
    :class:`TrialTimedOut`.

    Attributes:
        state: The trial's state, by name.
        metrics: Final values, as an objective would return them.
    """

    state = "FAILED"

    def __init__(self, message: str, **metrics: float) -> None:
        super().__init__(message)
        self.metrics = metrics


class TrialDiverged(TrialEnded):
    """The training blew up (a NaN or infinite loss): the trial is DIVERGED with this message.

    Example:
        >>> def objective(trial):  # doctest: +SKIP
        ...     if not np.isfinite(loss):
        ...         raise TrialDiverged(f"loss became {loss} at epoch {epoch}")
    """

    state = "DIVERGED"


class TrialTimedOut(TrialEnded):
    """The trial ran out of its time before its last epoch: it is TIMEOUT with this message."""

    state = "TIMEOUT"
