"""The decoder's likelihood p(x|z): one registry entry per likelihood, each saying everything
vaelab needs to know of it in one place: the reconstruction term that training minimises, the
exact log-probability that evaluation estimates, its name in figures and tables, and on which
images it is a true likelihood.

Every likelihood takes the decoder's output (B, C, H, W), one parameter per pixel: the logit
of its mean for the squared error and the Bernoulli, whose means must lie in [0, 1], and the
location itself for the learned Gaussian and the discretised logistic, which a sigmoid would
only slow down where it saturates. Images x (B, C, H, W) are in [0, 1]; sums run over the
C x H x W pixels, so every term is per image, (B,). A likelihood with learned parameters (a
variance, a scale) holds them, so they are trained and saved with the model.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.config import LIKELIHOOD_WORDS
from vaelab.errors import VaelabError, did_you_mean

LEVELS = 256  # 8-bit pixels: the discretised logistic's values are k / 255
MEANS = {"sigmoid": torch.sigmoid, "clamp": lambda params: params.clamp(0, 1)}
# and back: the parameters whose mean is a given one (a logit kept finite, 1e-3 off 0 and 1)
PARAMS = {"sigmoid": lambda mean: torch.logit(mean.clamp(1e-3, 1 - 1e-3)),
          "clamp": lambda mean: mean.clamp(0, 1)}


def sse(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error between sigmoid(logits) and x, summed over pixels. (B, C, H, W) -> (B,)

    Up to a constant, the negative log-likelihood of a Gaussian decoder with variance 1/2.
    """
    return F.mse_loss(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(dim=1)


def bce(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood of x under sigmoid(logits), summed over pixels.
    (B, C, H, W) -> (B,). Exact for binary x; a cross-entropy for grey levels in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


class Likelihood(nn.Module):
    """p(x|z) of independent pixels given the decoder's logits.

    ``recon`` is the training term; it differs from ``-log_prob`` by at most a constant per
    image, so both give the same gradients and the same importance weights.
    """

    title: ClassVar[str]  # what it is, for tables: "Bernoulli pixels"
    term: ClassVar[str]  # the reconstruction term's name in figures: "Bernoulli −log p(x|z)"
    levels: ClassVar[int | None] = None  # it is a probability of this many pixel values
    exact_on_grey: ClassVar[bool] = True  # a likelihood of grey (not binarized) images too
    mean_kind: ClassVar[str] = "sigmoid"  # how ``mean`` maps parameters into [0, 1]: in MEANS

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)

    def mean(self, params: torch.Tensor) -> torch.Tensor:
        """The image the decoder draws: each pixel's mean (location), in [0, 1]."""
        return MEANS[self.mean_kind](params)

    def params_for(self, mean: torch.Tensor) -> torch.Tensor:
        """Parameters whose ``mean`` is ``mean``, the inverse of ``mean`` (nearly, for a
        sigmoid: means of exactly 0 or 1 move 1e-3 inside)."""
        return PARAMS[self.mean_kind](mean)

    def log_prob(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x|z) summed over pixels. (..., B, C, H, W) -> (..., B)"""
        raise NotImplementedError

    def recon(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction term training minimises, summed over pixels. (B, C, H, W) -> (B,)"""
        return -self.log_prob(logits, x)

    def exactness(self, binarized: bool) -> str | None:
        """None when ``log_prob`` is an exact likelihood of the images a run learns from (binary
        ones when ``binarized``), else why it is not, and what to do."""
        if binarized or self.exact_on_grey:
            return None
        return (f"a cross-entropy: {self.title} define no likelihood of {self.grey()} pixels; "
                f"train with --binarize dynamic (or static), or another --loss")

    def grey(self) -> str:
        """What its images are called where they are not binarized: 'grey' or 'colour'."""
        return "grey" if self.image_shape[0] == 1 else "colour"

    def each_channel(self) -> str:
        """', each of a pixel's 3 channels on its own' for colour images, where a figure per
        dimension counts every channel; '' for grey ones."""
        channels = self.image_shape[0]
        return f", each of a pixel's {channels} channels on its own" if channels > 1 else ""

    @property
    def discrete(self) -> bool:
        """A probability of discrete pixel values, so that bits per dimension apply."""
        return self.levels is not None

    def left_out(self) -> float:
        """The nats per image that the training term leaves out of -log p (0: none)."""
        return 0.0

    def bits_note(self, binarized: bool) -> str | None:
        """What its bits per dimension are a figure of, where that needs saying."""
        return None


class SquaredError(Likelihood):
    """The tutorial's summed squared error: a Gaussian of fixed variance 1/2 around the mean,
    whose log-density is -(x - mean)^2 - log(pi)/2 per pixel."""

    title = "Gaussian pixels of fixed variance 1/2 (summed squared error)"
    term = "squared error"

    @staticmethod
    def constant(pixels: int) -> float:
        """The nats that -log p adds to the squared error of ``pixels`` values."""
        return 0.5 * math.log(math.pi) * pixels

    @classmethod
    def constant_said(cls, image_shape: tuple[int, ...]) -> str:
        """'448.7 nats for 784 pixels'; of colour images, '... for 3,072 values (1,024 pixels
        in 3 channels)'."""
        channels, pixels = image_shape[0], math.prod(image_shape[1:])
        said = f"{cls.constant(channels * pixels):,.1f} nats for {channels * pixels:,} "
        return said + ("pixels" if channels == 1 else
                       f"values ({pixels:,} pixels in {channels} channels)")

    def left_out(self) -> float:
        return self.constant(math.prod(self.image_shape))

    def log_prob(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        squared = (x - torch.sigmoid(logits)).square().flatten(-3).sum(dim=-1)
        return -(squared + self.constant(math.prod(x.shape[-3:])))

    def recon(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return sse(logits, x)

    def log_prob_rows(self, hidden: torch.Tensor, last: nn.Linear, x: torch.Tensor,
                      out: torch.Tensor | None = None) -> torch.Tensor:
        """``log_prob`` of images x (B, D) under the logits ``last(hidden)``, hidden (B, n, H):
        (B, n), from |x - m|^2 = |x|^2 - 2 x.m + |m|^2. The means go into ``out`` (B * n, D)
        where it is given."""
        flat = torch.addmm(last.bias, hidden.flatten(0, 1), last.weight.T, out=out).sigmoid_()
        means = flat.view(*hidden.shape[:2], -1)  # (B, n, D)
        cross = torch.bmm(means, x.unsqueeze(-1)).squeeze(-1)  # (B, n)
        squared = x.square().sum(dim=-1, keepdim=True) - 2 * cross
        squared = squared + torch.linalg.vector_norm(means, dim=-1).square()
        return -(squared + self.constant(x.shape[-1]))


class Bernoulli(Likelihood):
    """Each pixel black or white, white with probability sigmoid(logit)."""

    title = "Bernoulli pixels"
    term = "Bernoulli −log p(x|z)"
    levels = 2
    exact_on_grey = False

    def log_prob(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """x * logits - softplus(logits), summed over pixels."""
        return (logits * x - F.softplus(logits)).flatten(-3).sum(dim=-1)

    def recon(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return bce(logits, x)

    def bits_note(self, binarized: bool) -> str | None:  # measured only where exact: binarized
        return (f"per black-or-white pixel{self.each_channel()} (a coin toss scores 1): not "
                f"the 8-bit figure of image models, such as --loss logistic gives")

    def log_prob_rows(self, hidden: torch.Tensor, last: nn.Linear, x: torch.Tensor,
                      out: torch.Tensor | None = None) -> torch.Tensor:
        """``log_prob`` of images x (B, D) under the logits ``last(hidden)`` of n codes per
        image, from the decoder's last hidden layer (B, n, H): (B, n). The logits go into
        ``out`` (B * n, D) where it is given.

        The sum of x * logits is taken before the last layer, as hidden . (W^T x) + b . x, an H-
        rather than a D-long product per code; only the softplus makes a pass over the logits."""
        weight, bias = last.weight, last.bias  # (D, H), (D,)
        cross = torch.bmm(hidden, (x @ weight).unsqueeze(-1)).squeeze(-1)
        cross = cross + (x @ bias).unsqueeze(-1)
        logits = torch.addmm(bias, hidden.flatten(0, 1), weight.T, out=out)
        softplus = torch.logaddexp(logits, logits.new_zeros(()), out=logits)  # log(1 + e^l)
        return cross - softplus.sum(dim=-1).view_as(cross)


class LearnedGaussian(Likelihood):
    """A Gaussian around the decoder's output (unclamped; the image drawn clamps it to [0, 1])
    with a standard deviation learned for each pixel (not a function of z), kept above 1/255
    so that a pixel that never varies (MNIST's border) cannot drive the density to infinity."""

    title = "Gaussian pixels of learned variance"
    term = "Gaussian −log p(x|z)"
    mean_kind = "clamp"
    MIN_STD = 1 / 255

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__(image_shape)
        # softplus(raw) + MIN_STD starts at 1/sqrt(2), the tutorial's fixed variance of 1/2.
        start = math.log(math.expm1(2 ** -0.5 - self.MIN_STD))
        self.raw_std = nn.Parameter(torch.full(self.image_shape, start))

    @property
    def std(self) -> torch.Tensor:
        """(C, H, W)"""
        return F.softplus(self.raw_std) + self.MIN_STD

    def log_prob(self, location: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        std = self.std
        z = (x - location) / std
        per_pixel = -0.5 * z.square() - std.log() - 0.5 * math.log(2 * math.pi)
        return per_pixel.flatten(-3).sum(dim=-1)


class DiscretizedLogistic(Likelihood):
    """8-bit pixels: a logistic around the decoder's output (unclamped; the image drawn clamps
    it to [0, 1]), with a scale learned for each pixel, integrated over each pixel value's bin
    of width 1/255; the end bins take the tails (Salimans et al. 2017, PixelCNN++, 2.1)."""

    title = "discretised logistic pixels (256 levels)"
    term = "logistic −log p(x|z)"
    mean_kind = "clamp"
    levels = LEVELS
    # PixelCNN++'s floor of e^-7 on pixels in [-1, 1], on vaelab's in [0, 1]: half of it, so
    # that an interior value may take as much of the probability (0.97) as there
    MIN_LOG_SCALE = -7.0 - math.log(2)

    def __init__(self, image_shape: tuple[int, int, int]) -> None:
        super().__init__(image_shape)
        self.log_scale = nn.Parameter(torch.full(self.image_shape, -2.0))

    def bits_note(self, binarized: bool) -> str | None:
        if binarized:  # 0 and 255 alone
            return (f"per pixel of black-or-white images{self.each_channel()}, under a "
                    f"distribution of 256 levels: neither the 8-bit figure of image models nor "
                    f"a Bernoulli's bits")
        return f"per 8-bit pixel value{self.each_channel()}, as image models report it"

    def log_prob(self, location: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        log_scale = self.log_scale.clamp_min(self.MIN_LOG_SCALE)
        inv_scale = torch.exp(-log_scale)
        half_bin = 0.5 / (LEVELS - 1)
        centred = x - location
        upper = (centred + half_bin) * inv_scale  # the bin's edges, standardised
        lower = (centred - half_bin) * inv_scale
        # log(sigmoid(upper) - sigmoid(lower))
        #   = logsigmoid(upper) + logsigmoid(-lower) + log(1 - exp(lower - upper))
        width = -2 * half_bin * inv_scale  # lower - upper, the same for every value
        log_mass = (F.logsigmoid(upper) + F.logsigmoid(-lower)
                    + torch.log(-torch.expm1(width)))
        first = F.logsigmoid(upper)  # x = 0 takes the left tail
        last = F.logsigmoid(-lower)  # x = 1 the right one
        per_pixel = torch.where(x < half_bin, first, torch.where(x > 1 - half_bin, last,
                                                                  log_mass))
        return per_pixel.flatten(-3).sum(dim=-1)


LIKELIHOODS: dict[str, type[Likelihood]] = {
    "sse": SquaredError,
    "bce": Bernoulli,
    "gaussian": LearnedGaussian,
    "logistic": DiscretizedLogistic,
}


def likelihood_label(name: str) -> str:
    """A likelihood as tables of runs name it: 'squared error (sse)'; a name this vaelab does
    not know (from an eval.json of a newer one) as it is."""
    return f"{LIKELIHOOD_WORDS[name]} ({name})" if name in LIKELIHOOD_WORDS else name


def build_likelihood(name: str, image_shape: tuple[int, int, int]) -> Likelihood:
    """The likelihood registered under ``name``, for images of shape (C, H, W)."""
    try:
        return LIKELIHOODS[name](image_shape)
    except KeyError:
        raise VaelabError(f"unknown likelihood {name!r}{did_you_mean(str(name), LIKELIHOODS)}; "
                          f"choose one of: {', '.join(LIKELIHOODS)}") from None
