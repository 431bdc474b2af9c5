"""The built-in network's own conditions: an optimizer's or activation's setting searched only
where it acts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hpsearch.builtin.config import TrainConfig
from hpsearch.space.conditions import Condition
from hpsearch.space.search_space import SearchSpace, parse_dimension
from hpsearch.study.study import Study


def study(tmp_path, config=None, **specs):
    space = SearchSpace({name: parse_dimension(spec) for name, spec in specs.items()})
    return Study("s", space=space, config=config, directory=tmp_path, progress=False, n_trials=4)


def test_an_optimizer_setting_is_searched_only_for_the_optimizers_that_use_it(tmp_path):
    st = study(
        tmp_path,
        optimizer="choice:sgd,momentum,nesterov,adam",
        momentum="float:0.5:0.95",
        beta1="float:0.8:0.95",
        lr="log:1e-3:1e-1",
    )
    assert st.space["momentum"].when == Condition("optimizer", ("momentum", "nesterov"))
    assert st.space["beta1"].when == Condition("optimizer", ("adam",))
    assert st.space["lr"].when is None
    assert "momentum=float:0.5:0.95 if optimizer=momentum,nesterov" in repr(st.space)


def test_h_swish_width_is_searched_for_h_swish_alone(tmp_path):
    st = study(tmp_path, activation="choice:relu,hswish", hswish_n="int:1:10")
    assert st.space["hswish_n"].when == Condition("activation", ("hswish",))


def test_a_setting_every_searched_choice_uses_needs_no_condition(tmp_path):
    st = study(tmp_path, optimizer="choice:momentum,nesterov", momentum="float:0.5:0.95")
    assert st.space["momentum"].when is None
    fixed = study(tmp_path, TrainConfig(optimizer="rmsprop"), decay_rate="float:0.9:0.999")
    assert fixed.space["decay_rate"].when is None


@pytest.mark.parametrize(
    ("config", "specs", "said"),
    [
        (None, {"momentum": "float:0.5:0.95"}, "optimizer=sgd does not use it"),
        (
            None,
            {"optimizer": "choice:sgd,adagrad", "decay_rate": "float:0.9:0.99"},
            "none of the optimizers searched uses it",
        ),
        (
            None,
            {"optimizer": "choice:sgd,momentum", "momentum": "float:0.5:0.9 if optimizer=sgd"},
            "optimizer=sgd, which does not use momentum",
        ),
        (TrainConfig(activation="relu"), {"hswish_n": "int:1:10"}, "activation=relu"),
    ],
)
def test_a_setting_searched_where_it_never_acts_is_refused(tmp_path, config, specs, said):
    with pytest.raises(ValueError, match=said) as caught:
        study(tmp_path, config, **specs)
    assert "\n" not in str(caught.value)
    assert not any(tmp_path.iterdir())


def test_the_command_line_refuses_it_in_one_line_and_writes_nothing(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "hpsearch", "random", "--param", "momentum=float:0.5:0.95",
         "--trials", "2", "--name", "m", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "optimizer=sgd does not use it" in run.stderr
    assert not (tmp_path / "studies").exists()
