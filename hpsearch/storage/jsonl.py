"""The study folder's append-only JSON Lines logs: one record a line, read back and appended.

Each record is appended as one line, flushed and fsynced before the study moves on, so a crash
loses at most the record being written; a line the disk took only part of is cut off again. A
torn last line (one that is not JSON) is dropped with a warning when the log is read back (and
cut from the file on repair); a damaged line before it, or a whole line holding a bad value, is
refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hpsearch.exceptions import StudyError

__all__ = ["append_record", "read_log"]


def read_log(path: Path, parse: Callable[[Any], Any], *, repair: bool = False) -> list[Any]:
    """The records of a JSON Lines log, in the order written.

    A last line cut short by a crash is dropped with a warning (and, with ``repair``, cut
    from the file so that new lines start clean).

    Raises:
        StudyError: A line other than the last is not JSON, or a line holds what ``parse``
            refuses (a value not of its kind): one line naming the file and the line.
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
            data = json.loads(line)
        except ValueError as exc:  # not JSON (not UTF-8 either): cut short by a crash, if last
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
            raise StudyError(f"{path}, line {i + 1}: not a JSON record ({exc})") from None
        try:
            # A whole line is no torn one: a bad value in it is refused wherever it stands.
            record = parse(data)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise StudyError(f"{path}, line {i + 1}: {exc}") from None
        records.append(record)
        offset += len(line) + 1
    else:
        if raw and not raw.endswith(b"\n") and repair:
            with open(path, "ab") as fh:
                fh.write(b"\n")
    return records


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    """Appends one line and syncs it; a line the disk took only part of is cut off again.

    A full disk or a file size limit (``ulimit -f``) can stop a write in mid-line; the log
    then ends as it was, with whole records only, and the error goes up.
    """
    data = memoryview((json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode("utf-8"))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        end = os.fstat(fd).st_size
        try:
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        except BaseException as exc:
            if data:  # only part of the line is in the file
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, end)
            if isinstance(exc, OSError) and exc.filename is None:
                exc.filename = str(path)  # os.write names no file: say which log it was
            raise
    finally:
        os.close(fd)
