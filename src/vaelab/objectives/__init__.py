"""Objectives: what training minimises and evaluation reports, as plain functions of a model
and a batch: the reconstruction term (the model's likelihood), the KL, the ELBO with a
weighted KL (beta, warm-up), the IWAE bound, and corrupted inputs for denoising."""

from vaelab.distributions import bce, sse
from vaelab.objectives.kl import KL, tutorial_kl
from vaelab.objectives.noise import corrupt
from vaelab.objectives.terms import (
    LossTerms,
    draw_batch,
    loss_terms,
    means_per_image,
    objective_per_image,
    wide_dtype,
)

__all__ = [
    "KL", "LossTerms", "bce", "corrupt", "draw_batch", "loss_terms", "means_per_image",
    "objective_per_image", "sse", "tutorial_kl", "wide_dtype",
]
