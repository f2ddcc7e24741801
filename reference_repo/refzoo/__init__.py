"""refzoo: the model package of the hubcheck reference PyTorch Hub repo.

Two models live here:

* :mod:`refzoo.mlp` -- the small multi-layer perceptron of the PyTorch Hub
  tutorial (``get_training_model``), trained on a scikit-learn ``make_blobs``
  problem by ``train.py``.
* :mod:`refzoo.dcgan` -- a small DCGAN (``Generator``, ``Discriminator`` and the
  ``DCGAN`` wrapper with the pytorch_GAN_zoo hub surface), trained on the
  scikit-learn digits by ``train_dcgan.py``.

The PyTorch Hub entry points are in :mod:`refzoo.hub`; ``hubconf.py`` re-exports
them. Submodules import each other relatively, so this package works both as the
top-level ``refzoo`` (the repo directory on ``sys.path``, as ``torch.hub`` does)
and as ``reference_repo.refzoo`` (the hubcheck project root on ``sys.path``).

Importing this package only defines things: it reads no files, downloads
nothing and prints nothing, and it never imports torchvision or scikit-learn.
"""

__all__ = ["dcgan", "hub", "mlp"]
