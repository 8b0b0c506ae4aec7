"""Where the training images live: on the device as one tensor when they fit (batches are then
index slices, with no copy at all), else in pinned host memory, each batch gathered there and
copied over without blocking, while the GPU still computes the step before it. And on which
CPU threads runs that train side by side compute: an equal share each, to their end."""

from __future__ import annotations

import dataclasses

import torch

from vaelab.data import ImageData

ROOM = 0.5  # the share of the GPU's free memory that the images may take; the rest computes


def fits(nbytes: int, device: torch.device) -> bool:
    """Whether ``nbytes`` of images may live on ``device``: always on a CPU or MPS, on a GPU
    when they take at most ``ROOM`` of its free memory."""
    if device.type != "cuda":
        return True
    free, _total = torch.cuda.mem_get_info(device)
    return nbytes <= ROOM * free


def place(data: ImageData, device: torch.device) -> ImageData:
    """``data`` on ``device``; on a GPU too small for its training images, those stay in
    pinned host memory (the labels and the test images go to the GPU all the same)."""
    images = data.train_images
    if fits(images.numel() * images.element_size(), device):
        return data.to(device)
    return dataclasses.replace(
        data, train_images=images.cpu().pin_memory(),
        train_labels=data.train_labels.to(device), test_images=data.test_images.to(device),
        test_labels=data.test_labels.to(device))


def host_order(images: torch.Tensor, order: torch.Tensor) -> torch.Tensor | None:
    """An epoch's permutation ``order`` in pinned host memory, copied once, where the images
    stay on the host and the order is on a GPU; else None."""
    if images.device == order.device:
        return None
    return order.cpu().pin_memory()


def gather(images: torch.Tensor, index: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The rows ``index`` of ``images`` (both on one device), on ``device``: a slice where the
    images are there, else gathered on the host and copied over without blocking."""
    batch = torch.index_select(images, 0, index)  # rows copied whole: 3-4x images[index]
    if images.device == device:
        return batch
    return batch.pin_memory().to(device, non_blocking=True)


class Cores:
    """The CPU threads of runs that train side by side, each in a thread of its own: each
    computes with an equal share of them from its first step to its last. A thread's count is
    its own, as OpenMP keeps it; a thread that has not yet computed starts with the count set
    last in any thread. ``Cores()`` (no threads to share) is a run's alone: it keeps the
    threads it has.

    A run does not take up the share of one that has ended: on some machines more threads
    round its sums otherwise (the Intel Xeon of 6 December 2026 did, by 4e-7 after an epoch),
    and the step at which it would take them depends on when the other ended, so that its
    weights would differ from one demo to the next. The last steps of the demo's runs gained
    less than a second from it on two cores."""

    def __init__(self, threads: int = 0, runs: int = 1) -> None:
        self.threads = threads
        self._share = max(1, threads // max(1, runs))

    def share(self) -> int:
        """The threads each run computes with."""
        return self._share

    def take_share(self) -> None:
        """Compute with this thread's share from now on."""
        if self.threads and torch.get_num_threads() != self._share:
            torch.set_num_threads(self._share)
