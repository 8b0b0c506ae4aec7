"""Encoder and decoder networks, sized from the image shape (C, H, W): a registry of
architectures, each a function that builds an encoder and its mirror-image decoder."""

from __future__ import annotations

from collections.abc import Callable

from vaelab.config import ModelConfig
from vaelab.errors import VaelabError, did_you_mean
from vaelab.nets.conv import conv_nets
from vaelab.nets.mlp import mlp, mlp_nets
from vaelab.nets.parts import ACTIVATIONS, Decoder, Encoder

NETS: dict[str, Callable[..., tuple[Encoder, Decoder]]] = {"mlp": mlp_nets, "conv": conv_nets}


def build_nets(config: ModelConfig, image_shape: tuple[int, int, int], encoder_outputs: int,
               side: int = 0) -> tuple[Encoder, Decoder]:
    """The configured architecture's encoder, (C, H, W) [+ side] -> encoder_outputs, and
    decoder, latent_dims [+ side] -> (C, H, W)."""
    try:
        make = NETS[config.arch]
    except KeyError:
        raise VaelabError(f"unknown arch {config.arch!r}{did_you_mean(str(config.arch), NETS)};"
                          f" choose one of: {', '.join(NETS)}") from None
    return make(tuple(image_shape), config.latent_dims, encoder_outputs, side,
                hidden_dims=config.hidden_dims, activation=config.activation,
                channels=config.channels)


__all__ = ["ACTIVATIONS", "NETS", "Decoder", "Encoder", "build_nets", "mlp"]
