"""Scoring a model on held-out images: the training objective, the ELBO, and the
importance-weighted bound on log p(x).

Every figure is per image, in nats. The decoder's likelihood p(x|z) is the one that the run's
reconstruction loss stands for (``likelihood_of``): Bernoulli for 'bce', exact when the
pixels are binary; a Gaussian of fixed variance 1/2 for 'sse'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vaelab.config import RunConfig
from vaelab.data import to_unit
from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError
from vaelab.models import VAE, Autoencoder
from vaelab.objectives import wide_dtype

# Codes decoded per pass of the IWAE bound. It bounds the memory (6 MB per 784-pixel tensor of
# a pass), and passes this small keep each layer's output in cache for the next operation: on
# two CPU cores 2048 decoded 1.1 to 1.45 times as many codes per second as 8192
# (benchmarks/iwae_speed.py).
CHUNK = 2048


# ---------------------------------------------------------------------------------------------
# The decoder's likelihood.


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) of independent Bernoulli pixels with probabilities sigmoid(logits), summed
    over pixels: x * logits - softplus(logits). (..., B, C, H, W) -> (..., B)"""
    return (logits * x - F.softplus(logits)).flatten(-3).sum(dim=-1)


def gaussian_half_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log N(x; sigmoid(logits), 1/2) summed over pixels: -(x - mean)^2 - log(pi)/2 each.
    (..., B, C, H, W) -> (..., B). Its negative is the summed squared error plus a constant."""
    squared = (x - torch.sigmoid(logits)).square().flatten(-3).sum(dim=-1)
    return -(squared + 0.5 * math.log(math.pi) * math.prod(x.shape[-3:]))


def bernoulli_log_prob_rows(hidden: torch.Tensor, last: torch.nn.Linear, x: torch.Tensor,
                            out: torch.Tensor | None = None) -> torch.Tensor:
    """``bernoulli_log_prob`` of images x (B, D) under the logits ``last(hidden)`` of n codes
    per image, from the decoder's last hidden layer (B, n, H): (B, n). The logits go into
    ``out`` (B * n, D) where it is given.

    The sum of x * logits is taken before the last layer, as hidden . (W^T x) + b . x, an H-
    rather than a D-long product per code; only the softplus makes a pass over the logits."""
    weight, bias = last.weight, last.bias  # (D, H), (D,)
    cross = torch.bmm(hidden, (x @ weight).unsqueeze(-1)).squeeze(-1) + (x @ bias).unsqueeze(-1)
    logits = torch.addmm(bias, hidden.flatten(0, 1), weight.T, out=out)
    softplus = torch.logaddexp(logits, logits.new_zeros(()), out=logits)  # log(1 + e^logits)
    return cross - softplus.sum(dim=-1).view_as(cross)


def gaussian_half_log_prob_rows(hidden: torch.Tensor, last: torch.nn.Linear, x: torch.Tensor,
                                out: torch.Tensor | None = None) -> torch.Tensor:
    """``gaussian_half_log_prob`` of images x (B, D) under the logits ``last(hidden)``, hidden
    (B, n, H): (B, n), from |x - m|^2 = |x|^2 - 2 x.m + |m|^2. The means go into ``out``
    (B * n, D) where it is given."""
    flat = torch.addmm(last.bias, hidden.flatten(0, 1), last.weight.T, out=out).sigmoid_()
    means = flat.view(*hidden.shape[:2], -1)  # (B, n, D)
    cross = torch.bmm(means, x.unsqueeze(-1)).squeeze(-1)  # (B, n)
    squared = x.square().sum(dim=-1, keepdim=True) - 2 * cross
    squared = squared + torch.linalg.vector_norm(means, dim=-1).square()
    return -(squared + 0.5 * math.log(math.pi) * x.shape[-1])


@dataclass(frozen=True)
class Likelihood:
    """What p(x|z) a run's decoder defines, and whether it is a likelihood of the data."""

    name: str
    description: str
    log_prob: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    # log p(x|z) of n codes per image from the decoder's last hidden layer (B, n, H), its last
    # layer, the images (B, D) and a buffer for the logits (B * n, D) or None: (B, n)
    log_prob_rows: Callable[..., torch.Tensor]
    exact: bool  # a normalised probability (or density) of the images as they are given
    discrete: bool  # a probability of discrete pixel values: bits per dimension apply
    why_not: str = ""  # when not exact: why, and what to do


