"""The models, behind one interface, and the registry of their names."""

from __future__ import annotations

from torch import nn

from vaelab.config import ModelConfig
from vaelab.errors import VaelabError
from vaelab.models.autoencoder import Autoencoder
from vaelab.models.vae import VAE

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
