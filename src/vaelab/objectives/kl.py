"""The KL term of a VAE: the closed form, and the tutorial's wrong line kept to study it."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaelab.distributions import DiagonalGaussian


def tutorial_kl(posterior: DiagonalGaussian) -> torch.Tensor:
    """The tutorial's KL line, sigma^2 + mu^2 - log(sigma) - 1/2 summed over dimensions. (B,)

    It is wrong: the closed form halves the first two terms. Up to a constant of
    0.5 * log(2) per dimension it is the KL to N(0, I/2) instead of N(0, I), so it pulls the
    codes into a prior half as wide in variance. Kept only to measure that effect.
    """
    log_sigma = 0.5 * posterior.logvar
    return (posterior.var + posterior.mean.square() - log_sigma - 0.5).sum(dim=-1)


KL: dict[str, Callable[[DiagonalGaussian], torch.Tensor]] = {
    "closed-form": DiagonalGaussian.kl,
    "tutorial": tutorial_kl,
}
