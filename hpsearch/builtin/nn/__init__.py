"""The NumPy network of "Deep Learning from Scratch": layers, activations,
optimizers (loaded on first use).
"""

from __future__ import annotations

from hpsearch import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
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
    },
)
