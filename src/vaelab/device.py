"""Choosing the device to compute on, and how the CPU treats the tiniest floats.

Adam's first moment of a weight that seldom gets a gradient (a weight from a pixel that is
black in nearly every MNIST image) shrinks by a factor 0.9 a step after each one, and some
800 steps later it is *subnormal*: below 2^-126, about 1.2e-38, where a float loses precision
gradually instead of becoming zero. Intel CPUs handle such numbers in microcode, a hundred
cycles or more each: after 20 epochs of the demo a third of its first layer's Adam state was
subnormal, the fused Adam step took 3.7 ms on one thread instead of 0.6, and the epoch 9 s
instead of 3.5. With the CPU told to read and write them as zero (its flush-to-zero and
denormals-are-zero modes) the cost is gone, and what changes are numbers some thirty orders
of magnitude below the weights they would move: the demo's weights came out bitwise the same.
The demo's timings on the AMD EPYC that ran this project's CI before showed no sign of it.

The mode belongs to a thread, and a thread starts with its creator's. PyTorch's worker
threads (OpenMP's) are made at its first parallel operation and kept, so the mode must be
set before that to reach them: ``vaelab`` commands set it first thing, and a script that
trains with several threads calls ``vaelab.flush_denormals()`` before any PyTorch work.
Library training sets it on the threads it trains in, which is all of them for runs trained
side by side (one thread each).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from vaelab.errors import VaelabError, named


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
        raise VaelabError(f"device {name!r}: CUDA is not available here; use "
                          f"{named('--device cpu', 'device=' + repr('cpu'))}")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise VaelabError(f"device {name!r}: this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise VaelabError(f"device {name!r}: MPS is not available here; use "
                          f"{named('--device cpu', 'device=' + repr('cpu'))}")
    return device


def flushing_denormals() -> bool:
    """Whether this thread reads and writes subnormal floats as zero (either mode: PyTorch
    sets and clears both together)."""
    tiny = torch.tensor([2.0 ** -130], dtype=torch.float32, device="cpu")  # subnormal
    return tiny.mul(1.0).item() == 0.0


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """Subnormal floats read and written as zero on this thread (and the threads it starts)
    while inside, as it was before on leaving. Threads that PyTorch started earlier keep
    their own setting, and threads started inside keep this one."""
    was = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if not was:
            torch.set_flush_denormal(False)


def flush_denormals() -> bool:
    """Subnormal floats read and written as zero by this thread and every thread it starts
    from now on: call it before PyTorch starts its worker threads (before any PyTorch work)
    so that they have it too. Whether the CPU supports it."""
    return torch.set_flush_denormal(True)
