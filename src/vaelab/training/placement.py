"""Where the training images live: on the device as one tensor when they fit (batches are then
index slices, with no copy at all), else in pinned host memory, each batch gathered there and
copied over without blocking, while the GPU still computes the step before it."""

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


def gather(images: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The rows ``index`` of ``images``, on the device of ``index``: a slice where both share
    it, else gathered on the host and copied over without blocking."""
    if images.device == index.device:
        return torch.index_select(images, 0, index)  # rows copied whole: 3-4x images[index]
    batch = torch.index_select(images, 0, index.cpu()).pin_memory()
    return batch.to(index.device, non_blocking=True)
