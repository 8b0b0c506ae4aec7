"""What a run page says of each figure: its heading, what to look for in it, worded for the
runs the page shows (with or without classes, conditional or not, of two latent dimensions or
more)."""

from __future__ import annotations

from collections.abc import Sequence

from vaelab.pictures.plots import MOST_NAMED
from vaelab.training.datasets import class_names
from vaelab.training.runs import Run

LOSS = "loss.png"  # drawn from metrics.jsonl

# (file in figures/, heading, what to look for); {classes} is worded by WITH_CLASSES
SECTIONS = [
    ("latent.png", "Latent codes",
     "Where the encoder puts each test image (the posterior mean for a VAE), {classes}. An AE "
     "is free to spread codes anywhere; a VAE's KL term pulls them into the prior's region "
     "around the origin."),
    ("manifold.png", "The decoder over the latent plane",
     "Decoded images on a regular grid over the region that the model's own test codes "
     "occupy, so that two models' grids may span very different areas: mind the axes. Where "
     "no training code landed, nothing taught the decoder what to draw; it may carry the "
     "nearest images on, or draw shapes unlike any. Where a classifier of the dataset judges "
     "them, vaelab eval's row \u201ccodes' grid\u201d is the share of these tiles that it puts "
     "in one class with p \u2265 0.9."),
    ("manifold_prior.png", "The decoder at the prior's quantiles",
     "The grid placed at equal steps of prior probability, from the 5% to the 95% quantile on "
     "each axis, so every tile stands for the same share of the prior N(0, I): what samples "
     "from a VAE look like, region by region. Each tick gives a code's value and, in brackets, "
     "its quantile; the values are not evenly spaced."),
    ("reconstructions.png", "Reconstructions",
     "Test images on top ({classes}) and the decoding of each one's code below. A latent space "
     "of few dimensions blurs them; how much is the reconstruction term in the tables."),
    ("denoising.png", "Denoising",
     "A denoising model learned to map corrupted images to clean ones: the corrupted test "
     "image it is given, what it draws, and the clean image it should draw."),
    ("samples.png", "Samples from the prior",
     "Decodings of z ~ N(0, I), each tile the decoder's output for one z (the mean of p(x|z), "
     "or for a learned Gaussian or logistic its location clamped to [0, 1]: without its pixel "
     "noise){classes}"),
    ("interpolation.png", "Interpolation",
     "The straight line between the codes of two test images {classes}, decoded at even "
     "steps."),
    ("interpolation.gif", "Interpolation, animated",
     "The same line walked there and back."),
    (LOSS, "Training curves",
     "Terms per image: on the training set averaged over each epoch as it trained (solid), "
     "on the test set after it (dashed). The first epoch's training figures average over a "
     "model still learning, so they differ most from the test ones there (a higher loss, "
     "usually)."),
]

CROSS_ENTROPY = (" Of Bernoulli pixels on images not binarized the reconstruction term is a "
                 "cross-entropy, not a likelihood, and the loss no ELBO: --binarize dynamic "
                 "makes it one.")
DENOISING_LOSS = (" A denoising run's terms are of clean images decoded from the codes of "
                  "corrupted ones (on the test set too); for a VAE, at β = 1, still a lower "
                  "bound on the clean image's log-likelihood, but not its ELBO.")

# What a figure shows of the classes: (every run's images have labels, none has, some have).
WITH_CLASSES = {
    "latent.png": ("coloured by its class",
                   "all in one colour, as the images have no labels",
                   "coloured by its class (in one colour where the images have no labels)"),
    "reconstructions.png": ("one or more per class",
                            "the first ten, as the images have no classes",
                            "one or more per class, or the first ten where the images have no "
                            "labels"),
    "interpolation.png": ("of different classes",
                          "far apart in the latent space, as the images have fewer than two "
                          "classes",
                          "of different classes, or far apart where the images have fewer "
                          "than two classes"),
}

# Where the classes are named on the codes (MOST_NAMED of them at most).
NAMED = (" Each class's name (or, for long names, its number or letter from the legend) stands "
         "where its codes lie thickest and most its own (a class of a few codes: at their "
         "median), moved apart where two would overlap.")

# Where a plane of a latent space of more than two dimensions lies, said after the caption.
PLANES = {
    "latent.png": " With more than two latent dimensions, the codes are seen on their first two "
                  "principal axes.",
    "manifold.png": " With more than two latent dimensions, the plane is that of the codes' "
                    "first two principal axes, through their mean.",
    "manifold_prior.png": " With more than two latent dimensions, it is the same plane through "
                          "the prior's mean, 0: a slice of the prior, not all of it.",
}

# What a conditional model's figure shows otherwise, said after the caption.
CONDITIONAL = {
    "latent.png": " A CVAE's codes mostly mix the classes: its label carries the class, and "
                  "the code is left the style. What groups remain are of a style that goes with "
                  "one class more than others; the linear probe measures how much.",
    "manifold.png": " A CVAE's decoder draws every tile as one class, which the figure's title "
                    "names (vaelab plot --label picks another).",
    "manifold_prior.png": " A CVAE's decoder draws every tile as one class, which the figure's "
                          "title names (vaelab plot --label picks another).",
    "reconstructions.png": " A CVAE's encoder and decoder are given each image's own label.",
    "interpolation.png": " A CVAE's label is mixed from one class to the other along the line "
                         "too.",
}

# What the samples' grid is, as the runs with a prior are conditional: all, none, some.
SAMPLE_GRIDS = ("; one row per class y (the mean of p(x|z, y)), each column one z drawn as "
                "every class, so that a column keeps the style and changes the class",
                "; the grid has no order, a z a tile",
                "; a conditional model's has one row per class y (the mean of p(x|z, y)), "
                "each column one z drawn as every class, so that a column keeps the style and "
                "changes the class")


def caption(file: str, text: str, runs: Sequence[Run]) -> str:
    """A section's ``text`` worded for the runs it shows: their classes, their samples' grids,
    their latent planes."""
    if any(run.config.model.latent_dims > 2 for run in runs):  # where the plane lies
        text += PLANES.get(file, "")
    if any(run.model.conditional for run in runs):
        text += CONDITIONAL.get(file, "")
    if file == LOSS and any(run.model.likelihood.exactness(run.config.data.binarize != "none")
                            for run in runs):
        text += CROSS_ENTROPY
    if file == LOSS and any(run.config.train.noise != "none" for run in runs):
        text += DENOISING_LOSS
    if file == "latent.png" and any(0 < len(class_names(run.config)) <= MOST_NAMED
                                    and run.config.model.latent_dims > 1 for run in runs):
        text += NAMED
    if file == "samples.png":
        which = [run.model.conditional for run in runs if run.model.has_prior]
    elif file in WITH_CLASSES:
        least = 2 if file == "interpolation.png" else 1  # two classes to join
        which = [len(class_names(run.config)) >= least for run in runs]
    else:
        return text
    every, none, some = SAMPLE_GRIDS if file == "samples.png" else WITH_CLASSES[file]
    return text.format(classes=every if all(which) else some if any(which) else none) + (
        "." if file == "samples.png" else "")
