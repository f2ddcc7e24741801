"""The multi-layer perceptron of the PyTorch Hub tutorial."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


def get_training_model(inFeatures: int = 4, hiddenDim: int = 8, nbClasses: int = 3) -> nn.Sequential:
    """Build the tutorial's two-layer perceptron.

    The parameter names follow the PyTorch Hub tutorial so that its training
    and usage scripts run unchanged.

    Args:
        inFeatures: Number of input features (4 for the ``make_blobs`` data).
        hiddenDim: Width of the single hidden layer.
        nbClasses: Number of output classes (logits; no softmax is applied).

    Returns:
        An ``nn.Sequential`` whose layers are named ``hidden_layer_1``
        (``Linear(inFeatures, hiddenDim)``), ``activation_1`` (``ReLU``) and
        ``output_layer`` (``Linear(hiddenDim, nbClasses)``), randomly
        initialised and in training mode.
    """
    return nn.Sequential(
        OrderedDict(
            [
                ("hidden_layer_1", nn.Linear(inFeatures, hiddenDim)),
                ("activation_1", nn.ReLU()),
                ("output_layer", nn.Linear(hiddenDim, nbClasses)),
            ]
        )
    )
