"""The NumPy network of "Deep Learning from Scratch": layers, activations, optimizers."""

from hpsearch.nn.activations import ACTIVATIONS, make_activation
from hpsearch.nn.layers import Affine, SoftmaxWithLoss
from hpsearch.nn.net import MultiLayerNet, numerical_gradient
from hpsearch.nn.optimizers import OPTIMIZERS, SGD, Momentum, make_optimizer

__all__ = [
    "ACTIVATIONS",
    "Affine",
    "Momentum",
    "MultiLayerNet",
    "OPTIMIZERS",
    "SGD",
    "SoftmaxWithLoss",
    "make_activation",
    "make_optimizer",
    "numerical_gradient",
]
