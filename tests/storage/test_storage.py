"""The study folder: JSON definition, append-only JSON Lines log, torn lines, the lock, names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import warnings

import pytest

from hpsearch.exceptions import StudyError
from hpsearch.records import TrialResult, TrialState
from hpsearch.storage.folder import StudyStorage


def _trial(number: int, state: TrialState = TrialState.COMPLETE) -> TrialResult:
    if state is TrialState.COMPLETE:
        acc = 0.1 + number / 100
        return TrialResult(
            number,
            {"lr": 10.0 ** -(number % 5 + 1), "weight_decay": 1e-6},
            state,
            val_acc=acc,
            best_val_acc=acc + 0.01,
            train_acc=acc + 0.02,
            epochs=2,
            train_curve=(0.1, acc + 0.02),
            val_curve=(acc + 0.01, acc),
            loss_curve=(2.3, 1.9),
            seconds=0.5 + number,
        )
    return TrialResult(
        number,
        {"lr": 3.0, "weight_decay": 1e-6},
        state,
        epochs=0,
        seconds=0.1,
        error="loss became nan at epoch 1",
    )


@pytest.fixture
def storage(tmp_path) -> StudyStorage:
    s = StudyStorage(tmp_path, "demo")
    s.write_definition({"name": "demo", "seed": 0})
    return s


def _no_warnings(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def test_definition_round_trip_and_is_plain_json(storage):
    definition = {
        "name": "demo",
        "seed": 3,
        "space": {"lr": {"kind": "log", "low": 1e-6, "high": 1e-2}},
    }
    storage.write_definition(definition)
    assert storage.exists()
    assert storage.read_definition() == definition
    assert json.loads(storage.definition_path.read_text()) == definition


def test_append_then_load_round_trip(storage):
    trials = [_trial(0), _trial(1, TrialState.DIVERGED), _trial(2), _trial(3, TrialState.FAILED)]
    for t in trials:
        storage.append(t)
    assert _no_warnings(storage.load_trials) == trials
    lines = storage.log_path.read_text().splitlines()
    assert len(lines) == 4
    assert [json.loads(line)["number"] for line in lines] == [0, 1, 2, 3]


def test_load_returns_trials_by_number_whatever_the_finishing_order(storage):
    for n in (2, 0, 3, 1):
        storage.append(_trial(n))
    assert [t.number for t in storage.load_trials()] == [0, 1, 2, 3]


def test_empty_study_has_no_trials(storage):
    assert storage.load_trials() == []


def test_torn_last_line_warns_and_keeps_every_earlier_trial(storage):
    trials = [_trial(n) for n in range(3)]
    for t in trials:
        storage.append(t)
    whole = json.dumps(_trial(3).to_json())
    with open(storage.log_path, "a") as fh:
        fh.write(whole[: len(whole) // 2])
    with pytest.warns(Warning, match="torn|truncat|cut|incomplete|partial"):
        loaded = storage.load_trials()
    assert loaded == trials


def test_repair_truncates_the_torn_line_so_new_appends_are_valid(storage):
    trials = [_trial(n) for n in range(3)]
    for t in trials:
        storage.append(t)
    whole = json.dumps(_trial(3).to_json())
    with open(storage.log_path, "a") as fh:
        fh.write(whole[: len(whole) // 2])
    with pytest.warns(Warning):
        assert storage.load_trials(repair=True) == trials
    storage.append(_trial(3))
    assert _no_warnings(storage.load_trials) == trials + [_trial(3)]
    for line in storage.log_path.read_text().splitlines():
        json.loads(line)


def test_a_whole_last_record_without_its_newline_survives_repair(storage):
    storage.append(_trial(0))
    with open(storage.log_path, "a") as fh:
        fh.write(json.dumps(_trial(1).to_json()))  # crash before the newline
    assert storage.load_trials(repair=True) == [_trial(0), _trial(1)]
    storage.append(_trial(2))
    assert _no_warnings(storage.load_trials) == [_trial(0), _trial(1), _trial(2)]


def test_a_corrupt_middle_line_is_an_error_not_a_silent_loss(storage):
    storage.append(_trial(0))
    with open(storage.log_path, "a") as fh:
        fh.write('{"number": 1, "params": {"lr"\n')
    storage.append(_trial(2))
    before = storage.log_path.read_bytes()
    with pytest.raises(StudyError):
        storage.load_trials(repair=True)
    assert storage.log_path.read_bytes() == before


def test_corrupt_definition_is_a_study_error(storage):
    storage.definition_path.write_text("{ not json")
    with pytest.raises(StudyError):
        storage.read_definition()
    storage.definition_path.write_text("[1, 2]")
    with pytest.raises(StudyError):
        storage.read_definition()


def test_missing_definition_is_a_study_error(tmp_path):
    with pytest.raises(StudyError):
        StudyStorage(tmp_path, "nothing").read_definition()


def test_a_held_lock_refuses_a_second_holder_in_the_same_process(tmp_path):
    # flock belongs to an open file description: two opens conflict even in one process.
    first, second = StudyStorage(tmp_path, "x"), StudyStorage(tmp_path, "x")
    with first.lock():
        with pytest.raises(StudyError, match="another process"):
            with second.lock():
                pass
    with second.lock():  # released on exit
        pass


def test_a_second_holder_waits_for_the_lock_and_then_takes_it(tmp_path):
    # The wait polls: the same process letting go meanwhile (here from a thread) hands it over.
    first, second = StudyStorage(tmp_path, "x"), StudyStorage(tmp_path, "x")
    held = first.lock()
    held.__enter__()
    timer = threading.Timer(0.2, held.__exit__, (None, None, None))
    timer.start()
    try:
        with second.lock(wait=60):
            assert (second.path / ".lock.pid").read_text() == str(os.getpid())
    finally:
        timer.join()


def test_taking_or_being_refused_the_lock_leaves_the_lock_file_as_it_was(tmp_path):
    storage = StudyStorage(tmp_path, "x")
    with storage.lock():
        pass
    lock = storage.path / ".lock"
    os.utime(lock, ns=(10**18, 10**18))  # a moment no open, write or touch of now could give
    with storage.lock():
        with pytest.raises(StudyError, match="another process"):
            with StudyStorage(tmp_path, "x").lock(wait=0.1):
                pass
    storage.check_unlocked()
    assert lock.stat().st_mtime_ns == 10**18 and lock.stat().st_size == 0


def test_the_holders_pid_file_is_there_only_while_the_lock_is_held(tmp_path):
    storage = StudyStorage(tmp_path, "x")
    with storage.lock():
        assert (storage.path / ".lock.pid").read_text() == str(os.getpid())
    # Left: the empty lock file alone (see StudyStorage.lock), as studies/README.md says.
    assert sorted(p.name for p in storage.path.iterdir()) == [".lock"]
    assert (storage.path / ".lock").stat().st_size == 0


def test_a_lock_held_by_another_process_is_refused(tmp_path):
    holder = textwrap.dedent(
        f"""
        import sys, time
        from hpsearch.storage.folder import StudyStorage
        with StudyStorage({str(tmp_path)!r}, "x").lock():
            print("locked", flush=True)
            sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(StudyError, match="another process"):
            with StudyStorage(tmp_path, "x").lock():
                pass
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with StudyStorage(tmp_path, "x").lock():  # the holder is gone, and so is its lock
        pass


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "..", ".", "/abs", "x/"])
def test_names_with_paths_or_dots_are_refused(tmp_path, name):
    with pytest.raises(StudyError):
        StudyStorage(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["demo", "random-20240101-120000", "a.b_c-1"])
