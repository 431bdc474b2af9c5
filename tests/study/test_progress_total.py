"""The progress bar counts exactly the runs a session makes: the confirm stage's and a
comparison's included, once they are known."""

from __future__ import annotations

import pytest
import tqdm.auto

from hpsearch import Study, TrainConfig
from hpsearch.space.dimensions import Categorical, LogUniform
from hpsearch.space.search_space import SearchSpace

TINY = TrainConfig(epochs=2, hidden=(10,), samples=200)


@pytest.fixture
def bars(monkeypatch):
    """Each bar's total and count when it closed."""
    closed: list[tuple[float, float]] = []

    class Recording(tqdm.auto.tqdm):  # type: ignore[misc, valid-type]
        def close(self) -> None:
            if not self.disable:
                closed.append((self.n, self.total))
            super().close()

    monkeypatch.setattr(tqdm.auto, "tqdm", Recording)
    return closed


def _study(tmp_path, **kwargs) -> Study:
    space = SearchSpace({"optimizer": Categorical(["sgd", "adam"]), "lr": LogUniform(1e-3, 1e-1)})
    return Study(
        "p", strategy="grid", space=space, n_trials=4, config=TINY, directory=tmp_path, **kwargs
    )


def test_a_confirm_stage_with_fewer_configurations_than_asked_counts_what_it_runs(tmp_path, bars):
    # 4 trials; confirm 6 asked, but 4 distinct configurations exist: 4 x 2 runs, not 6 x 2.
    _study(tmp_path, confirm=6, repeats=2).optimize()
    assert bars == [(12, 12)]


def test_a_comparison_counts_the_runs_it_makes(tmp_path, bars):
    study = _study(tmp_path, confirm=0, repeats=3)
    study.optimize()
    study.compare_runs("optimizer")  # the best of each of 2 values, 3 runs each
    assert bars == [(4, 4), (10, 10)]
    study.compare_runs("optimizer")  # nothing missing: no bar at all
    assert bars == [(4, 4), (10, 10)]


def test_a_comparison_runs_again_the_confirm_runs_without_a_test_curve_to_the_same_scores(
    tmp_path, bars
):
    _study(tmp_path, confirm=4, repeats=2, test_curves=False).optimize()
    before = {k: r for k, r in Study.load("p", directory=tmp_path).journal.repeats.items()}
    assert before and not any(r.test_curve for r in before.values())
    study = Study.load("p", directory=tmp_path, test_curves=True)
    runs = study.compare_runs("optimizer")
    assert runs and all(r.test_curve for r in runs if r.ok)
    for r in runs:  # the same seed: the same run, now with its curve
        old = before[r.key]
        assert (r.val_acc, r.test_acc, r.train_acc) == (old.val_acc, old.test_acc, old.train_acc)
        assert r.test_curve[-1] == r.test_acc
    assert bars[-1] == (16, 16)  # 12 runs recorded before; 4 (2 values x 2) made again


def test_a_comparison_made_again_remakes_nothing(tmp_path, bars):
    _study(tmp_path, confirm=4, repeats=2, test_curves=False).optimize()
    study = Study.load("p", directory=tmp_path, test_curves=True)
    first = study.compare_runs("optimizer")
    again = Study.load("p", directory=tmp_path, test_curves=True)
    assert again.compare_runs("optimizer") == first
    assert len(bars) == 2  # the search's, the first comparison's: none for nothing to do


def test_a_comparison_by_a_setting_the_search_gave_one_value_is_refused(tmp_path, bars):
    space = SearchSpace({"optimizer": Categorical(["sgd"]), "lr": LogUniform(1e-3, 1e-1)})
    study = Study("one", strategy="grid", space=space, n_trials=2, config=TINY, directory=tmp_path)
    study.optimize()
    repeats = len(study.repeats_done)
    with pytest.raises(ValueError, match="one value of it"):
        study.compare_runs("optimizer")
    assert len(study.repeats_done) == repeats  # nothing trained


def test_a_search_with_its_comparison_counts_both_on_one_bar(tmp_path, bars):
    study = _study(tmp_path, confirm=0, repeats=3)
    study.optimize(compare="optimizer")  # 4 trials, then 2 values x 3 runs, one session
    assert bars == [(10, 10)]
    runs = study.compare_runs("optimizer")  # all made already: no session, no bar
    assert len(runs) == 6 and bars == [(10, 10)]
