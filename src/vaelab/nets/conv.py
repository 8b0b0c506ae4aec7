"""Convolutions: stride-2 convolutions that halve the image at each step, dense layers in the
middle, and transposed convolutions that double it back, for images of any channel count and
size (odd sizes too)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import nn

from vaelab.errors import VaelabError, named
from vaelab.nets.mlp import mlp
from vaelab.nets.parts import ACTIVATIONS, Decoder, Encoder

KERNEL, STRIDE, PADDING = 4, 2, 1  # each convolution maps a side of n pixels to n // 2


def conv_nets(image_shape: tuple[int, int, int], latent_dims: int, encoder_outputs: int,
              side: int, hidden_dims: Sequence[int], activation: str,
              channels: Sequence[int] = (32, 64), **_: object) -> tuple[Encoder, Decoder]:
    """Encoder: (C, H, W) -> conv 4x4/2 to channels[0] -> ... -> channels[-1] x h x w ->
    flatten [+ side] -> hidden... -> encoder_outputs. Decoder: the mirror image, with
    transposed convolutions whose output padding restores each size exactly."""
    c, height, width = image_shape
    sizes = [(height, width)]
    for _ in channels:
        h, w = sizes[-1]
        if min(h, w) < 2:
            raise VaelabError(f"images of {height}x{width} pixels are too small for "
                              f"{len(channels)} stride-2 convolutions; " + named(
                                  "choose --arch mlp or a larger --image-size (vaelab train "
                                  "also takes fewer --channels)", "choose arch='mlp', a larger "
                                  "image_size or fewer channels"))
        sizes.append((h // STRIDE, w // STRIDE))
    act = ACTIVATIONS[activation]
    widths = [c, *channels]
    flat = channels[-1] * math.prod(sizes[-1])

    body: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(widths):
        body += [nn.Conv2d(n_in, n_out, KERNEL, STRIDE, PADDING), act()]
    body.append(nn.Flatten())  # (B, channels[-1], h, w) -> (B, flat)
    hidden = list(hidden_dims)
    encoder = Encoder(nn.Sequential(*body), mlp([flat + side, *hidden, encoder_outputs],
                                                activation))

    up: list[nn.Module] = [act(), nn.Unflatten(1, (channels[-1], *sizes[-1]))]
    for i in range(len(channels), 0, -1):  # from the smallest map back to the image
        (h, w), (h_small, w_small) = sizes[i - 1], sizes[i]
        padding = (h - STRIDE * h_small, w - STRIDE * w_small)  # 0 or 1: the odd pixel
        up.append(nn.ConvTranspose2d(widths[i], widths[i - 1], KERNEL, STRIDE, PADDING,
                                     output_padding=padding))
        if i > 1:
            up.append(act())
    decoder = Decoder(mlp([latent_dims + side, *reversed(hidden), flat], activation),
                      nn.Sequential(*up))
    return encoder, decoder
