"""The models: an autoencoder and a variational autoencoder with the same decoder.

Both map images (B, C, H, W) with pixels in [0, 1] to codes (B, d) and back. Models only
compute; the objective lives in ``losses``, the loop in ``train``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vaelab.config import ModelConfig
from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError
from vaelab.nn import mlp


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


class VAE(Autoencoder):
    """The tutorial's VAE: the AE's layers, with the encoder's last layer giving for each
    dimension a mean and a log-variance (the tutorial's two heads, as one matrix).

    ``encode`` returns the posterior q(z|x) as a ``DiagonalGaussian``.
    """

    def _encoder_outputs(self) -> int:
        return 2 * self.config.latent_dims

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """Images (B, C, H, W) -> posterior q(z|x) over (B, d)."""
        mean, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)  # (B, 2d) -> 2 x (B, d)
        return DiagonalGaussian(mean, logvar)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean of each image. (B, C, H, W) -> (B, d)"""
        return self.encode(x).mode()

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode n draws from the prior N(0, I): (n, C, H, W) images."""
        z = torch.randn(n, self.latent_dims, generator=generator, device=self.device)
        return self.decode(z)


MODELS: dict[str, type[Autoencoder]] = {"ae": Autoencoder, "vae": VAE}


def build_model(config: ModelConfig, image_shape: tuple[int, int, int]) -> Autoencoder:
    """A fresh model of the configured kind for images of the given (C, H, W) shape."""
    try:
        model_class = MODELS[config.model]
    except KeyError:
        choices = ", ".join(MODELS)
        raise VaelabError(f"unknown model {config.model!r}; choose one of: {choices}") from None
    return model_class(config, image_shape)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
