"""What every encoder and decoder is made of: a body that works on the image (flattening, or
convolutions), and a head of dense layers that takes the side input (a conditional model's
one-hot label) beside the body's features or the code."""

from __future__ import annotations

import torch
from torch import nn

from vaelab.errors import VaelabError, named

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


class Encoder(nn.Module):
    """Images (B, C, H, W) [and a side input (B, K)] -> outputs (B, out)."""

    def __init__(self, body: nn.Module, head: nn.Sequential) -> None:
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        h = self.body(x)  # (B, C, H, W) -> (B, F)
        if side is not None:
            h = torch.cat([h, side], dim=1)  # (B, F + K)
        return self.head(h)  # (B, out)


class Decoder(nn.Module):
    """Codes (B, d) [and a side input (B, K)] -> pixel logits (B, C, H, W)."""

    def __init__(self, head: nn.Sequential, body: nn.Module) -> None:
        super().__init__()
        self.head, self.body = head, body

    def forward(self, z: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        if side is not None:
            z = torch.cat([z, side], dim=1)  # (B, d + K)
        return self.body(self.head(z))  # (B, d + K) -> (B, F) -> (B, C, H, W)

    def last_linear(self) -> nn.Linear | None:
        """The head's last layer when the body only reshapes its output (as an MLP's does):
        then pixel logits are that layer's outputs, and an estimator may take sums over pixels
        before it. None for a decoder that works on the image after its head."""
        last = self.head[-1] if len(self.head) else None
        reshape_only = all(isinstance(m, nn.Unflatten | nn.Identity) for m in self.body.modules()
                           if not isinstance(m, nn.Sequential))
        return last if isinstance(last, nn.Linear) and reshape_only else None

    @torch.no_grad()
    def start_at(self, params: torch.Tensor) -> None:
        """Set the output layer's bias to ``params`` (C, H, W), what the decoder gives where the
        layers before it give zero: per pixel when the head's last layer makes the pixels (an
        MLP), else per channel, their mean over the image (a transposed convolution)."""
        last = self.last_linear()
        if last is not None:
            last.bias.copy_(params.flatten())
            return
        convs = [m for m in self.body.modules() if isinstance(m, nn.ConvTranspose2d)]
        if not convs or convs[-1].bias is None:
            raise VaelabError("this decoder has no output bias to start at the data's mean; "
                              "use " + named("--output-bias default", "output_bias='default'"))
        convs[-1].bias.copy_(params.mean(dim=(1, 2)))
