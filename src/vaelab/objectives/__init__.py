"""Objectives: what training minimises and evaluation reports, as plain functions of a model
and a batch."""

from vaelab.objectives.elbo import (
    KL,
    RECONSTRUCTION,
    LossTerms,
    bce,
    loss_terms,
    means_per_image,
    objective_per_image,
    sse,
    tutorial_kl,
    wide_dtype,
)

__all__ = [
    "KL", "RECONSTRUCTION", "LossTerms", "bce", "loss_terms", "means_per_image",
    "objective_per_image", "sse", "tutorial_kl", "wide_dtype",
]
