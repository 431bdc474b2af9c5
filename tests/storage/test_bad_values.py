"""Bad values in a study's logs (a hand edit, a stray tool): one line naming the file and the line.

Each bad value is put into one line of a finished tiny study's log. Every command that reads the
study then stops with exit status 2 and one line on stderr that names the log, the line and the
field, and writes nothing; ``list`` lists the other studies and names the broken one with the
same reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpsearch.cli.main import main

NAME = "s"
TINY = ["--epochs", "1", "--samples", "100", "--batch-size", "20", "--dataset", "digits", "--quiet"]


def search(name: str, trials: int = 3) -> list[str]:
    """A random search of ``trials`` trials, one confirm run, under ``name``."""
    return [
        "random",
        "--trials",
        str(trials),
        "--confirm",
        "1",
        "--repeats",
        "1",
        "--name",
        name,
        *TINY,
    ]


RUN = search(NAME)
BIG = "1" + "0" * 400  # an integer no float holds

# (log, line number, change, words the message says besides the file and line).
# A change is ("set", key, raw JSON text), ("drop", key) or ("line", the whole raw line).
CASES = [
    ("trials.jsonl", 3, ("set", "val_acc", "Infinity"), "val_acc is Infinity"),
    ("trials.jsonl", 2, ("set", "val_acc", "-Infinity"), "val_acc"),
    ("trials.jsonl", 3, ("set", "val_acc", "NaN"), "val_acc is NaN"),
    ("trials.jsonl", 3, ("set", "val_acc", "1e400"), "val_acc"),
    ("trials.jsonl", 3, ("set", "val_acc", BIG), "val_acc"),
    ("trials.jsonl", 3, ("set", "val_acc", '"0.9"'), "val_acc"),
    ("trials.jsonl", 3, ("set", "val_acc", "1.5"), "val_acc is 1.5"),
    ("trials.jsonl", 2, ("set", "val_acc", "-0.1"), "val_acc"),
    ("trials.jsonl", 3, ("set", "val_acc", "true"), "val_acc"),
    ("trials.jsonl", 3, ("set", "train_acc", "95"), "train_acc"),
    ("trials.jsonl", 3, ("set", "best_val_acc", "[0.5]"), "best_val_acc"),
    ("trials.jsonl", 3, ("set", "number", '"six"'), "number"),
    ("trials.jsonl", 3, ("set", "number", "-5"), "number is -5"),
    ("trials.jsonl", 3, ("set", "number", "2.5"), "number"),
    ("trials.jsonl", 3, ("set", "number", "true"), "number"),
    ("trials.jsonl", 3, ("set", "number", BIG), "number"),
    ("trials.jsonl", 2, ("drop", "number"), "number"),
    ("trials.jsonl", 3, ("set", "params", "[0.01, 1e-06]"), "params"),
    ("trials.jsonl", 3, ("set", "params", '"lr=0.01"'), "params"),
    ("trials.jsonl", 3, ("set", "params", '{"lr": Infinity}'), "params"),
    ("trials.jsonl", 3, ("set", "params", '{"lr": [0.01], "weight_decay": 1e-06}'), "params"),
    ("trials.jsonl", 3, ("set", "params", '{"lr": {"v": 1}, "weight_decay": 1e-06}'), "params"),
    ("trials.jsonl", 3, ("drop", "params"), "params"),
    ("trials.jsonl", 3, ("set", "state", '"DONE"'), "state"),
    ("trials.jsonl", 3, ("set", "state", "3"), "state"),
    ("trials.jsonl", 2, ("drop", "state"), "state"),
    ("trials.jsonl", 3, ("set", "epochs", "-1"), "epochs"),
    ("trials.jsonl", 3, ("set", "epochs", '"1"'), "epochs"),
    ("trials.jsonl", 3, ("set", "seconds", "Infinity"), "seconds"),
    ("trials.jsonl", 3, ("set", "seconds", "-2"), "seconds"),
    ("trials.jsonl", 3, ("set", "n_val", "0.5"), "n_val"),
    ("trials.jsonl", 3, ("set", "error", "5"), "error"),
    ("trials.jsonl", 3, ("set", "val_curve", '"0.1"'), "val_curve"),
    ("trials.jsonl", 3, ("set", "val_curve", "[0.1, Infinity]"), "val_curve"),
    ("trials.jsonl", 3, ("set", "val_curve", "[20, 95]"), "val_curve"),
    ("trials.jsonl", 3, ("set", "best_val_acc", "5"), "best_val_acc"),
    ("trials.jsonl", 3, ("set", "train_curve", "[-0.5]"), "train_curve"),
    ("trials.jsonl", 3, ("set", "train_curve", '[{"x": 1}]'), "train_curve"),
    ("trials.jsonl", 3, ("set", "loss_curve", "[Infinity]"), "loss_curve"),
    ("trials.jsonl", 3, ("set", "metrics", '["val_loss", 0.5]'), "metrics"),
    ("trials.jsonl", 3, ("set", "metrics", '{"val_loss": "low"}'), "metrics"),
    ("trials.jsonl", 3, ("set", "curves", '{"val_loss": 0.5}'), "curves"),
    ("trials.jsonl", 3, ("set", "finished", "Infinity"), "finished"),
    ("trials.jsonl", 2, ("line", "[1, 2, 3]"), "JSON object"),
    ("trials.jsonl", 3, ("line", "null"), "JSON object"),
    ("repeats.jsonl", 1, ("set", "repeat", "-1"), "repeat"),
    ("repeats.jsonl", 1, ("set", "refit", '"no"'), "refit"),
    ("repeats.jsonl", 1, ("set", "test_acc", "2"), "test_acc"),
    ("repeats.jsonl", 1, ("set", "n_test", "-100"), "n_test"),
    ("repeats.jsonl", 1, ("set", "test_curve", "[1.5]"), "test_curve"),
    ("asked.jsonl", 3, ("set", "number", '"six"'), "number"),
    ("asked.jsonl", 2, ("set", "number", "-5"), "number"),
    ("asked.jsonl", 3, ("set", "params", "[1, 2]"), "params"),
]
IDS = [f"{log}:{line}:{change[0]} {' '.join(change[1:])[:24]}" for log, line, change, _ in CASES]


def run_main(argv: list[str], out: Path) -> int:
    try:
        return main([*argv, "--out", str(out)])
    except SystemExit as exc:  # argparse
        return exc.code if isinstance(exc.code, int) else 1


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``root``: its bytes and when it was last changed."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def spoil(path: Path, line: int, change: tuple[str, ...]) -> None:
    """Line ``line`` (1-based) of the log ``path`` changed as ``change`` says."""
    lines = path.read_text().splitlines()
    record = json.loads(lines[line - 1])
    if change[0] == "line":
        lines[line - 1] = change[1]
    elif change[0] == "drop":
        del record[change[1]]
        lines[line - 1] = json.dumps(record)
    else:
        _, key, raw = change
        record.pop(key, None)
        lines[line - 1] = json.dumps(record)[:-1] + f', "{key}": {raw}}}'
    path.write_text("\n".join(lines) + "\n")


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("hpsearch: error: "), stderr
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished study ``s`` of 3 trials and one confirm run, and another, ``t``, made once."""
    out = tmp_path_factory.mktemp("finished") / "studies"
    assert run_main(RUN, out) == 0
    assert run_main(search("t"), out) == 0
    return out