def test_plain_names_are_accepted(tmp_path, name):
    assert StudyStorage(tmp_path, name).path == tmp_path / name


# ----------------------------------------------------------------------------- faults
def test_logs_without_a_definition_are_a_damaged_study_never_a_new_one(storage):
    storage.append(_trial(0))
    storage.definition_path.unlink()
    for call in (
        storage.exists,
        storage.read_definition,
        lambda: storage.write_definition({"name": "demo"}),
    ):
        with pytest.raises(StudyError, match=r"damaged.*trials\.jsonl.*study\.json"):
            call()
    assert not storage.definition_path.exists()


def test_a_folder_with_no_log_is_not_damaged(tmp_path):
    s = StudyStorage(tmp_path, "fresh")
    s.path.mkdir()
    (s.path / "trials.jsonl").write_text("")  # an empty log holds nothing to mix with
    assert not s.exists()
    s.write_definition({"name": "fresh"})
    assert s.exists()


def test_a_record_written_twice_is_kept_once_with_a_warning(storage):
    for n in (0, 1, 1, 2):
        storage.append(_trial(n))
    with pytest.warns(UserWarning, match=r"1 trial record\(s\) written twice \(trial 1\)"):
        assert [t.number for t in storage.load_trials()] == [0, 1, 2]


def test_a_confirm_run_made_again_for_its_test_curve_takes_the_first_records_place(storage):
    import dataclasses

    from hpsearch.records import RepeatResult, TrialState

    plain = RepeatResult(
        3,
        0,
        {"lr": 0.1},
        TrialState.COMPLETE,
        val_acc=0.5,
        test_acc=0.4,
        train_acc=0.6,
        seconds=1.0,
        n_val=100,
        n_test=2000,
    )
    with_curve = dataclasses.replace(plain, test_curve=(0.2, 0.4), best_test_acc=0.4, seconds=2.0)
    other = dataclasses.replace(plain, val_acc=0.7, test_curve=(0.3, 0.5))  # not the same run
    storage.append_repeat(plain)
    storage.append_repeat(with_curve)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "written twice" for a remake with its curve
        assert storage.load_repeats() == [with_curve]
    storage.append_repeat(other)
    with pytest.warns(UserWarning, match="written twice"):
        assert storage.load_repeats() == [with_curve]


def test_a_line_the_disk_took_in_part_is_cut_off_and_the_file_named(storage, monkeypatch):
    import errno
    import os

    storage.append(_trial(0))
    before = storage.log_path.read_bytes()
    real_write = os.write
    calls = []

    def full_disk(fd, data):  # the disk takes 10 bytes, then is full
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data[:10]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(OSError) as info:
        storage.append(_trial(1))
    monkeypatch.undo()
    assert info.value.filename == str(storage.log_path)
    assert storage.log_path.read_bytes() == before  # whole records only
    assert _no_warnings(storage.load_trials) == [_trial(0)]


@pytest.mark.parametrize("out", ["afile", "afile/sub"])
def test_a_studies_folder_that_is_or_lies_in_a_file_is_refused(tmp_path, out):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StudyError, match="afile is a file, not a folder"):
        StudyStorage(tmp_path / out, "demo")
