"""The variational autoencoder: a Gaussian posterior q(z|x) per image and a prior N(0, I)."""

from __future__ import annotations

import torch

from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError, named
from vaelab.models.autoencoder import Autoencoder


class VAE(Autoencoder):
    """The tutorial's VAE: the AE's layers, with the encoder's last layer giving for each
    dimension a mean and a log-variance (the tutorial's two heads, as one matrix).

    ``encode`` returns the posterior q(z|x) as a ``DiagonalGaussian``.
    """

    has_posterior = True
    has_prior = True

    def _encoder_outputs(self) -> int:
        return 2 * self.config.latent_dims

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """Images (B, C, H, W), pixels in [0, 1] or uint8 -> posterior q(z|x) over (B, d)."""
        out = self.encoded(x, y)  # (B, 2d)
        mean, logvar = out.chunk(2, dim=1)  # 2 x (B, d)
        return DiagonalGaussian(mean, logvar)

    def embed(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean of each image. (B, C, H, W) -> (B, d)"""
        return self.encode(x, y).mode()

    @torch.no_grad()  # images to look at, as a plot wants them (no graph to keep)
    def sample(self, n: int, generator: torch.Generator | None = None,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I): (n, C, H, W) images with pixels in [0, 1]
        (each pixel's mean under p(x|z)), the same for the same ``generator`` state. Only a
        conditional model draws a chosen class ``y``."""
        if y is not None and not self.conditional:
            raise VaelabError(f"a {self.config.model.upper()} draws no chosen class, and y "
                              f"would be ignored; a CVAE "
                              f"({named('--model cvae', 'model=' + repr('cvae'))}) does")
        return self.decode(self.prior_draws(n, generator), y)
