"""Distributions: the diagonal Gaussian posterior of the encoders."""

from vaelab.distributions.gaussian import LOG_2PI, LOGVAR_MAX, LOGVAR_MIN, DiagonalGaussian

__all__ = ["LOGVAR_MAX", "LOGVAR_MIN", "LOG_2PI", "DiagonalGaussian"]
