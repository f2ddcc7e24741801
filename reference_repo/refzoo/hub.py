"""PyTorch Hub entry points of the reference repo: ``custom_model`` and ``DCGAN``.

``hubconf.py`` re-exports exactly these two functions. Committed weights are
found relative to this file (never the caller's working directory) and loaded
with ``torch.load(..., map_location="cpu", weights_only=True)``.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .dcgan import DCGAN as _DCGANModel
from .mlp import get_training_model as _get_training_model

_WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights")
MLP_WEIGHTS = os.path.join(_WEIGHTS_DIR, "mlp_blobs.pth")
DCGAN_WEIGHTS = os.path.join(_WEIGHTS_DIR, "dcgan_digits.pth")


def _load_state_dict(path: str) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def custom_model(pretrained: bool = True, **kwargs) -> nn.Sequential:
    """The PyTorch Hub tutorial's MLP, trained on a 3-class ``make_blobs`` problem.

    Four input features, one hidden layer of 8 ReLU units, three output logits
    (layers ``hidden_layer_1``, ``activation_1``, ``output_layer``). The
    committed weights come from ``train.py`` and reach at least 98% test
    accuracy on the ``make_blobs(n_samples=1000, n_features=4, centers=3,
    cluster_std=2.5, random_state=95)`` data split with
    ``train_test_split(test_size=0.15, random_state=95)``.

    Args:
        pretrained: If ``True`` (the default), load the committed weights
            ``refzoo/weights/mlp_blobs.pth``; if ``False``, return a randomly
            initialised model (seed with ``torch.manual_seed`` for
            reproducibility).
        **kwargs: Passed to ``refzoo.mlp.get_training_model``: ``inFeatures``
            (default 4), ``hiddenDim`` (default 8) and ``nbClasses`` (default 3).
            The pretrained weights only fit the defaults.

    Returns:
        An ``nn.Sequential`` on the CPU in ``eval()`` mode, mapping a float
        tensor ``[batch, 4]`` to logits ``[batch, 3]``.

    Raises:
        ValueError: If ``pretrained=True`` is combined with a non-default
            architecture in ``kwargs``.

    Example:
        >>> import torch
        >>> model = torch.hub.load("path/to/reference_repo", "custom_model",
        ...                        source="local", pretrained=True)
        >>> logits = model(torch.randn(5, 4))
        >>> logits.shape
        torch.Size([5, 3])
    """
    model = _get_training_model(**kwargs)
    if pretrained:
        defaults = {"inFeatures": 4, "hiddenDim": 8, "nbClasses": 3}
        changed = {k: v for k, v in kwargs.items() if defaults.get(k, v) != v}
        if changed:
            raise ValueError(
                f"the pretrained weights need the default architecture {defaults}; "
                f"got {changed}; pass pretrained=False for a custom size"
            )
        model.load_state_dict(_load_state_dict(MLP_WEIGHTS))
    return model.eval()


def DCGAN(pretrained: bool = True, useGPU: bool = False, **kwargs) -> _DCGANModel:
    """A small DCGAN generator of 32x32 handwritten digits, pytorch_GAN_zoo style.

    The returned object keeps the hub surface of
    ``facebookresearch/pytorch_GAN_zoo``'s ``DCGAN``, so the tutorial's client
    code runs against it: ``noise, _ = model.buildNoiseData(n)`` draws latent
    vectors ``[n, 64]`` on the model's device, ``model.test(noise)`` returns
    images ``[n, 1, 32, 32]`` in ``[-1, 1]`` (on the CPU unless
    ``toCPU=False``), ``model.getSize()`` is ``(32, 32)`` and ``model.netG`` is
    the generator. It is also an ordinary ``nn.Module``: ``model(noise)`` runs
    the generator and ``model.state_dict()`` loads strictly into
    ``DCGAN(pretrained=False)``. The committed weights come from
    ``train_dcgan.py`` on scikit-learn's 8x8 digits, upsampled to 32x32.

    Args:
        pretrained: If ``True`` (the default), load the committed generator
            weights ``refzoo/weights/dcgan_digits.pth``; if ``False``, return a
            generator with the DCGAN random initialisation.
        useGPU: If ``True`` and ``torch.cuda.is_available()``, put the model on
            the current CUDA device; otherwise (or without CUDA) it stays on the
            CPU.
        **kwargs: Passed to ``refzoo.dcgan.DCGAN``: ``latent_dim`` (default 64)
            and ``ngf`` (default 32). The pretrained weights only fit the
            defaults.

    Returns:
        A ``refzoo.dcgan.DCGAN`` module in ``eval()`` mode.

    Raises:
        ValueError: If ``pretrained=True`` is combined with a non-default
            architecture in ``kwargs``.

    Example:
        >>> import torch, torchvision
        >>> model = torch.hub.load("path/to/reference_repo", "DCGAN", source="local",
        ...                        pretrained=True, useGPU=torch.cuda.is_available())
        >>> noise, _ = model.buildNoiseData(64)
        >>> with torch.no_grad():
        ...     images = model.test(noise)
        >>> grid = torchvision.utils.make_grid(images, normalize=True, value_range=(-1, 1))
    """
    model = _DCGANModel(**kwargs)
    if pretrained:
        defaults = {"latent_dim": 64, "ngf": 32}
        changed = {k: v for k, v in kwargs.items() if defaults.get(k, v) != v}
        if changed:
            raise ValueError(
                f"the pretrained weights need the default architecture {defaults}; "
                f"got {changed}; pass pretrained=False for a custom size"
            )
        model.netG.load_state_dict(_load_state_dict(DCGAN_WEIGHTS))
    if useGPU and torch.cuda.is_available():
        model = model.cuda()
    return model.eval()
