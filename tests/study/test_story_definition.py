"""A study's definition includes its confirm stage (issue #28): the confirm settings are stored
with the study and kept when it is loaded or resumed, unless given again; and a study can be
read while another process runs it."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from hpsearch import Study, StudyError, TrainConfig
from hpsearch.cli.main import main

CONFIG = TrainConfig(epochs=2, hidden=(20,), samples=200)
TINY = ["--epochs", "2", "--hidden", "20", "--samples", "200", "--quiet", "--jobs", "1"]
SETTINGS = ("confirm", "repeats", "refit", "test_curves")


def _study(tmp_path: Path, name: str, **kwargs) -> Study:
    return Study(
        name,
        directory=tmp_path,
        n_trials=kwargs.pop("n_trials", 3),
        config=CONFIG,
        progress=False,
        figures=False,
        resume=True,
        **kwargs,
    )


def _settings(study: Study) -> tuple:
    return study.n_confirm, study.repeats, study.refit, study.test_curves


def _stored(tmp_path: Path, name: str) -> dict:
    definition = json.loads((tmp_path / name / "study.json").read_text())
    return {key: definition.get(key) for key in SETTINGS}


def _cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_a_study_made_without_a_confirm_stage_loads_without_one(tmp_path: Path) -> None:
    _study(tmp_path, "none", confirm=0).optimize()
    assert _stored(tmp_path, "none")["confirm"] == 0
    loaded = Study.load("none", tmp_path, progress=False, figures=False)
    assert loaded.n_confirm == 0
    loaded.optimize()  # once trained a default confirm stage: 15 runs
    assert loaded.repeats_done == [] and not (tmp_path / "none" / "repeats.jsonl").exists()


def test_the_confirm_settings_are_kept_unless_given_again(tmp_path: Path) -> None:
    made = _study(tmp_path, "kept", confirm=1, repeats=1, refit=True, test_curves=True)
    made.optimize()
    stored = {"confirm": 1, "repeats": 1, "refit": True, "test_curves": True}
    assert _stored(tmp_path, "kept") == stored
    assert _settings(Study.load("kept", tmp_path, progress=False, figures=False)) == (
        1,
        1,
        True,
        True,
    )
    assert _settings(_study(tmp_path, "kept")) == (1, 1, True, True)  # resumed, none given
    # Given again: a run option, not a change of definition; stored once the study runs.
    again = Study.load("kept", tmp_path, progress=False, figures=False, confirm=2, refit=False)
    assert _settings(again) == (2, 1, False, True)
    assert _stored(tmp_path, "kept") == stored  # opening it writes nothing
    again.optimize()
    assert _stored(tmp_path, "kept") == {**stored, "confirm": 2, "refit": False}
    assert _settings(Study.load("kept", tmp_path, progress=False, figures=False)) == (
        2,
        1,
        False,
        True,
    )


def test_a_compare_does_not_change_the_studys_confirm_settings(tmp_path: Path) -> None:
    from hpsearch.space.dimensions import Categorical

    space = {"activation": Categorical(["relu", "tanh"])}
    _study(tmp_path, "c", space=space, n_trials=2, confirm=0).optimize()
    loaded = Study.load("c", tmp_path, progress=False, figures=False, test_curves=True)
    loaded.compare("activation", repeats=1)
    assert _stored(tmp_path, "c") == {
        "confirm": 0,
        "repeats": 3,
        "refit": False,
        "test_curves": False,
    }


def test_a_definition_without_a_setting_is_refused_naming_the_file_and_the_key(
    tmp_path: Path,
) -> None:
    """No study was ever released without these settings: a definition lacking one is damaged,
    not an earlier version to fill in with defaults."""
    _study(tmp_path, "old", confirm=0).optimize()
    path = tmp_path / "old" / "study.json"
    whole = json.loads(path.read_text())
    for key in (*SETTINGS, "created"):
        path.write_text(json.dumps({k: v for k, v in whole.items() if k != key}))
        missing = rf"corrupt study definition .*study\.json: missing \['{key}'\]"
        with pytest.raises(StudyError, match=missing):
            Study.load("old", tmp_path, progress=False, figures=False)
    # the pruning schedule is stored whole: a part of it missing is damage too, not a default
    path.write_text(json.dumps({**whole, "pruning": {"kind": "none", "min_epochs": 5}}))
    with pytest.raises(StudyError, match=r"corrupt study definition .*study\.json: 'eta'"):
        Study.load("old", tmp_path, progress=False, figures=False)
    path.write_text(json.dumps(whole))
    assert len(Study.load("old", tmp_path, progress=False, figures=False).trials) > 0


def test_a_corrupt_stored_setting_names_the_file(tmp_path: Path) -> None:
    _study(tmp_path, "bad", confirm=0).optimize()
    path = tmp_path / "bad" / "study.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "repeats": "three"}))
    with pytest.raises(StudyError, match=r"corrupt study definition .*study\.json: repeats"):
        Study.load("bad", tmp_path)


def test_the_command_line_keeps_the_stored_confirm_stage_and_may_change_it(
    tmp_path: Path,
) -> None:
    base = ["random", "--name", "cli", "--out", str(tmp_path), *TINY]
    assert _cli([*base, "--trials", "2", "--confirm", "0", "--refit"])[0] == 0
    # Resumed without --confirm: the study's own (none), not the default 5; --refit is kept.
    code, _, err = _cli([*base, "--trials", "3"])
    assert code == 0, err
    assert not (tmp_path / "cli" / "repeats.jsonl").exists()
    assert _stored(tmp_path, "cli") == {
        "confirm": 0,
        "repeats": 3,
        "refit": True,
        "test_curves": False,
    }
    # A different K is a run option, not a refused change of definition.
    code, _, err = _cli([*base, "--trials", "3", "--confirm", "1", "--repeats", "1", "--no-refit"])
    assert code == 0, err
    assert len((tmp_path / "cli" / "repeats.jsonl").read_text().splitlines()) == 1
    assert _stored(tmp_path, "cli")["confirm"] == 1
    assert _stored(tmp_path, "cli")["refit"] is False
    # The confirm command: what it is given is stored; what it is not, kept.
    code, _, err = _cli(["confirm", "cli", "--out", str(tmp_path), "--confirm", "2", *TINY[-3:]])
    assert code == 0, err
    assert _stored(tmp_path, "cli") == {
        "confirm": 2,
        "repeats": 1,
        "refit": False,
        "test_curves": False,
    }


def test_a_study_made_without_a_confirm_stage_is_confirmed_later_by_default(
    tmp_path: Path,
) -> None:
    _study(tmp_path, "later", n_trials=5, confirm=0).optimize()
    loaded = Study.load("later", tmp_path, progress=False, figures=False)
    loaded.confirm(repeats=1)  # no K given, none stored: the default confirm stage's 5
    assert loaded.n_confirm == 5 and len(loaded.repeats_done) == 5
    assert _stored(tmp_path, "later")["confirm"] == 5


def test_a_running_study_can_be_read_but_not_run_or_written(
    tmp_path: Path, snapshot, held_lock
) -> None:
    _study(tmp_path, "busy", confirm=0).optimize()
    with held_lock(tmp_path, "busy"):
        before = snapshot(tmp_path)
        with pytest.raises(StudyError, match="being run by another process"):
            Study.load("busy", tmp_path, progress=False, figures=False)
        study = Study.load("busy", tmp_path, progress=False, figures=False, read_only=True)
        assert len(study.trials) == 3 and len(study.ranking()) == 3
        for act in (study.optimize, study.write_reports, study.ask, lambda: study.confirm(1, 1)):
            with pytest.raises(StudyError, match="read_only"):
                act()
        assert snapshot(tmp_path) == before
    with pytest.raises(StudyError, match="no study"):
        Study.load("missing", tmp_path, read_only=True)
