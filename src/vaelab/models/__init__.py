"""The models, behind one interface (``Autoencoder``'s), and the registry of their names."""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import torch
from torch import nn

from vaelab.config import ModelConfig
from vaelab.errors import VaelabError, did_you_mean
from vaelab.models.autoencoder import DRAW_BLOCK, Autoencoder, prepared_pixels
from vaelab.models.cvae import CVAE
from vaelab.models.vae import VAE

MODELS: dict[str, type[Autoencoder]] = {"ae": Autoencoder, "vae": VAE, "cvae": CVAE}
F = TypeVar("F", bound=Callable[..., Any])


def model_class(name: str) -> type[Autoencoder]:
    """The class registered under ``name``: what it can do is on the class (has_posterior,
    has_prior, conditional), before any model is built."""
    try:
        return MODELS[name]
    except KeyError:
        choices = ", ".join(MODELS)
        raise VaelabError(f"unknown model {name!r}{did_you_mean(str(name), MODELS)}; choose "
                          f"one of: {choices}") from None


def build_model(config: ModelConfig, image_shape: tuple[int, int, int], classes: int = 10
                ) -> Autoencoder:
    """A fresh model of the configured kind for images of the given (C, H, W) shape and, for
    a conditional model, ``classes`` labels."""
    if not isinstance(config, ModelConfig):  # a name, or a RunConfig, whose .model is one
        raise VaelabError(f"build_model takes a ModelConfig, as in ModelConfig(model='vae') or "
                          f"a RunConfig's .model, not {type(config).__name__}")
    return model_class(config.model)(config, image_shape, classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def in_float32(model: Autoencoder) -> Autoencoder:
    """``model``, or a float32 copy of it where its weights were made another type
    (``model.double()``, ``.half()``): what vaelab measures, and the explorer's page runs,
    computes in float32, as every model trains."""
    if all(p.dtype == torch.float32 for p in model.parameters()):
        return model
    return copy.deepcopy(model).float()


def leaves_modes(function: F) -> F:
    """``function``, which measures or draws with the models in its first argument (a model,
    a run, or a list of them) in eval mode, made to leave each in the mode it came in: a
    caller's model that was training is training after it."""
    first = next(iter(inspect.signature(function).parameters))  # given by name, or first

    @functools.wraps(function)
    def leaving(*args: Any, **kwargs: Any) -> Any:
        given = args[0] if args else kwargs.get(first)
        held = given if isinstance(given, (list, tuple)) else [given]
        models = [getattr(item, "model", item) for item in held]  # a Run's, or the model
        modes = [(model, model.training) for model in models if isinstance(model, nn.Module)]
        try:
            return function(*args, **kwargs)
        finally:
            for model, training in modes:
                model.train(training)
    return leaving  # type: ignore[return-value]


__all__ = ["CVAE", "DRAW_BLOCK", "MODELS", "VAE", "Autoencoder", "build_model", "count_parameters",
           "in_float32", "leaves_modes", "model_class", "prepared_pixels"]
