"""Scoring a model on held-out images."""

from __future__ import annotations

import torch

from vaelab.config import TrainConfig
from vaelab.data import to_unit
from vaelab.losses import loss_terms, means_per_image
from vaelab.models import Autoencoder


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
    wide = torch.float32 if images.device.type == "mps" else torch.float64  # MPS has no float64
    sums = torch.zeros(2, dtype=wide, device=images.device)  # (recon, kl), summed over images
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
