"""The NumPy network of "Deep Learning from Scratch": layers, activations, optimizers."""

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
