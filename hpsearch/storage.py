"""The study folder: a JSON definition, an append-only JSON Lines trial log, and a lock.

Everything is JSON; nothing is ever unpickled. Each finished trial is one line, flushed and
fsynced before the study moves on, so a crash loses at most the trial being written, and a
torn last line is dropped with a warning when the log is read back.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from hpsearch.files import replacing, write_text
from hpsearch.trial import Checkpoint, RepeatResult, TrialResult

__all__ = ["StudyStorage", "StudyError", "validate_name", "DEFINITION", "TRIAL_LOG"]

DEFINITION = "study.json"
TRIAL_LOG = "trials.jsonl"
RUNG_LOG = "rungs.jsonl"
REPEAT_LOG = "repeats.jsonl"
ASKED_LOG = "asked.jsonl"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
LOCK_HOLDER = ".lock.pid"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_NAME = 100  # file systems allow 255 bytes; a longer name is a mistake, not a study


def _asked_record(data: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
        raise ValueError(f"expected {{'number': N, 'params': {{...}}}}, but got {data!r}")
    return int(data["number"]), data["params"]


class StudyError(ValueError):
    """A study cannot be created, opened or resumed as asked."""


def validate_name(name: str) -> str:
    """Returns ``name`` if it is a plain folder name.

    Raises:
        StudyError: The name is empty, has a path separator, or starts with a dot.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise StudyError(
            f"name must be a plain folder name of at most {MAX_NAME} letters, digits, '.', '_' or '-', "
            f"not starting with '.' or '-', but got {name!r}"
        )
    return name


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
        for folder in (self.root, self.path):
            if folder.exists() and not folder.is_dir():
                raise StudyError(f"{folder} is a file, not a folder: choose another --out or name")

    @property
    def definition_path(self) -> Path:
        return self.path / DEFINITION

    @property
    def log_path(self) -> Path:
        return self.path / TRIAL_LOG

    def exists(self) -> bool:
        return self.definition_path.exists()

    def read_definition(self) -> dict[str, Any]:
        """The stored definition.

        Raises:
            StudyError: The file is missing or not a JSON object.
        """
        try:
            data = json.loads(self.definition_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StudyError(f"no study at {self.path} (missing {DEFINITION})") from None
        except (OSError, ValueError) as exc:
            raise StudyError(f"corrupt study definition {self.definition_path}: {exc}") from None
        if not isinstance(data, dict):
            raise StudyError(f"corrupt study definition {self.definition_path}: expected a JSON object")
        return data

    def write_definition(self, definition: dict[str, Any]) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_text(self.definition_path, json.dumps(definition, indent=2, sort_keys=True) + "\n", durable=True)

    def load_trials(self, *, repair: bool = False) -> list[TrialResult]:
        """Every finished trial in the log, by trial number (see :meth:`_load_log`)."""
        trials: dict[int, TrialResult] = {}
        for trial in self._load_log(self.log_path, repair=repair):
            trials.setdefault(trial.number, trial)
        return [trials[n] for n in sorted(trials)]

    def load_rungs(self, *, repair: bool = False) -> list[TrialResult]:
        """Every result of a trial paused at a rung (pruning), in the order written."""
        return self._load_log(self.path / RUNG_LOG, repair=repair)

    def append_rung(self, trial: TrialResult) -> None:
        self._append(self.path / RUNG_LOG, trial.to_json())

    def load_repeats(self, *, repair: bool = False) -> list[RepeatResult]:
        """Every finished confirm-stage run, the first record of each (trial, repeat, refit) kept."""
        runs: dict[tuple[int, int, bool], RepeatResult] = {}
        for run in self._load_log(self.path / REPEAT_LOG, RepeatResult.from_json, repair=repair):
            runs.setdefault(run.key, run)
        return list(runs.values())

    def append_repeat(self, run: RepeatResult) -> None:
        """Appends one finished confirm-stage run and makes it durable before returning."""
        self._append(self.path / REPEAT_LOG, run.to_json())

    def load_asked(self, *, repair: bool = False) -> dict[int, dict[str, Any]]:
        """The params the strategy proposed for each trial number, finished or not."""
        asked: dict[int, dict[str, Any]] = {}
        for number, params in self._load_log(self.path / ASKED_LOG, _asked_record, repair=repair):
            asked.setdefault(number, params)
        return asked

    def append_asked(self, proposals: Mapping[int, Mapping[str, Any]]) -> None:
        """Records proposals before they run, so that a resume runs the very same ones."""
        for number, params in proposals.items():
            self._append(self.path / ASKED_LOG, {"number": number, "params": dict(params)})

    def _checkpoint_path(self, number: int) -> Path:
        return self.path / CHECKPOINTS / f"{number}.npz"

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        (self.path / CHECKPOINTS).mkdir(parents=True, exist_ok=True)
        with replacing(self._checkpoint_path(checkpoint.number)) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **checkpoint.to_arrays())

    def load_checkpoint(self, number: int) -> Checkpoint | None:
        path = self._checkpoint_path(number)
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return Checkpoint.from_arrays({k: data[k] for k in data.files})

    def drop_checkpoint(self, number: int) -> None:
        self._checkpoint_path(number).unlink(missing_ok=True)

    def _load_log(
        self, path: Path, parse: Callable[[Any], Any] = TrialResult.from_json, *, repair: bool = False
    ) -> list[Any]:
        """The records of a JSON Lines log, in the order written.

        A last line cut short by a crash is dropped with a warning (and, with ``repair``, cut
        from the file so that new lines start clean).

        Raises:
            StudyError: A line other than the last is not a valid trial record.
        """
        if not path.exists():
            return []
        raw = path.read_bytes()
        records: list[Any] = []
        offset = 0
        lines = raw.split(b"\n")
        for i, line in enumerate(lines):
            is_last = i == len(lines) - 1
            if not line.strip():
                offset += len(line) + 1
                continue
            try:
                record = parse(json.loads(line))
            except (ValueError, TypeError, KeyError) as exc:
                if is_last or all(not rest.strip() for rest in lines[i + 1 :]):
                    warnings.warn(
                        f"{path}: dropped a torn last line ({len(line)} bytes) left by "
                        "an interrupted write; every trial before it is kept",
                        stacklevel=2,
                    )
                    if repair:
                        with open(path, "r+b") as fh:
                            fh.truncate(offset)
                    break
                raise StudyError(f"corrupt trial log {path}, line {i + 1}: {exc}") from None
            records.append(record)
            offset += len(line) + 1
        else:
            if raw and not raw.endswith(b"\n") and repair:
                with open(path, "ab") as fh:
                    fh.write(b"\n")
        return records

    def append(self, trial: TrialResult) -> None:
        """Appends one finished trial and makes it durable before returning."""
        self._append(self.log_path, trial.to_json())

    @staticmethod
    def _append(path: Path, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, allow_nan=False) + "\n"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def check_unlocked(self) -> None:
        """Refuses now, before anything is said or written, a study another process is running.

        Raises:
            StudyError: Another process holds the lock.
        """
        if (self.path / LOCK).exists():
            self._acquire().release()

    def _acquire(self) -> Any:
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path / LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            try:
                holder = (self.path / LOCK_HOLDER).read_text(encoding="utf-8").strip() or "?"
            except OSError:
                holder = "?"
            raise StudyError(
                f"study {self.name!r} is being run by another process (pid {holder}); "
                "wait for it to finish or stop it first"
            ) from None
        return lock

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Holds the study's lock: a second process opening the same study is refused.

        The lock is the operating system's (``filelock``: fcntl on Linux and macOS, msvcrt on
        Windows), so it is released when the holder dies however it dies. The holder's pid
        stands in a file beside it, for the message.

        Raises:
            StudyError: Another process holds the lock.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        lock = self._acquire()
        try:
            write_text(self.path / LOCK_HOLDER, str(os.getpid()))
            yield
        finally:
            lock.release()
