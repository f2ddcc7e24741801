"""PyTorch Hub entry points of the hubcheck project: the reference repo's models.

Loading the project root gives the same models as loading ``reference_repo/``:

``custom_model``: the PyTorch Hub tutorial's MLP trained on a make_blobs problem.
``DCGAN``: a small DCGAN of 32x32 digits with the pytorch_GAN_zoo hub surface.

    model = torch.hub.load("hubcheck/hubcheck", "custom_model", trust_repo=True)
    gan = torch.hub.load("path/to/hubcheck", "DCGAN", source="local", pretrained=True)

``reference_repo`` is imported as a namespace package (torch.hub puts this
directory on ``sys.path``). The ``X as X`` form marks a deliberate re-export:
these two are the only public callables here, so they are all
``torch.hub.list`` shows.
"""

dependencies = ["torch"]

from reference_repo.refzoo.hub import DCGAN as DCGAN, custom_model as custom_model  # noqa: E402
