"""Distributions: the diagonal Gaussian posterior of the encoders, and the decoders'
likelihoods p(x|z), one registry entry each."""

from vaelab.distributions.gaussian import (
    LOG_2PI,
    LOGVAR_MAX,
    LOGVAR_MIN,
    DiagonalGaussian,
    check_generator,
    draw_count,
)
from vaelab.distributions.likelihoods import (
    LIKELIHOODS,
    Bernoulli,
    DiscretizedLogistic,
    LearnedGaussian,
    Likelihood,
    SquaredError,
    bce,
    build_likelihood,
    likelihood_label,
    sse,
)

__all__ = [
    "LIKELIHOODS", "LOGVAR_MAX", "LOGVAR_MIN", "LOG_2PI", "Bernoulli", "DiagonalGaussian",
    "DiscretizedLogistic", "LearnedGaussian", "Likelihood", "SquaredError", "bce",
    "build_likelihood", "check_generator", "draw_count", "likelihood_label", "sse",
]
