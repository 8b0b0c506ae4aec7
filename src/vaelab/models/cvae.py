"""The conditional VAE: encoder q(z|x, y) and decoder p(x|z, y) both see the class label y, so
that z is free to keep what the label does not say (the style), and sampling draws a chosen
class. Its prior is N(0, I) whatever the label, as in Kingma et al. (2014)'s model M2 (Sohn,
Lee & Yan 2015 learn a prior given the label instead)."""

from __future__ import annotations

import torch

from vaelab.errors import VaelabError
from vaelab.models.vae import VAE


class CVAE(VAE):
    """A VAE whose nets take the one-hot label beside the image and beside the code. The prior
    is N(0, I) whatever the label."""

    conditional = True

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n prior draws as the classes ``y`` (n class numbers, or one for all), or,
        without ``y``, as every class in turn: 0, 1, ..., K - 1, 0, 1, ... (n, C, H, W)
        images."""
        n = self.how_many(n)
        if y is None:
            y = torch.arange(n, device=self.device) % self.classes
        y = self.one_for_all(self.labels(y).to(self.device), n)
        if len(y) != n:
            raise VaelabError(f"y holds {len(y)} labels for {n} samples; give one per sample, "
                              f"or one class for all")
        if y.dim() == 1 and len(y) and (y.min() < 0 or y.max() >= self.classes):  # on a GPU,
            # one_hot would not check them: its device-side assert ends the process instead
            raise self.out_of_range(y)
        return super().sample(n, generator, y)
