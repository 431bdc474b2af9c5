"""How the per-epoch training accuracy is measured: running (default) or a full pass."""

from __future__ import annotations

import numpy as np

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.nn.optimizers import SGD
from hpsearch.builtin.objective import train_trial
from hpsearch.builtin.training import Trainer, net_for
from hpsearch.data.split import make_split
from hpsearch.seeding import TRAIN, rng_for


def _trainer(lr: float, full: bool, epochs: int = 3) -> Trainer:
    config = TrainConfig(hidden=(30, 30), samples=300, epochs=epochs)
    split = make_split(config.dataset, config.samples, config.val_ratio, 0, config.dtype)
    rng = rng_for(0, 1, TRAIN)
    net = net_for(config, split.input_size, split.n_classes, rng)
    return Trainer(net, SGD(lr), split, epochs=epochs, batch_size=50, rng=rng, full_train_pass=full)


def test_full_pass_is_the_accuracy_of_the_trained_net_on_the_training_set() -> None:
    trainer = _trainer(0.05, full=True)
    history = trainer.train()
    split = trainer.split
    assert history.train_acc[-1] == trainer.net.accuracy(split.x_train, split.t_train)
    assert history.val_acc[-1] == trainer.net.accuracy(split.x_val, split.t_val)


def test_running_accuracy_counts_each_training_image_once_per_epoch() -> None:
    # With a step too small to change a prediction, every batch is scored by the initial net,
    # so the running count equals a full pass of that net over the training set.
    still = _trainer(1e-12, full=False, epochs=1)
    before = still.net.accuracy(still.split.x_train, still.split.t_train)
    still.train()
    assert still.history.train_acc[0] == before


def test_both_ways_train_the_same_net() -> None:
    params = {"lr": 0.02}
    running = train_trial(TrainConfig(hidden=(30, 30), samples=300, epochs=4), params, 0, 2)
    full = train_trial(
        TrainConfig(hidden=(30, 30), samples=300, epochs=4, train_eval="full"), params, 0, 2
    )
    assert running.val_curve == full.val_curve and running.loss_curve == full.loss_curve
    assert np.all(np.array(running.train_curve) >= 0) and len(full.train_curve) == 4
