"""The study files shipped in studies/: each one parses and makes a valid study (nothing is run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpsearch.cli.parser import build_parser
from hpsearch.cli.studyfile import study_file_argv
from hpsearch.cli.training import _config, _space

FILES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.toml"))


def test_the_book_readers_experiments_are_shipped():
    names = {f.stem for f in FILES}
    assert {
        "seed",
        "activations",
        "hswish_width",
        "optimizers_sigmoid",
        "optimizers_batchnorm",
        "optimizers_relu",
        "rmsprop_adagrad",
        "lr_sweep",
        "flooding",
    } <= names


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_a_study_file_makes_a_valid_study(path: Path, tmp_path: Path) -> None:
    from hpsearch.study.study import Study

    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and "About " in text, (
        "each file says what it reproduces and how long it takes"
    )
    args = build_parser().parse_args(study_file_argv(str(path)) + ["--out", str(tmp_path)])
    config, fixed = _config(args)
    study = Study(
        args.name,
        strategy=args.strategy,
        space=_space(args.param, fixed),
        n_trials=args.trials,
        config=config,
        directory=args.out,
        confirm=args.confirm,
        repeats=args.repeats,
        test_curves=args.test_curves,
        progress=False,
    )
    assert study.planned == args.trials, "a grid file's trials match its grid"
    assert not (tmp_path / args.name).exists()


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_a_comparison_file_names_the_setting_it_compares_and_its_thresholds(path: Path) -> None:
    args = build_parser().parse_args(study_file_argv(str(path)))
    if path.stem == "seed":  # the default search: nothing to compare
        assert args.compare is None
        return
    searched = [name for name, _ in args.param]
    assert args.compare in searched, f"{path.name}: compare = {args.compare!r} is not searched"
    assert args.thresholds is None or all(0 < t < 1 for t in args.thresholds)


def test_the_batch_norm_study_differs_from_its_baseline_by_batch_norm_alone() -> None:
    def words(stem: str) -> dict:
        args = build_parser().parse_args(study_file_argv(str(FILES[0].parent / f"{stem}.toml")))
        return {k: v for k, v in vars(args).items() if k not in ("name", "set")} | {
            "set": dict(args.set)
        }

    with_bn, without = words("optimizers_batchnorm"), words("optimizers_relu")
    assert with_bn["set"].pop("batchnorm") is True and without["set"].pop("batchnorm") is False
    assert with_bn == without  # same activation, init, data, rates, epochs, comparison
    assert with_bn["set"]["activation"] == "relu" and with_bn["set"]["weight_init"] == "he"
