"""The study folder: a JSON definition, append-only JSON Lines logs, and paused trials' checkpoints.

Everything is JSON; nothing is ever unpickled. Each finished trial is one line, flushed and
fsynced before the study moves on, so a crash loses at most the trial being written, and a
torn last line is dropped with a warning when the log is read back.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np

from hpsearch.exceptions import StudyError
from hpsearch.records import RepeatResult, TrialResult
from hpsearch.storage.definition import Definition
from hpsearch.storage.fields import proposal_from_line, repeat_from_line, trial_from_line
from hpsearch.storage.files import replacing, write_text
from hpsearch.storage.jsonl import append_record, read_log
from hpsearch.storage.lock import hold_lock, refuse_if_locked
from hpsearch.trial import ObjectiveState

__all__ = ["StudyStorage", "validate_name", "DEFINITION", "TRIAL_LOG", "REPEAT_LOG", "LOGS"]

DEFINITION = "study.json"
TRIAL_LOG = "trials.jsonl"
RUNG_LOG = "rungs.jsonl"
REPEAT_LOG = "repeats.jsonl"
ASKED_LOG = "asked.jsonl"
CHECKPOINTS = "checkpoints"
# The logs: the records of a study, which mean something only beside its definition.
LOGS = (TRIAL_LOG, ASKED_LOG, RUNG_LOG, REPEAT_LOG)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME = 100  # file systems allow 255 bytes; a longer name is a mistake, not a study


def _first_of_each(
    records: list[Any],
    key: Callable[[Any], Any],
    path: Path,
    what: str,
    completes: Callable[[Any, Any], bool] | None = None,
) -> dict[Any, Any]:
    """The first record of each key, in the order written; a warning names the keys found twice.

    ``completes(first, later)``: a later record that completes the first (the same run made
    again with the same seed for what the first lacks) takes its place, without a warning.
    """
    first: dict[Any, Any] = {}
    doubled: list[Any] = []
    for record in records:
        k = key(record)
        if k in first and completes is not None and completes(first[k], record):
            first[k] = record
        elif k in first:
            doubled.append(k)
        else:
            first[k] = record
    if doubled:
        shown = ", ".join(str(k[0] if isinstance(k, tuple) else k) for k in doubled[:10])
        more = f" and {len(doubled) - 10} more" if len(doubled) > 10 else ""
        warnings.warn(
            f"{path}: {len(doubled)} {what} record(s) written twice (trial {shown}{more}); "
            "the first record of each is kept",
            stacklevel=3,
        )
    return first


def _adds_test_curve(first: RepeatResult, later: RepeatResult) -> bool:
    """Whether ``later`` is ``first`` made again for its test curve (a comparison does that to
    a confirm run without one): the same run, scores and all, plus the curve."""
    if first.test_curve or not later.test_curve:
        return False
    # What the curve brings (its best point) and the wall time may differ; nothing else may.
    plain = dataclasses.replace(
        later,
        test_curve=first.test_curve,
        best_test_acc=first.best_test_acc,
        seconds=first.seconds,
    )
    return plain == first


def validate_name(name: str) -> str:
    """Returns ``name`` if it is a plain folder name.

    Raises:
        StudyError: The name is empty, has a path separator, or starts with a dot.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise StudyError(
            f"name must be a plain folder name of at most {MAX_NAME} letters, digits, '.', '_' "
            f"or '-', not starting with '.' or '-', but got {name!r}"
        )
    return name


def _finished(data: Mapping[str, Any]) -> tuple[int, float | None]:
    finished = data.get("finished")
    return int(data["number"]), float(finished) if isinstance(finished, (int, float)) else None


