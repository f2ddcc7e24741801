"""Dataset helpers shared by the training, usage and inference scripts.

Both datasets are generated or shipped by scikit-learn, so everything runs
offline. scikit-learn is imported inside the functions: the hub entry points
never import this module, and ``dependencies = ["torch"]`` stays true for them.
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

#: ``make_blobs`` / ``train_test_split`` seed of the PyTorch Hub tutorial.
BLOBS_RANDOM_STATE = 95


def get_dataset(random_state: int = BLOBS_RANDOM_STATE) -> tuple[TensorDataset, TensorDataset]:
    """The tutorial's blobs problem, split into train and test sets.

    ``make_blobs(n_samples=1000, n_features=4, centers=3, cluster_std=2.5)``,
    split with ``train_test_split(test_size=0.15)``, both with ``random_state``.

    Args:
        random_state: Seed of both the generator and the split (the tutorial's 95).

    Returns:
        ``(train, test)`` ``TensorDataset``s of (float32 features ``[4]``,
        int64 label) pairs: 850 training and 150 test samples.
    """
    from sklearn.datasets import make_blobs
    from sklearn.model_selection import train_test_split

    x, y = make_blobs(n_samples=1000, n_features=4, centers=3, cluster_std=2.5, random_state=random_state)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.15, random_state=random_state)

    def to_dataset(features, labels) -> TensorDataset:
        return TensorDataset(torch.from_numpy(features).float(), torch.from_numpy(labels).long())

    return to_dataset(x_train, y_train), to_dataset(x_test, y_test)


def digits_32x32() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's handwritten digits as 32x32 images in ``[-1, 1]``.

    The 1797 8x8 images (values 0..16) are rescaled to ``[-1, 1]`` and upsampled
    to 32x32 with bilinear interpolation (``torch.nn.functional.interpolate``).

    Returns:
        ``(images, labels)``: float32 ``[1797, 1, 32, 32]`` and int64 ``[1797]``.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    return resize_digits(torch.from_numpy(digits.images)), torch.from_numpy(digits.target).long()


def resize_digits(images: torch.Tensor) -> torch.Tensor:
    """Rescale 8x8 digit images with values 0..16 to ``[-1, 1]`` and upsample to 32x32.

    Args:
        images: Tensor ``[n, 8, 8]`` (or ``[n, 1, 8, 8]``) with values in 0..16.

    Returns:
        Float32 tensor ``[n, 1, 32, 32]`` with values in ``[-1, 1]``.
    """
    images = images.float().reshape(-1, 1, 8, 8) / 8.0 - 1.0
    images = torch.nn.functional.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False)
    return images.clamp_(-1.0, 1.0)
