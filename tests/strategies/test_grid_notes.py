"""A grid whose choices exceed the budget says which points never run."""

from __future__ import annotations

import pytest

from hpsearch import Categorical, LogUniform, Settings, Study
from hpsearch.space.search_space import SearchSpace
from hpsearch.strategies.grid import GridStrategy


def test_a_grid_cut_short_names_the_choices_that_never_run():
    space = SearchSpace(
        {"act": Categorical(["relu", "sigmoid", "tanh"]), "hidden": Categorical([30, 100])}
    )
    grid = GridStrategy(space, seed=0, n_trials=4)
    ran = {p["act"] for p in grid.points[:4]}
    never = sorted({"relu", "sigmoid", "tanh"} - ran)
    (note,) = grid.notes()
    assert f"{len(grid.points)} points" in note and "first 4" in note
    assert all(f"act={v} never run" in note or f"act={v}," in note for v in never) and never
    assert "n_trials=6" in note


def test_a_grid_that_fits_says_nothing_and_a_study_warns_before_it_trains(tmp_path):
    space = {"act": Categorical(["relu", "sigmoid"]), "lr": LogUniform(1e-3, 1.0)}
    assert GridStrategy(SearchSpace(space), seed=0, n_trials=8).notes() == []
    with pytest.warns(UserWarning, match="never run"):
        Study(
            "cut",
            strategy="grid",
            n_trials=2,
            space={"act": Categorical(["relu", "sigmoid", "tanh"])},
            config=Settings(epochs=1),
            directory=tmp_path,
        )
