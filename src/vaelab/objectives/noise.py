"""Corrupted inputs for denoising models: the encoder sees the corrupted image, the
reconstruction term compares the decoder's output with the clean one (Vincent et al. 2008)."""

from __future__ import annotations

import torch

from vaelab.config import parse_noise


def corrupt(x: torch.Tensor, noise: str, generator: torch.Generator | None = None
            ) -> torch.Tensor:
    """Images x (B, C, H, W) in [0, 1], corrupted as ``noise`` says: 'gaussian:STD' adds
    N(0, STD^2) to every pixel's every channel and clips to [0, 1]; 'mask:SHARE' sets that
    share of the pixels, drawn at random, to 0 in all their channels (black holes in a colour
    image, not specks of other colours); 'none' returns x itself."""
    how = parse_noise(noise)
    if how is None:
        return x
    kind, level = how
    if kind == "gaussian":
        eps = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return (x + level * eps).clamp_(0, 1)
    b, _, h, w = x.shape
    keep = torch.rand((b, 1, h, w), generator=generator, device=x.device) >= level
    return x * keep  # (B, C, H, W): each pixel's channels kept or blanked together
