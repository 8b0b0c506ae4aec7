"""The estimators that measure a model on held-out images: the ELBO's terms from several
posterior draws, and the importance-weighted bound on log p(x) of Burda, Grosse &
Salakhutdinov (2016), computed in chunked passes through the decoder.

Every figure is per image, in nats, under the model's own likelihood p(x|z)
(``vaelab.distributions.likelihoods``). Images x are (B, C, H, W) in [0, 1]; a conditional
model's labels y (B,) go with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from vaelab.data import to_unit
from vaelab.distributed import SINGLE, World
from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError
from vaelab.models import Autoencoder, prepared_pixels
from vaelab.objectives import wide_dtype

# Codes decoded per pass of the IWAE bound. It bounds the memory (6 MB per 784-pixel tensor of
# a pass), and passes this small keep each layer's output in cache for the next operation: on
# two CPU cores 2048 decoded 1.1 to 1.45 times as many codes per second as 8192
# (benchmarks/iwae_speed.py).
CHUNK = 2048


def _repeat(y: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """Labels (B,) or one-hot rows (B, K) -> (B * n, ...), each repeated n times in place: the
    labels of n codes per image."""
    return None if y is None else y.repeat_interleave(n, dim=0)


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


def draws(generator: torch.Generator, shape: tuple[int, int, int],
          out: torch.Tensor | None = None) -> torch.Tensor:
    """Standard normal numbers (B, n, d): each image's n x d drawn on its own, in order, so
    that how many images share a batch (``--chunk``) changes none of their numbers."""
    eps = torch.empty(shape, device=generator.device) if out is None else out
    for image in eps:
        torch.randn(shape[1:], generator=generator, out=image)
    return eps


def importance_log_weights(posterior: DiagonalGaussian,
                           log_likelihood: Callable[[torch.Tensor], torch.Tensor], k: int,
                           per_pass: int, generator: torch.Generator,
                           buffers: Buffers | None = None) -> torch.Tensor:
    """log p(x|z_i) + log p(z_i) - log q(z_i|x) for k draws z_i ~ q(z|x) of each of B images,
    decoded ``per_pass`` at a time: (k, B). ``log_likelihood`` maps codes (B, n, d), n per
    image, to log p(x|z) (B, n); the prior is N(0, I)."""
    buffers = buffers or Buffers()
    mean, std = posterior.mean.unsqueeze(1), posterior.std.unsqueeze(1)  # (B, 1, d)
    log_std = 0.5 * posterior.logvar.sum(dim=-1, keepdim=True)  # (B, 1)
    # Written in place, pass by pass: a list of small results between the large temporaries
    # of each pass fragments the C heap, which then grows by megabytes per batch.
    log_weights = torch.empty((len(mean), k), dtype=wide_dtype(mean.device), device=mean.device)
    every = (len(mean), k, mean.shape[-1])
    drawn = draws(generator, every, buffers.get("eps", every, mean))  # all k of each image
    for start in range(0, k, per_pass):
        n = min(per_pass, k - start)
        shape = (len(mean), n, mean.shape[-1])
        eps = drawn[:, start:start + n]
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


def decode_hidden_fast(model: Autoencoder, z: torch.Tensor, side: torch.Tensor | None,
                       buffers: Buffers | None = None) -> torch.Tensor:
    """A decoder whose logits are its last linear layer's outputs (``last_linear``), for
    inference, up to that layer: codes (..., d) [and side inputs (..., K)] -> the layer's input
    (..., H). Each layer writes into ``buffers`` where given, and activations work in place."""
    *body, _ = model.decoder.head
    h = (z if side is None else torch.cat([z, side], dim=-1)).flatten(0, -2)
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
    return h.view(*z.shape[:-1], h.shape[-1])


def _log_likelihood(model: Autoencoder, x: torch.Tensor, y: torch.Tensor | None,
                    buffers: Buffers) -> Callable[[torch.Tensor], torch.Tensor]:
    """log p(x|z) as a function of codes (B, n, d), n per image -> (B, n). Where the decoder
    ends in a linear layer and the likelihood can take its sums before it (``log_prob_rows``),
    it does, writing into ``buffers``; else the decoder and the likelihood run as they are."""
    likelihood, last = model.likelihood, model.decoder.last_linear()
    side = model.side(y)  # (B, K) or None
    flat = x.flatten(1)  # (B, D)

    def fast(z: torch.Tensor) -> torch.Tensor:
        sides = None if side is None else side.unsqueeze(1).expand(-1, z.shape[1], -1)
        hidden = decode_hidden_fast(model, z, sides, buffers)  # (B, n, H)
        out = buffers.get("logits", (z.shape[0] * z.shape[1], last.out_features), hidden)
        return likelihood.log_prob_rows(hidden, last, flat, out)

    def plain(z: torch.Tensor) -> torch.Tensor:
        n = z.shape[1]
        logits = model.decode_params(z.flatten(0, 1), _repeat(y, n))  # (B * n, C, H, W)
        images = x.unsqueeze(1).expand(-1, n, *x.shape[1:]).flatten(0, 1)  # (B * n, C, H, W)
        return likelihood.log_prob(logits, images).view(len(x), n)

    return fast if last is not None and hasattr(likelihood, "log_prob_rows") else plain


@torch.inference_mode()
def elbo_per_image(model: Autoencoder, x: torch.Tensor, y: torch.Tensor | None, samples: int,
                   generator: torch.Generator, buffers: Buffers | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the negative ELBO of each image: E_q[-log p(x|z)] estimated from
    ``samples`` posterior draws, and KL(q || N(0, I)) in closed form. Returns (recon, kl),
    each (B,). The decoder's large tensors are written into ``buffers`` where it can."""
    posterior = model.encode(x, y)
    eps = draws(generator, (len(x), samples, posterior.mean.shape[-1]))
    z = posterior.mean.unsqueeze(1) + posterior.std.unsqueeze(1) * eps  # (B, S, d)
    log_likelihood = _log_likelihood(model, x, y, buffers or Buffers())
    return -log_likelihood(z).mean(dim=1), posterior.kl()