@pytest.mark.parametrize(("log", "line", "change", "said"), CASES, ids=IDS)
def test_report_names_the_file_and_line_and_writes_nothing(
    studies, capsys, log, line, change, said
):
    path = studies / NAME / log
    spoil(path, line, change)
    before = snapshot(studies)
    capsys.readouterr()
    assert run_main(["report", NAME], studies) == 2
    message = error_line(capsys.readouterr().err)
    assert f"{path}, line {line}: " in message, message
    assert said in message.split(f"line {line}: ", 1)[1], message
    assert snapshot(studies) == before


@pytest.mark.parametrize(("log", "line", "change", "said"), CASES, ids=IDS)
def test_list_shows_the_other_study_and_names_the_broken_one(
    studies, capsys, log, line, change, said
):
    path = studies / NAME / log
    spoil(path, line, change)
    before = snapshot(studies)
    capsys.readouterr()
    assert run_main(["list"], studies) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    rows = captured.out.strip().splitlines()
    assert len(rows) == 2, captured.out
    broken, other = rows
    assert broken.startswith(f"{NAME}  (unreadable: {path}, line {line}: "), broken
    assert said in broken
    assert other.startswith("t  random  3/3 trials  best val "), other
    assert snapshot(studies) == before


def test_the_spelling_of_a_bad_accuracy(studies, capsys):
    path = studies / NAME / "trials.jsonl"
    spoil(path, 3, ("set", "val_acc", "Infinity"))
    capsys.readouterr()
    assert run_main(["report", NAME], studies) == 2
    assert error_line(capsys.readouterr().err) == (
        f"hpsearch: error: {path}, line 3: val_acc is Infinity, not a number in 0..1"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["report", NAME, "--write"],
        ["importance", NAME],
        ["confirm", NAME],
        RUN,  # the same search again: a resume
        search(NAME, 4),  # a resume asking for more trials
    ],
    ids=["report", "importance", "confirm", "resume", "resume-more"],
)
def test_every_command_reading_the_study_stops_in_one_line(studies, capsys, argv):
    path = studies / NAME / "trials.jsonl"
    spoil(path, 2, ("set", "number", '"six"'))
    before = snapshot(studies)
    capsys.readouterr()
    assert run_main(argv, studies) == 2
    message = error_line(capsys.readouterr().err)
    assert f"{path}, line 2: number" in message, message
    assert snapshot(studies) == before


def test_a_torn_last_line_is_still_a_warning_not_an_error(studies, capsys):
    path = studies / NAME / "trials.jsonl"
    data = path.read_text()
    last = data.rstrip("\n").rsplit("\n", 1)[1]
    path.write_text(data[: len(data) - len(last) - 1] + last[: len(last) // 2])
    capsys.readouterr()
    assert run_main(["report", NAME], studies) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert any(
        line.startswith("hpsearch: warning:") and "torn" in line for line in err.splitlines()
    )
