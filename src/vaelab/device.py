"""Choosing the device to compute on."""

from __future__ import annotations

import torch

from vaelab.errors import VaelabError


def select_device(name: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU; any other name must be usable here."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise VaelabError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise VaelabError(f"device {name!r}: CUDA is not available here; use --device cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise VaelabError(f"device {name!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise VaelabError(f"device {name!r}: MPS is not available here; use --device cpu")
    return device
