"""The training objective, as plain functions of a model and a batch.

Every term is returned per image, shape (B,): summed over the pixels (reconstruction) or over
the latent dimensions (KL). The trainer sums over the batch for the gradient, as the tutorial
does, and reports means over images, so every figure in vaelab is "per image".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vaelab.config import TrainConfig
from vaelab.data import to_unit
from vaelab.distributions import DiagonalGaussian
from vaelab.models import Autoencoder


def sse(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error between sigmoid(logits) and x, summed over pixels. (B, C, H, W) -> (B,)

    Up to a constant, the negative log-likelihood of a Gaussian decoder with variance 1/2.
    """
    return F.mse_loss(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(dim=1)


def bce(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood of x under sigmoid(logits), summed over pixels.
    (B, C, H, W) -> (B,). Exact for binary x; a cross-entropy for grey levels in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def tutorial_kl(posterior: DiagonalGaussian) -> torch.Tensor:
    """The tutorial's KL line, sigma^2 + mu^2 - log(sigma) - 1/2 summed over dimensions. (B,)

    It is wrong: the closed form halves the first two terms. Up to a constant of
    0.5 * log(2) per dimension it is the KL to N(0, I/2) instead of N(0, I), so it pulls the
    codes into a prior half as wide in variance. Kept only to measure that effect.
    """
    log_sigma = 0.5 * posterior.logvar
    return (posterior.var + posterior.mean.square() - log_sigma - 0.5).sum(dim=-1)


RECONSTRUCTION: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "sse": sse,
    "bce": bce,
}
KL: dict[str, Callable[[DiagonalGaussian], torch.Tensor]] = {
    "closed-form": DiagonalGaussian.kl,
    "tutorial": tutorial_kl,
}


@dataclass(frozen=True)
class LossTerms:
    """Per-image terms of the objective: each (B,). ``kl`` is None for an AE."""

    recon: torch.Tensor
    kl: torch.Tensor | None

    @property
    def loss(self) -> torch.Tensor:
        """The negative ELBO for a VAE (recon + KL), the reconstruction error for an AE. (B,)"""
        return self.recon if self.kl is None else self.recon + self.kl


def loss_terms(model: Autoencoder, x: torch.Tensor, config: TrainConfig,
               generator: torch.Generator | None = None) -> LossTerms:
    """Encode x (B, C, H, W), decode one code per image, and score the reconstruction.

    For a VAE the code is one reparameterised draw from q(z|x), so ``loss`` is a one-sample
    estimate of the negative ELBO.
    """
    code = model.encode(x)
    if isinstance(code, DiagonalGaussian):
        z, kl = code.rsample(generator), KL[config.kl](code)
    else:
        z, kl = code, None
    recon = RECONSTRUCTION[config.loss](model.decode_logits(z), x)
    return LossTerms(recon, kl)


def means_per_image(recon_total: float, kl_total: float | None, n: int
                    ) -> dict[str, float | None]:
    """Totals over ``n`` images -> the figures vaelab reports: loss, recon and kl per image
    (kl is None for an AE, whose loss is its reconstruction term)."""
    recon = recon_total / n
    kl = None if kl_total is None else kl_total / n
    return {"loss": recon + (kl or 0.0), "recon": recon, "kl": kl}


def wide_dtype(device: torch.device) -> torch.dtype:
    """The dtype for sums over many images: float64, except on MPS, which has none."""
    return torch.float32 if device.type == "mps" else torch.float64


@torch.inference_mode()
def objective_per_image(model: Autoencoder, images: torch.Tensor, config: TrainConfig, *,
                        batch_size: int = 2000, seed: int = 0) -> dict[str, float | None]:
    """The training objective's terms on ``images`` (N, C, H, W) uint8, averaged over images.

    A VAE's terms use one posterior draw per image from a generator seeded with ``seed``, so
    that repeated evaluations (after each epoch, say) see the same noise. ``kl`` is None for
    an AE.
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator(images.device).manual_seed(seed)
    # (recon, kl), summed over images
    sums = torch.zeros(2, dtype=wide_dtype(images.device), device=images.device)
    has_kl = False
    for start in range(0, len(images), batch_size):
        terms = loss_terms(model, to_unit(images[start:start + batch_size]), config, generator)
        sums[0] += terms.recon.sum()
        if terms.kl is not None:
            sums[1] += terms.kl.sum()
            has_kl = True
    model.train(was_training)
    recon, kl = sums.tolist()
    return means_per_image(recon, kl if has_kl else None, len(images))