@torch.inference_mode()
@prepared_pixels()  # vaelab's own images
def elbo_of(model: Autoencoder, images: torch.Tensor, labels: torch.Tensor | None,
            samples: int, generator: torch.Generator, size: int, world: World = SINGLE
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """``elbo_per_image`` of many images (N, C, H, W) uint8 (and their labels, for a
    conditional model), ``size`` at a time: (recon, kl), each (N,). Of several processes,
    each measures its share of the batches and draws the others' numbers too, so that the
    result is one process's, exactly."""
    recon, kl = (torch.zeros(len(images), dtype=wide_dtype(images.device), device=images.device)
                 for _ in range(2))
    mine, buffers = world.mine(-(-len(images) // size)), Buffers()
    for i, start in enumerate(range(0, len(images), size)):
        batch = images[start:start + size]
        if i not in mine:  # the numbers elbo_per_image would draw for this batch
            draws(generator, (len(batch), samples, model.latent_dims))
            continue
        y = None if labels is None else labels[start:start + size]
        recon[start:start + len(batch)], kl[start:start + len(batch)] = elbo_per_image(
            model, next(unit_batches(batch, size)), y, samples, generator, buffers)
    return world.sum(recon), world.sum(kl)


@torch.inference_mode()
def iwae_log_px(model: Autoencoder, x: torch.Tensor, y: torch.Tensor | None, k: int,
                generator: torch.Generator, chunk: int = CHUNK,
                buffers: Buffers | None = None) -> torch.Tensor:
    """The k-sample importance-weighted estimate of log p(x) for images (B, C, H, W) in
    [0, 1], decoding at most ``chunk`` codes per pass. (B,) float64"""
    if k < 1:
        raise VaelabError(f"k must be at least 1, got {k}")
    buffers = buffers or Buffers()
    per_pass = max(1, chunk // len(x))
    return iwae_bound(importance_log_weights(model.encode(x, y),
                                             _log_likelihood(model, x, y, buffers), k,
                                             per_pass, generator, buffers))


@torch.inference_mode()
@prepared_pixels()  # vaelab's own images
def iwae_log_px_of(model: Autoencoder, images: torch.Tensor, labels: torch.Tensor | None,
                   k: int, generator: torch.Generator, chunk: int = CHUNK,
                   done: Callable[[int], object] | None = None, world: World = SINGLE
                   ) -> torch.Tensor:
    """``iwae_log_px`` of many images (N, C, H, W), uint8 or in [0, 1] (and their labels, for
    a conditional model), as many at a time as ``images_per_batch`` says; ``done(n)`` is told
    after each batch. (N,) float64 (float32 on MPS)

    In a ``world`` of several processes each measures its share of the batches, drawing (and
    dropping) the others' numbers too, so that every image sees the draws it would see in one
    process: the result is one process's, exactly."""
    log_px = torch.zeros(len(images), dtype=wide_dtype(images.device), device=images.device)
    buffers, size = Buffers(), images_per_batch(k, chunk)
    mine = world.mine(-(-len(images) // size))
    for i, start in enumerate(range(0, len(images), size)):
        if i not in mine:  # the numbers iwae_log_px would draw for this batch
            shape = (len(images[start:start + size]), k, model.latent_dims)
            draws(generator, shape, buffers.get("eps", shape, torch.empty(0, device=images.device)))
            continue
        x = next(unit_batches(images[start:start + size], size))
        y = None if labels is None or not model.conditional else labels[start:start + len(x)]
        log_px[start:start + len(x)] = iwae_log_px(model, x, y, k, generator, chunk, buffers)
        if done is not None:
            done(len(x))
    return world.sum(log_px)


def unit_batches(images: torch.Tensor, size: int) -> Iterator[torch.Tensor]:
    """``images`` (N, C, H, W) in batches of ``size``, in [0, 1] (uint8 ones converted)."""
    for start in range(0, len(images), size):
        batch = images[start:start + size]
        yield to_unit(batch)


def images_per_batch(k: int, chunk: int = CHUNK) -> int:
    """How many images the IWAE bound takes at once, so that images x samples per pass stays
    within ``chunk`` and each pass still decodes a large batch."""
    return max(1, chunk // k)


def share_and_error(share: float, n: int) -> tuple[float, float]:
    """A share of n images (each in or out, right or wrong) and its standard error, as
    ``mean_and_error`` gives it for their zeros and ones."""
    return share, math.sqrt(share * (1 - share) / (n - 1)) if n > 1 else float("nan")


def mean_and_error(values: torch.Tensor) -> tuple[float, float]:
    """The mean of per-image values (N,) and its standard error."""
    values = values.detach().cpu().double()  # MPS has no float64
    n = len(values)
    error = values.std().item() / math.sqrt(n) if n > 1 else float("nan")
    return values.mean().item(), error
