"""PyTorch Hub entry points of the hubcheck reference repo.

``custom_model``: the PyTorch Hub tutorial's MLP trained on a make_blobs problem.
``DCGAN``: a small DCGAN of 32x32 digits with the pytorch_GAN_zoo hub surface.

    model = torch.hub.load("path/to/reference_repo", "custom_model", source="local")
    gan = torch.hub.load("path/to/reference_repo", "DCGAN", source="local", pretrained=True)

The ``X as X`` form marks a deliberate re-export: these two are the only public
callables here, so they are all ``torch.hub.list`` shows.
"""

dependencies = ["torch"]

from refzoo.hub import DCGAN as DCGAN, custom_model as custom_model  # noqa: E402
