"""The training objective, as plain functions of a model and a batch.

Every term is returned per image, shape (B,): summed over the pixels (reconstruction) or over
the latent dimensions (KL). The trainer sums over the batch for the gradient, as the tutorial
does, and reports means over images, so every figure in vaelab is "per image".

The loss vaelab reports is the negative ELBO with the closed-form KL at full weight (beta = 1),
whatever weight training gives the KL and whichever KL line it minimises (`--kl tutorial`), or
for the IWAE objective the negative importance-weighted bound; both on the scale of the
likelihood's reconstruction term (for the tutorial's squared error, without the Gaussian's
constant).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vaelab.config import TrainConfig
from vaelab.data import to_unit
from vaelab.distributed import SINGLE, World
from vaelab.distributions import LOG_2PI
from vaelab.models import Autoencoder, prepared_pixels
from vaelab.objectives.kl import KL
from vaelab.objectives.noise import corrupt

# Images that go through the model at once when it is measured: their activations stay in a
# core's cache between its operations (a 784-pixel batch of 256 is 0.8 MB). On one thread of
# the AMD EPYC that runs CI, the demo VAE's test loss took 0.21 s this way, 0.28 s 2000 at once.
ROWS_AT_ONCE = 256


@dataclass(frozen=True)
class LossTerms:
    """Per-image terms of the objective: each (B,). ``kl`` is the closed-form KL, None for a
    model without a posterior; ``bound`` is the negative IWAE bound when that is the objective;
    ``penalty`` is the KL line that training minimises in the closed form's place (the
    tutorial's), None when it is the closed form itself."""

    recon: torch.Tensor
    kl: torch.Tensor | None
    bound: torch.Tensor | None = None
    penalty: torch.Tensor | None = None

    @property
    def loss(self) -> torch.Tensor:
        """What vaelab reports: -IWAE bound, -ELBO (recon + KL), or an AE's reconstruction."""
        if self.bound is not None:
            return self.bound
        return self.recon if self.kl is None else self.recon + self.kl

    def summed(self, kl_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums over the batch: what training minimises (a scalar to differentiate), and the
        reported (loss, recon, kl) as one detached (3,) tensor. Summing each term first and
        weighting the sums keeps a step's extra work to a few scalar operations."""
        recon = self.recon.sum()
        if self.kl is None:
            return recon, torch.stack([recon, recon, torch.zeros_like(recon)]).detach()
        kl = self.kl.sum()
        loss = self.bound.sum() if self.bound is not None else recon + kl
        if self.bound is not None or (self.penalty is None and kl_weight == 1):
            minimised = loss
        else:
            penalty = kl if self.penalty is None else self.penalty.sum()
            minimised = recon + kl_weight * penalty
        return minimised, torch.stack([loss, recon, kl]).detach()

    def objective(self, kl_weight: float = 1.0) -> torch.Tensor:
        """What training minimises: the loss, with the KL (or the line in its place) weighted
        by ``kl_weight`` (beta, times the warm-up's share) in an ELBO."""
        if self.bound is not None or self.kl is None or (self.penalty is None and kl_weight == 1):
            return self.loss
        return self.recon + kl_weight * (self.kl if self.penalty is None else self.penalty)


def loss_terms(model: Autoencoder, x: torch.Tensor, config: TrainConfig,
               generator: torch.Generator | None = None, y: torch.Tensor | None = None,
               inputs: torch.Tensor | None = None, eps: torch.Tensor | None = None
               ) -> LossTerms:
    """Encode ``inputs`` (default x; corrupted images for a denoising model), decode, and
    score the reconstruction of the images x (B, C, H, W) in [0, 1]; y (B,) are the labels
    that a conditional model takes.

    With a posterior the code is one reparameterised draw from q(z|x), so ``loss`` is a
    one-sample estimate of the negative ELBO; with k > 1 draws per image, the mean of k such
    estimates (the IWAE paper's "VAE" with k samples), or for the IWAE objective the bound of
    its k draws. ``eps`` are those draws' standard normal numbers, (B, d) or (k, B, d), where
    the caller drew them (``draw_batch``); else they come from ``generator``.
    """
    inputs = x if inputs is None else inputs
    code = model.encode(inputs, y)
    if not model.has_posterior:
        return LossTerms(model.likelihood.recon(model.decode_params(code, y), x), None)
    if eps is None:
        eps = posterior_noise(model, len(x), config, generator, code.mean)
    if config.objective == "iwae":
        return _iwae_terms(model, code, x, y, eps)
    if eps.dim() == 3:  # (k, B, d): the ELBO's k estimates, averaged
        recon = _decode_draws(model, code.mean + code.std * eps, x, y).mean(dim=0)
    else:
        z = code.mean + code.std * eps  # (B, d), the reparameterisation trick
        recon = model.likelihood.recon(model.decode_params(z, y), x)
    penalty = None if config.kl == "closed-form" else KL[config.kl](code)
    return LossTerms(recon, code.kl(), penalty=penalty)


def posterior_noise(model: Autoencoder, batch: int, config: TrainConfig,
                    generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor | None:
    """The standard normal numbers of a batch's posterior draws, with the dtype and device of
    ``like``: (B, d) for one draw per image, else (k, B, d); None for a model without one."""
    if not model.has_posterior:
        return None
    draws = config.draws
    shape = (draws, batch) if config.objective == "iwae" or draws > 1 else (batch,)
    return torch.randn((*shape, model.latent_dims), generator=generator, device=like.device,
                       dtype=like.dtype)


def draw_batch(model: Autoencoder, x: torch.Tensor, config: TrainConfig,
               generator: torch.Generator | None, rows: slice = slice(None),
               binarize: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Every random number of a step on the batch x (B, C, H, W) in [0, 1], in the order one
    process draws them (black-or-white pixels if ``binarize``, the corrupted inputs, the
    posterior's noise), and the ``rows`` of them that this process computes with:
    (x, inputs, eps), for ``loss_terms``.

    Each of several processes draws the whole batch's numbers from the same generator and
    keeps its rows, so that together they compute with exactly the numbers of one process,
    and their generators stay in step without talking. Drawing is cheap beside the model (a
    few numbers per pixel against hundreds of multiply-adds)."""
    if binarize:
        x = torch.bernoulli(x, generator=generator)
    inputs = corrupt(x, config.noise, generator)
    eps = posterior_noise(model, len(x), config, generator, x)
    return x[rows], inputs[rows], None if eps is None else eps[..., rows, :]


def _iwae_terms(model: Autoencoder, posterior, x: torch.Tensor, y: torch.Tensor | None,
                eps: torch.Tensor) -> LossTerms:
    """The k-sample importance-weighted bound (Burda, Grosse & Salakhutdinov 2016, eq. 8), the
    k draws of every image decoded in one call; its gradient is the IWAE estimator's. The
    reported recon and KL are the ELBO's terms from the same draws."""
    k = len(eps)
    z = posterior.mean + posterior.std * eps  # (k, B, d)
    recon = _decode_draws(model, z, x, y)  # (k, B)
    log_prior = -0.5 * (z.square().sum(dim=-1) + z.shape[-1] * LOG_2PI)  # (k, B)
    # log q(z|x) from the draws' eps, as the evaluation has it: (z - mean) / std, computed,
    # loses its digits where std is far smaller than the mean; its gradient is the same
    log_q = -0.5 * (eps.square() + posterior.logvar + LOG_2PI).sum(dim=-1)  # (k, B)
    log_weights = -recon + log_prior - log_q  # (k, B)
    bound = torch.logsumexp(log_weights, dim=0) - math.log(k)  # (B,)
    return LossTerms(recon.mean(dim=0), posterior.kl(), -bound)


def _decode_draws(model: Autoencoder, z: torch.Tensor, x: torch.Tensor,
                  y: torch.Tensor | None) -> torch.Tensor:
    """The reconstruction term of x (B, C, H, W) under each of the codes z (k, B, d), all
    decoded in one call: (k, B)."""
    k, batch = z.shape[:2]
    ys = None if y is None else y.repeat(k, *[1] * (y.dim() - 1))  # (k * B,) or (k * B, K)
    params = model.decode_params(z.flatten(0, 1), ys)  # (k * B, ...)
    repeated = x.expand(k, *x.shape).flatten(0, 1)  # (k * B, C, H, W): a copy, as the params
    return model.likelihood.recon(params, repeated).view(k, batch)


def means_per_image(totals: torch.Tensor, n: int, has_kl: bool) -> dict[str, float | None]:
    """Totals (loss, recon, kl) over ``n`` images -> the figures vaelab reports per image (kl
    is None for a model without a posterior)."""
    loss, recon, kl = (totals / n).tolist()
    return {"loss": loss, "recon": recon, "kl": kl if has_kl else None}


def wide_dtype(device: torch.device) -> torch.dtype:
    """The dtype for sums over many images: float64, except on MPS, which has none."""
    return torch.float32 if device.type == "mps" else torch.float64


@torch.inference_mode()
@prepared_pixels()  # vaelab's own images
def objective_per_image(model: Autoencoder, images: torch.Tensor, config: TrainConfig,
                        labels: torch.Tensor | None = None, *, batch_size: int = 2000,
                        seed: int = 0, world: World = SINGLE, rows_at_once: int = ROWS_AT_ONCE
                        ) -> dict[str, float | None]:
    """The training objective's terms on ``images`` (N, C, H, W) uint8 (and their labels, for
    a conditional model), averaged over images.

    The posterior draws and a denoising model's corruption come from a generator seeded with
    ``seed``, so that repeated evaluations (after each epoch, say) see the same noise; they
    are drawn ``batch_size`` images at a time, and the model computes ``rows_at_once`` of
    them at a time, which changes nothing but the order of the additions. In a ``world`` of
    several processes each computes its rows of every batch, and the sums are added up: the
    same figures as one process's, up to the order of the additions.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator(images.device).manual_seed(seed)
    totals = torch.zeros(3, dtype=wide_dtype(images.device), device=images.device)
    for start in range(0, len(images), batch_size):
        mine = world.rows(len(images[start:start + batch_size]))
        everyone = to_unit(images[start:start + batch_size])  # (B, C, H, W)
        x, inputs, eps = draw_batch(model, everyone, config, generator, mine)
        y = None if labels is None else labels[start:start + batch_size][mine]
        for at in range(0, len(x), rows_at_once):
            rows = slice(at, at + rows_at_once)
            terms = loss_terms(model, x[rows], config, generator,
                               None if y is None else y[rows], inputs[rows],
                               None if eps is None else eps[..., rows, :])
            kl = terms.kl.sum() if terms.kl is not None else terms.recon.new_zeros(())
            totals += torch.stack([terms.loss.sum(), terms.recon.sum(), kl])
    model.train(was_training)
    return means_per_image(world.sum(totals), len(images), model.has_posterior)
