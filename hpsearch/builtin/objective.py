"""The built-in network as an objective: ``MultiLayerNet`` and its trainer, called with a trial
handle like any user's function.

It reads the handle as a user's objective does (params, epochs, data, the trial's own
generator, the checkpoint of its last rung) and answers the same way: per-epoch reports, final
metrics, :class:`~hpsearch.exceptions.TrialDiverged` or
:class:`~hpsearch.exceptions.TrialTimedOut`; it keeps its state between rungs through
``trial.set_checkpoint``, as a user's code does.

What only this objective does has a method of its own, which the study calls where an objective
has it: :meth:`NetworkObjective.work` (how much training a study asks, to choose threads or
processes) and :meth:`NetworkObjective.save_chosen` (``model.npz``). :func:`train_trial`,
:func:`train_rung` and :func:`train_repeat` train one run of it outside a study.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hpsearch.builtin.config import TrainConfig
from hpsearch.builtin.model import save_chosen
from hpsearch.builtin.nn.net import MultiLayerNet
from hpsearch.builtin.training import Trainer, build_optimizer, net_for
from hpsearch.exceptions import TrialDiverged, TrialTimedOut
from hpsearch.execution.runner import run_objective
from hpsearch.execution.workers import Task
from hpsearch.records import RepeatResult, TrialResult, TrialState
from hpsearch.settings import Settings
from hpsearch.trial import ObjectiveState, Trial

__all__ = ["BUILTIN", "NetworkObjective", "train_repeat", "train_rung", "train_trial"]

#: The reference a study records for the built-in network's objective.
BUILTIN = "hpsearch:MultiLayerNet"
# Features of an image of the built-in datasets (28 x 28), for the estimate of a study's work.
INPUT_SIZE = 784


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

    def work(self, runs: int) -> float:
        """The training work of ``runs`` runs (runs x epochs x training images x weights)."""
        cfg = self.config
        sizes = [INPUT_SIZE, *cfg.hidden, 10]
        weights = sum(a * b for a, b in itertools.pairwise(sizes))
        return runs * cfg.epochs * cfg.samples * (1 - cfg.val_ratio) * weights

    def save_chosen(
        self,
        folder: Path,
        runs: Mapping[tuple[int, int, bool], RepeatResult],
        number: int,
        refit: bool,
        seed: int,
    ) -> Path | None:
        """Saves the chosen configuration's network, in the book's names, as ``model.npz`` (see
        :func:`hpsearch.builtin.model.save_chosen`); returns the path when this call wrote it."""
        config = self.config
        return save_chosen(
            folder,
            config,
            runs,
            number,
            refit,
            lambda run: train_repeat(config, run.params, seed, run.number, 0, refit=refit),
        )

    def __call__(self, trial: Trial) -> dict[str, float]:
        cfg = self.config.with_params(trial.params)
        d = trial.data
        # Sized by every label of the search's split (a refit run holds them all in training);
        # kept for the caller only once set here: threads of one study share this object.
        net = self.net = net_for(cfg, d.input_size, d.n_classes, trial.rng)
        test = (d.x_test, d.t_test) if d.x_test is not None and d.t_test is not None else None
        trainer = Trainer(
            net,
            build_optimizer(cfg),
            d,
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
        trial.deadline = None  # the trainer kept the time limit itself; its epochs are all told
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
            trial.set_checkpoint(trainer.checkpoint())
        if h.val_acc:
            final["val_acc"] = h.val_acc[-1]
        return final


def _run(
    config: TrainConfig, seed: int, task: Task
) -> tuple[TrialResult | RepeatResult, ObjectiveState | None, NetworkObjective]:
    objective = NetworkObjective(config)
    record, saved = run_objective(objective, BUILTIN, "val_acc", Settings.of(config), seed, task)
    return record, saved, objective


def train_trial(
    config: TrainConfig, params: Mapping[str, Any], seed: int, number: int
) -> TrialResult:
    """Trains one trial of the built-in network and returns its record; never raises for a
    trial's own failure.

    The same arguments give the same record anywhere: the trial computes on one BLAS thread
    (see :func:`hpsearch.execution.blas.one_blas_thread`) whatever the caller's thread settings.

    Args:
        config: The study's fixed settings.
        params: This trial's searched values, overriding ``config``.
        seed: The study seed (fixes the split; with ``number`` fixes init and batch order).
        number: The trial number.

    Returns:
        The frozen record: COMPLETE, DIVERGED, TIMEOUT or FAILED.
    """
    return train_rung(config, params, seed, number)[0]


def train_rung(
    config: TrainConfig,
    params: Mapping[str, Any],
    seed: int,
    number: int,
    until: int | None = None,
    checkpoint: ObjectiveState | None = None,
) -> tuple[TrialResult, ObjectiveState | None]:
    """Trains one trial of the built-in network up to epoch ``until``, from ``checkpoint``.

    Returns:
        The record (PRUNED while the trial is paused before its last epoch, to be confirmed or
        continued by the study) and, for a paused trial, its checkpoint.
    """
    record, saved, _ = _run(config, seed, Task(number, dict(params), until, checkpoint))
    assert isinstance(record, TrialResult)
    return record, saved


def train_repeat(
    config: TrainConfig,
    params: Mapping[str, Any],
    seed: int,
    number: int,
    repeat: int,
    *,
    refit: bool = False,
    test_curve: bool = False,
) -> tuple[RepeatResult, MultiLayerNet | None]:
    """Trains trial ``number``'s params again with fresh seeds, and scores it on the test part.

    The split is the search's own (the study seed fixes it); the initial weights and the batch
    order come from a stream of the study seed, ``number`` and ``repeat`` alone, so the result
    is the same on any worker, any number of workers, and after a resume.

    Args:
        config: The study's fixed settings.
        params: The searched values of trial ``number``.
        seed: The study seed.
        number: The trial repeated.
        repeat: The repeat index.
        refit: Train on the training and validation images together (no validation score).
        test_curve: Score the test part after every epoch (one more forward pass over it each
            epoch), for the epoch-by-epoch columns of a comparison; otherwise once at the end.

    Returns:
        The frozen record (never raises for the run's own failure: FAILED, DIVERGED, TIMEOUT)
        and the trained network (None if the run failed before it had one).
    """
    task = Task(number, dict(params), repeat=repeat, refit=refit, test_curve=test_curve)
    record, _, objective = _run(config, seed, task)
    assert isinstance(record, RepeatResult)
    return record, objective.net if record.state is not TrialState.FAILED else None
