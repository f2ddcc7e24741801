"""A small DCGAN for 32x32 one-channel images, with the pytorch_GAN_zoo hub surface.

The PyTorch Hub tutorial loads ``facebookresearch/pytorch_GAN_zoo``'s DCGAN and
drives it through ``buildNoiseData``, ``test`` and ``getSize``. :class:`DCGAN`
keeps that surface, so the same client code runs against this repo, while also
being an ordinary ``nn.Module`` (``.to()``, ``state_dict()``, ``eval()`` work as
usual; its state dict is the generator's, under the ``netG.`` prefix).
"""

from __future__ import annotations

import torch
from torch import nn

#: Side of the square images the generator produces.
IMAGE_SIZE = 32
#: Default length of the latent (noise) vector.
LATENT_DIM = 64


class Generator(nn.Module):
    """DCGAN generator: a latent vector to a ``[1, 32, 32]`` image in ``[-1, 1]``.

    Four transposed convolutions (1 -> 4 -> 8 -> 16 -> 32 pixels) with batch
    normalisation and ReLU in between and ``tanh`` at the end; about 0.3 M
    parameters with the defaults.

    Args:
        latent_dim: Length of the input noise vector.
        ngf: Width multiplier (feature maps of the last hidden layer).
        channels: Number of image channels.
    """

    def __init__(self, latent_dim: int = LATENT_DIM, ngf: int = 32, channels: int = 1) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.main = nn.Sequential(
            # latent_dim x 1 x 1 -> (ngf*4) x 4 x 4
            nn.ConvTranspose2d(latent_dim, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # -> (ngf*2) x 8 x 8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # -> ngf x 16 x 16
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # -> channels x 32 x 32
            nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """Map noise of shape ``[n, latent_dim]`` (or ``[n, latent_dim, 1, 1]``) to images."""
        if noise.dim() == 2:
            noise = noise[:, :, None, None]
        return self.main(noise)


class Discriminator(nn.Module):
    """DCGAN discriminator: a ``[channels, 32, 32]`` image to one real/fake logit.

    Only ``train_dcgan.py`` uses it; it is not part of the published weights.

    Args:
        ndf: Width multiplier (feature maps of the first layer).
        channels: Number of image channels.
    """

    def __init__(self, ndf: int = 32, channels: int = 1) -> None:
        super().__init__()
        self.main = nn.Sequential(
            # channels x 32 x 32 -> ndf x 16 x 16
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (ndf*2) x 8 x 8
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # -> (ndf*4) x 4 x 4
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # -> 1 x 1 x 1
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Return one logit per image, shape ``[n]`` (no sigmoid applied)."""
        return self.main(images).flatten()


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGAN(nn.Module):
    """Generator wrapper with the pytorch_GAN_zoo hub surface.

    Client code written for ``torch.hub.load("facebookresearch/pytorch_GAN_zoo:hub",
    "DCGAN", ...)`` runs unchanged::

        noise, _ = model.buildNoiseData(64)
        with torch.no_grad():
            images = model.test(noise)

    Args:
        latent_dim: Length of the noise vector.
        ngf: Width multiplier of the generator.
    """

    def __init__(self, latent_dim: int = LATENT_DIM, ngf: int = 32) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.netG = Generator(latent_dim=latent_dim, ngf=ngf)
        self.netG.apply(init_weights)

    @property
    def device(self) -> torch.device:
        """The device the generator's parameters are on."""
        return next(self.netG.parameters()).device

    def buildNoiseData(
        self, nSamples: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, None]:
        """Draw latent vectors for ``nSamples`` images.

        Args:
            nSamples: Number of noise vectors to draw.
            generator: Optional CPU ``torch.Generator`` for reproducible noise;
                the noise is drawn on the CPU and then moved, so a seed gives the
                same noise on every device.

        Returns:
            ``(noise, None)``: noise of shape ``[nSamples, latent_dim]`` on the
            model's device, and ``None`` where pytorch_GAN_zoo returns the
            sampled class labels of conditional models.
        """
        noise = torch.randn(nSamples, self.latent_dim, generator=generator)
        return noise.to(self.device), None

    def getSize(self) -> tuple[int, int]:
        """Return the ``(height, width)`` of the generated images: ``(32, 32)``."""
        return (IMAGE_SIZE, IMAGE_SIZE)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """Generate images ``[n, 1, 32, 32]`` in ``[-1, 1]`` on the model's device."""
        return self.netG(noise.to(self.device))

    def test(self, input: torch.Tensor, toCPU: bool = True) -> torch.Tensor:
        """Generate images from noise without tracking gradients.

        Args:
            input: Noise of shape ``[n, latent_dim]``, e.g. from :meth:`buildNoiseData`;
                it is moved to the model's device.
            toCPU: Return the images on the CPU (the default) instead of on the
                model's device.

        Returns:
            Images of shape ``[n, 1, 32, 32]`` with values in ``[-1, 1]``.
        """
        with torch.no_grad():
            images = self(input)
        return images.cpu() if toCPU else images
