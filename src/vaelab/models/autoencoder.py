"""The autoencoder: a point per image. Maps images (B, C, H, W) with pixels in [0, 1] to codes
(B, d) and back. Models only compute; the objective lives in ``vaelab.objectives``, the loop in
``vaelab.training``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.config import ModelConfig
from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError
from vaelab.nets import mlp


class Autoencoder(nn.Module):
    """The tutorial's AE: flatten -> 784-512-d encoder -> d-512-784 decoder -> sigmoid.

    ``encode`` returns the code itself: each image is mapped to one point.
    """

    def __init__(self, config: ModelConfig, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.config = config
        self.image_shape = tuple(image_shape)
        pixels = math.prod(self.image_shape)
        hidden = list(config.hidden_dims)
        self.encoder = mlp([pixels, *hidden, self._encoder_outputs()], config.activation)
        self.decoder = mlp([config.latent_dims, *reversed(hidden), pixels], config.activation)

    def _encoder_outputs(self) -> int:
        return self.config.latent_dims

    @property
    def latent_dims(self) -> int:
        return self.config.latent_dims

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> torch.Tensor | DiagonalGaussian:
        """Images (B, C, H, W) -> codes (B, d)."""
        return self.encoder(x.flatten(1))  # (B, C, H, W) -> (B, C*H*W) -> (B, d)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code of each image: the code itself here. (B, C, H, W) -> (B, d)"""
        return self.encode(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (B, d) -> pixel logits (B, C, H, W), before the sigmoid."""
        return self.decoder(z).unflatten(1, self.image_shape)  # (B, C*H*W) -> (B, C, H, W)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Codes (B, d) -> images (B, C, H, W) with pixels in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode(embed(x)): (B, C, H, W) -> (B, C, H, W)."""
        return self.decode(self.embed(x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise VaelabError("an AE has no prior to sample from; train a VAE (--model vae) for that")
