"""The NumPy network of "Deep Learning from Scratch": layers, activations,
optimizers (loaded on first use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpsearch import lazy_exports

if TYPE_CHECKING:  # what a type checker and an editor see: the names themselves
    from hpsearch.builtin.nn.activations import ACTIVATIONS, activation_options, make_activation
    from hpsearch.builtin.nn.layers import Affine, BatchNormalization, Dropout, SoftmaxWithLoss
    from hpsearch.builtin.nn.net import MultiLayerNet, init_std, numerical_gradient
    from hpsearch.builtin.nn.optimizers import (
        OPTIMIZERS,
        SGD,
        AdaGrad,
        Adam,
        Momentum,
        Nesterov,
        RMSprop,
        make_optimizer,
        optimizer_settings,
    )

_EXPORTS = {
    "ACTIVATIONS": "activations",
    "AdaGrad": "optimizers",
    "Adam": "optimizers",
    "Affine": "layers",
    "BatchNormalization": "layers",
    "Dropout": "layers",
    "Momentum": "optimizers",
    "MultiLayerNet": "net",
    "Nesterov": "optimizers",
    "OPTIMIZERS": "optimizers",
    "RMSprop": "optimizers",
    "SGD": "optimizers",
    "SoftmaxWithLoss": "layers",
    "activation_options": "activations",
    "init_std": "net",
    "make_activation": "activations",
    "make_optimizer": "optimizers",
    "numerical_gradient": "net",
    "optimizer_settings": "optimizers",
}
if not TYPE_CHECKING:  # the checker reads the imports above: a misspelt name is flagged
    __getattr__, __dir__, _ = lazy_exports(__name__, _EXPORTS)
# Written out, so that a type checker reads it (the layout test holds it to _EXPORTS).
__all__ = [
    "ACTIVATIONS",
    "AdaGrad",
    "Adam",
    "Affine",
    "BatchNormalization",
    "Dropout",
    "Momentum",
    "MultiLayerNet",
    "Nesterov",
    "OPTIMIZERS",
    "RMSprop",
    "SGD",
    "SoftmaxWithLoss",
    "activation_options",
    "init_std",
    "make_activation",
    "make_optimizer",
    "numerical_gradient",
    "optimizer_settings",
]
