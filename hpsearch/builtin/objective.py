"""The built-in network as an objective: ``MultiLayerNet`` and its trainer, called with a trial
handle like any user's function.

It reads the handle as a user's objective does (params, epochs, data, the trial's own
generator, the checkpoint of its last rung) and answers the same way: per-epoch reports, final
metrics, :class:`~hpsearch.exceptions.TrialDiverged` or
:class:`~hpsearch.exceptions.TrialTimedOut`. The one difference is the state it keeps between
rungs: a :class:`~hpsearch.trial.Checkpoint` of the network, its optimizer and its generator.
"""

from __future__ import annotations

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.nn.net import MultiLayerNet
from hpsearch.builtin.training import Trainer, build_optimizer, net_for
from hpsearch.data.split import Split
from hpsearch.exceptions import TrialDiverged, TrialTimedOut
from hpsearch.trial import Trial, TrialState

__all__ = ["NetworkObjective"]


class NetworkObjective:
    """Trains the study's ``MultiLayerNet`` (its :class:`TrainConfig`, with the trial's params)
    for one trial, rung or confirm-stage run.

    Args:
        config: The study's fixed settings.

    Attributes:
        net: The network of the last call in this process (for saving the chosen model).
    """

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.net: MultiLayerNet | None = None

    def __call__(self, trial: Trial) -> dict[str, float]:
        cfg = self.config.with_params(trial.params)
        d = trial.data
        split = Split(d.x_train, d.t_train, d.x_val, d.t_val)
        # Sized by every label of the search's split (a refit run holds them all in training).
        classes = int(max(t.max() for t in (d.t_train, d.t_val) if len(t))) + 1
        self.net = net_for(cfg, split.input_size, classes, trial.rng)
        test = (d.x_test, d.t_test) if d.x_test is not None and d.t_test is not None else None
        trainer = Trainer(
            self.net,
            build_optimizer(cfg),
            split,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            rng=trial.rng,
            time_limit=cfg.time_limit,
            full_train_pass=cfg.train_eval == "full",
            test=test if trial.test_curve else None,
        )
        if trial.checkpoint is not None:
            trainer.restore(trial.checkpoint)
        h = trainer.train(trial.epochs)
        for epoch, (train, loss) in enumerate(zip(h.train_acc, h.loss, strict=True), 1):
            scores = {"train_acc": train, "loss": loss}
            if h.val_acc:
                scores["val_acc"] = h.val_acc[epoch - 1]
            if h.test_acc:
                scores["test_acc"] = h.test_acc[epoch - 1]
            trial.report(epoch, **scores)
        if h.state is TrialState.DIVERGED:
            raise TrialDiverged(h.error or "the loss is not finite")
        final = {}
        if test is not None:
            final["test_acc"] = h.test_acc[-1] if h.test_acc else trainer.accuracy(*test)
        if h.state is TrialState.TIMEOUT:
            raise TrialTimedOut(h.error or "time limit reached", **final)
        if len(h.loss) < cfg.epochs:
            trial.set_checkpoint(trainer.checkpoint(trial.number))
        if h.val_acc:
            final["val_acc"] = h.val_acc[-1]
        return final