class StudyStorage:
    """One study's folder, ``<root>/<name>/``.

    Args:
        root: The studies folder.
        name: The study name (a plain folder name).

    Raises:
        StudyError: The name is not a plain folder name.

    Example:
        >>> import tempfile
        >>> s = StudyStorage(tempfile.mkdtemp(), "demo")
        >>> s.exists()
        False
    """

    def __init__(self, root: str | os.PathLike[str], name: str) -> None:
        self.name = validate_name(name)
        self.root = Path(root)
        self.path = self.root / name
        # The nearest folder that exists must be a folder, for the study's folders to be made in it.
        for folder in (self.path, self.root, *self.root.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise StudyError(
                        f"{folder} is a file, not a folder: choose another --out or name"
                    )
                break

    @property
    def definition_path(self) -> Path:
        return self.path / DEFINITION

    @property
    def log_path(self) -> Path:
        return self.path / TRIAL_LOG

    def exists(self) -> bool:
        """Whether the study was created: its definition is in the folder.

        Raises:
            StudyError: The folder holds logs without their definition (see :meth:`check_whole`).
        """
        if self.definition_path.exists():
            return True
        self.check_whole()
        return False

    def check_whole(self) -> None:
        """Refuses a folder whose logs have lost their definition: a damaged study.

        A new study started there would append its records to the old ones, two configurations
        mixed in one log, and a later report would rank them together.

        Raises:
            StudyError: A log is there and not empty, but ``study.json`` is missing.
        """
        if self.definition_path.exists():
            return
        held = [
            p.name for p in (self.path / name for name in LOGS) if p.is_file() and p.stat().st_size
        ]
        if not held:
            return
        what = f"it holds {', '.join(held)} but not {DEFINITION}, the definition they belong to"
        raise StudyError(
            f"study folder {self.path} is damaged: {what}; restore {DEFINITION} (from a backup), "
            "or move the folder away to start a new study under this name"
        )

    def read_definition(self) -> dict[str, Any]:
        """The stored definition.

        Raises:
            StudyError: The file is missing or not a JSON object.
        """
        try:
            data = json.loads(self.definition_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.check_whole()
            raise StudyError(f"no study at {self.path} (missing {DEFINITION})") from None
        except (OSError, ValueError) as exc:
            raise StudyError(f"corrupt study definition {self.definition_path}: {exc}") from None
        if not isinstance(data, dict):
            raise StudyError(
                f"corrupt study definition {self.definition_path}: expected a JSON object"
            )
        return data

    def definition(self) -> Definition:
        """The stored definition, read and checked (see :class:`Definition`).

        Raises:
            StudyError: The file is missing, not JSON, or not a definition.
        """
        return Definition.from_json(self.read_definition(), self.definition_path)

    def write_definition(self, definition: dict[str, Any]) -> None:
        """Writes the definition atomically and durably.

        Raises:
            StudyError: The folder holds logs of a study whose definition is lost.
        """
        self.check_whole()
        self.path.mkdir(parents=True, exist_ok=True)
        write_text(
            self.definition_path,
            json.dumps(definition, indent=2, sort_keys=True) + "\n",
            durable=True,
        )

    def load_trials(self, *, repair: bool = False) -> list[TrialResult]:
        """Every finished trial in the log, by trial number (read as
        :func:`hpsearch.storage.jsonl.read_log` reads a log).

        A trial recorded twice (which the study never does itself) is kept once, as first
        recorded, with a warning.
        """
        trials = _first_of_each(
            read_log(self.log_path, trial_from_line, repair=repair),
            lambda t: t.number,
            self.log_path,
            "trial",
        )
        return [trials[n] for n in sorted(trials)]

    def load_rungs(self, *, repair: bool = False) -> list[TrialResult]:
        """Every result of a trial paused at a rung (pruning), in the order written."""
        return read_log(self.path / RUNG_LOG, trial_from_line, repair=repair)

    def append_rung(self, trial: TrialResult) -> None:
        append_record(self.path / RUNG_LOG, trial.to_json())

    def load_repeats(self, *, repair: bool = False) -> list[RepeatResult]:
        """Every finished confirm-stage run, the first record of each (trial, repeat, refit)
        kept."""
        path = self.path / REPEAT_LOG
        runs = _first_of_each(
            read_log(path, repeat_from_line, repair=repair),
            lambda r: r.key,
            path,
            "confirm run",
            _adds_test_curve,
        )
        return list(runs.values())

    def append_repeat(self, run: RepeatResult) -> None:
        """Appends one finished confirm-stage run and makes it durable before returning."""
        append_record(self.path / REPEAT_LOG, run.to_json())

    def load_asked(self, *, repair: bool = False) -> dict[int, dict[str, Any]]:
        """The params the strategy proposed for each trial number, finished or not."""
        asked: dict[int, dict[str, Any]] = {}
        for number, params in read_log(self.path / ASKED_LOG, proposal_from_line, repair=repair):
            asked.setdefault(number, params)
        return asked

    def append_asked(self, proposals: Mapping[int, Mapping[str, Any]]) -> None:
        """Records proposals before they run, so that a resume runs the very same ones."""
        for number, params in proposals.items():
            append_record(self.path / ASKED_LOG, {"number": number, "params": dict(params)})

    def _checkpoint_path(self, number: int) -> Path:
        return self.path / CHECKPOINTS / f"{number}.npz"

    def save_checkpoint(self, checkpoint: ObjectiveState) -> None:
        (self.path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        with replacing(self._checkpoint_path(checkpoint.number)) as tmp:
            with open(tmp, "wb") as fh:
                # Any, not ndarray: savez's keyword ``allow_pickle`` is a bool, and mypy cannot
                # tell that no array is named so (they are ``__state__`` and ``state/*``).
                arrays: dict[str, Any] = checkpoint.to_arrays()
                np.savez(fh, **arrays)

    def load_checkpoint(self, number: int) -> ObjectiveState | None:
        """What paused trial ``number`` kept for its next rung (read without unpickling)."""
        path = self._checkpoint_path(number)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return ObjectiveState.from_arrays(arrays)

    def drop_checkpoint(self, number: int) -> None:
        self._checkpoint_path(number).unlink(missing_ok=True)

    def append(self, trial: TrialResult) -> None:
        """Appends one finished trial and makes it durable before returning; the line also
        holds when it was logged (``finished``, seconds since the epoch), which the record
        itself does not carry (a trial's record is the same whenever and wherever it ran)."""
        append_record(self.log_path, {**trial.to_json(), "finished": round(time.time(), 3)})

    def finish_times(self) -> dict[int, float]:
        """When each trial was logged (seconds since the epoch), for the trials whose line says.

        Example:
            >>> storage.finish_times()  # doctest: +SKIP
            {0: 1796000000.123, 1: 1796000000.456}
        """
        return {
            number: finished
            for number, finished in read_log(self.log_path, _finished)
            if finished is not None
        }

    def check_unlocked(self, wait: float = 0) -> None:
        """Refuses, before anything is said or written, a study another process is running
        (after waiting up to ``wait`` seconds for it to let go).

        Raises:
            StudyError: Another process holds the lock.
        """
        refuse_if_locked(self.path, self.name, wait)

    def lock(self, wait: float = 0) -> AbstractContextManager[None]:
        """Holds the study's lock (:func:`hpsearch.storage.lock.hold_lock`): a second process
        opening the same study is refused (after waiting up to ``wait`` seconds for it).

        Raises:
            StudyError: Another process holds the lock.
        """
        return hold_lock(self.path, self.name, wait)
