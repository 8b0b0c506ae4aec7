"""Dense layers: the tutorial's encoder and decoder."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import nn

from vaelab.nets.parts import ACTIVATIONS, Decoder, Encoder


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given sizes with an activation between each two, none after the
    last.

    mlp([784, 512, 2]) is Linear(784, 512) -> ReLU -> Linear(512, 2).
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(ACTIVATIONS[activation]())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def mlp_nets(image_shape: tuple[int, int, int], latent_dims: int, encoder_outputs: int,
             side: int, hidden_dims: Sequence[int], activation: str, **_: object
             ) -> tuple[Encoder, Decoder]:
    """Flatten -> C*H*W [+ side] -> hidden... -> encoder_outputs, and the mirror image:
    d [+ side] -> ...hidden -> C*H*W -> (C, H, W). The tutorial's is 784-512-2 and 2-512-784."""
    pixels = math.prod(image_shape)
    hidden = list(hidden_dims)
    encoder = Encoder(nn.Flatten(), mlp([pixels + side, *hidden, encoder_outputs], activation))
    decoder = Decoder(mlp([latent_dims + side, *reversed(hidden), pixels], activation),
                      nn.Unflatten(1, tuple(image_shape)))
    return encoder, decoder
