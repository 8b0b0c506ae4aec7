"""Building blocks shared by the models."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn


def mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers of the given sizes with a ReLU between each two, none after the last.

    mlp([784, 512, 2]) is Linear(784, 512) -> ReLU -> Linear(512, 2).
    """
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)
