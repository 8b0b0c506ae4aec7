"""How grey images are drawn. The datasets vaelab knows by name (MNIST and its kin: light
shapes on black) are drawn as ink on paper, a pixel of 1 black, as papers and textbooks print
them; anyone's own grey images are drawn as they are, a pixel of 1 white, so that a photograph
does not come out as its negative. Colour images are always drawn as they are."""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

import numpy as np
import torch

from vaelab.data import DATASETS
from vaelab.measuring.latent import Manifold

Pixels = TypeVar("Pixels", np.ndarray, torch.Tensor)


def ink_on_paper(dataset: str) -> bool:
    """Whether a dataset's grey images are drawn as ink on paper: only a registered one's."""
    return dataset in DATASETS


def as_drawn(grey: Pixels, ink: bool) -> Pixels:
    """Grey pixels in [0, 1] as they are to be seen, 0 black and 1 white: flipped for ``ink``."""
    return 1 - grey if ink else grey


def pictures_of(images: torch.Tensor, ink: bool) -> np.ndarray:
    """Images (N, C, H, W) -> arrays to draw: (N, H, W) grey, flipped to ink on paper for
    ``ink``, or (N, H, W, C) colour."""
    images = images.detach().float().cpu()
    if images.shape[1] == 1:
        return as_drawn(images[:, 0].numpy(), ink)
    return images.permute(0, 2, 3, 1).numpy()


def drawn_manifold(manifold: Manifold, ink: bool) -> Manifold:
    """A manifold's picture as it is drawn: a grey one flipped to ink on paper for ``ink``."""
    if manifold.picture.ndim == 3:  # colour
        return manifold
    return replace(manifold, picture=as_drawn(manifold.picture, ink))