def likelihood_of(config: RunConfig) -> Likelihood:
    binary = config.data.binarize != "none"
    if config.train.loss == "bce":
        if binary:
            return Likelihood("bernoulli", "Bernoulli pixels; exact for the binarized images",
                              bernoulli_log_prob, bernoulli_log_prob_rows, exact=True,
                              discrete=True)
        return Likelihood(
            "bernoulli", "Bernoulli pixels on grey levels: a cross-entropy, not a likelihood",
            bernoulli_log_prob, bernoulli_log_prob_rows, exact=False, discrete=False,
            why_not="a Bernoulli decoder on grey pixels defines no likelihood of them; "
                    "train with --binarize dynamic (or static)")
    return Likelihood(
        "gaussian", "Gaussian pixels of fixed variance 1/2 (what summed squared error is): "
                    "a density on [0, 1] pixels, not a probability of 8-bit images",
        gaussian_half_log_prob, gaussian_half_log_prob_rows, exact=True, discrete=False)


# ---------------------------------------------------------------------------------------------
# The ELBO and the importance-weighted bound.


@torch.inference_mode()
def elbo_per_image(model: VAE, x: torch.Tensor, likelihood: Likelihood, samples: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the negative ELBO of each image (B, C, H, W) in [0, 1]:
    E_q[-log p(x|z)] estimated from ``samples`` posterior draws, and KL(q || N(0, I)) in closed
    form. Returns (recon, kl), each (B,)."""
    posterior = model.encode(x)
    eps = torch.randn((samples, *posterior.mean.shape), generator=generator, device=x.device)
    z = posterior.mean + posterior.std * eps  # (S, B, d)
    logits = model.decode_logits(z.flatten(0, 1)).unflatten(0, (samples, len(x)))
    recon = -likelihood.log_prob(logits, x).mean(dim=0)
    return recon, posterior.kl()


class Buffers:
    """Tensors that the passes of the IWAE bound write into, kept from pass to pass.

    A pass makes tensors of megabytes (the logits alone are codes x 784 floats). Made anew in
    every pass, each would cost a page fault per 4 KB whenever the C heap has handed the memory
    back to the system, which on two CPU cores costs nearly as much as the matrix products."""

    def __init__(self) -> None:
        self._tensors: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A tensor of this shape, with the dtype and device of ``like``; its contents are
        whatever the last pass left."""
        size = math.prod(shape)
        tensor = self._tensors.get(name)
        if (tensor is None or tensor.numel() < size or tensor.dtype != like.dtype
                or tensor.device != like.device):
            tensor = self._tensors[name] = torch.empty(size, dtype=like.dtype,
                                                       device=like.device)
        return tensor[:size].view(shape)


def importance_log_weights(posterior: DiagonalGaussian,
                           log_likelihood: Callable[[torch.Tensor], torch.Tensor], k: int,
                           per_pass: int, generator: torch.Generator,
                           buffers: Buffers | None = None) -> torch.Tensor:
    """log p(x|z_i) + log p(z_i) - log q(z_i|x) for k draws z_i ~ q(z|x) of each of B images,
    drawn ``per_pass`` at a time: (k, B). ``log_likelihood`` maps codes (B, n, d), n per
    image, to log p(x|z) (B, n); the prior is N(0, I)."""
    buffers = buffers or Buffers()
    mean, std = posterior.mean.unsqueeze(1), posterior.std.unsqueeze(1)  # (B, 1, d)
    log_std = 0.5 * posterior.logvar.sum(dim=-1, keepdim=True)  # (B, 1)
    # Written in place, pass by pass: a list of small results between the large temporaries
    # of each pass fragments the C heap, which then grows by megabytes per batch.
    log_weights = torch.empty((len(mean), k), dtype=wide_dtype(mean.device), device=mean.device)
    for start in range(0, k, per_pass):
        n = min(per_pass, k - start)
        shape = (len(mean), n, mean.shape[-1])
        eps = torch.randn(shape, generator=generator, out=buffers.get("eps", shape, mean))
        z = torch.addcmul(mean, std, eps, out=buffers.get("z", shape, mean))  # (B, n, d)
        # log N(z; 0, I) - log N(z; mean, std^2): the log(2 pi) terms cancel.
        log_ratio = 0.5 * (torch.linalg.vector_norm(eps, dim=-1).square()
                           - torch.linalg.vector_norm(z, dim=-1).square()) + log_std
        log_weights[:, start:start + n] = log_likelihood(z) + log_ratio
    return log_weights.T


def iwae_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/k) sum_i w_i from log-weights (k, B): the k-sample importance-weighted lower
    bound on log p(x) (Burda, Grosse & Salakhutdinov 2016). (B,)"""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def decode_hidden_fast(model: Autoencoder, z: torch.Tensor, buffers: Buffers | None = None
                       ) -> tuple[torch.Tensor, torch.nn.Linear]:
    """The decoder for inference up to its last layer: codes (..., d) -> that layer's input
    (..., H), and the layer. Each layer writes into ``buffers`` where given, and each
    activation works in place."""
    *body, last = model.decoder
    if not isinstance(last, torch.nn.Linear):
        raise TypeError(f"the decoder ends in {type(last).__name__}, not a linear layer")
    h = z.flatten(0, -2)
    for i, layer in enumerate(body):
        if isinstance(layer, torch.nn.Linear):
            out = None if buffers is None else buffers.get(
                f"layer {i}", (len(h), layer.out_features), h)
            h = torch.addmm(layer.bias, h, layer.weight.T, out=out)
        elif isinstance(layer, torch.nn.ReLU):
            h = h.relu_()
        elif isinstance(layer, torch.nn.Tanh):
            h = h.tanh_()
        else:
            h = layer(h)
    return h.view(*z.shape[:-1], h.shape[-1]), last


@torch.inference_mode()
def iwae_log_px(model: VAE, x: torch.Tensor, likelihood: Likelihood, k: int,
                generator: torch.Generator, chunk: int = CHUNK,
                buffers: Buffers | None = None) -> torch.Tensor:
    """The k-sample importance-weighted estimate of log p(x) for images (B, C, H, W) in
    [0, 1], decoding at most ``chunk`` codes per pass. (B,) float64"""
    if k < 1:
        raise VaelabError(f"k must be at least 1, got {k}")
    buffers = buffers or Buffers()
    batch, flat = len(x), x.flatten(1)  # (B, D)

    def log_likelihood(z: torch.Tensor) -> torch.Tensor:  # (B, n, d) -> (B, n)
        hidden, last = decode_hidden_fast(model, z, buffers)
        out = buffers.get("logits", (z.shape[0] * z.shape[1], last.out_features), hidden)
        return likelihood.log_prob_rows(hidden, last, flat, out)

    per_pass = max(1, chunk // batch)
    return iwae_bound(importance_log_weights(model.encode(x), log_likelihood, k, per_pass,
                                             generator, buffers))


@torch.inference_mode()
def iwae_log_px_of(model: VAE, images: torch.Tensor, likelihood: Likelihood, k: int,
                   generator: torch.Generator, chunk: int = CHUNK,
                   done: Callable[[int], object] | None = None) -> torch.Tensor:
    """``iwae_log_px`` of many images (N, C, H, W), uint8 or in [0, 1], as many at a time as
    ``images_per_batch`` says; ``done(n)`` is told after each batch. (N,) float64 (float32 on
    MPS)"""
    log_px = torch.empty(len(images), dtype=wide_dtype(images.device), device=images.device)
    buffers, start = Buffers(), 0
    for x in unit_batches(images, images_per_batch(k, chunk)):
        log_px[start:start + len(x)] = iwae_log_px(model, x, likelihood, k, generator, chunk,
                                                   buffers)
        start += len(x)
        if done is not None:
            done(len(x))
    return log_px


def unit_batches(images: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    """``images`` (N, C, H, W) in batches of ``size``, in [0, 1] (uint8 ones converted)."""
    for start in range(0, len(images), size):
        batch = images[start:start + size]
        yield to_unit(batch) if batch.dtype == torch.uint8 else batch


def images_per_batch(k: int, chunk: int = CHUNK) -> int:
    """How many images the IWAE bound takes at once, so that images x samples per pass stays
    within ``chunk`` and each pass still decodes a large batch."""
    return max(1, chunk // k)


def mean_and_error(values: torch.Tensor) -> tuple[float, float]:
    """The mean of per-image values (N,) and its standard error."""
    values = values.double()
    n = len(values)
    error = values.std().item() / math.sqrt(n) if n > 1 else float("nan")
    return values.mean().item(), error
