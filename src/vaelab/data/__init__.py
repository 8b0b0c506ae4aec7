"""Datasets: the registered ones (MNIST and its kin, read from their IDX files) and the user's
own images (a folder, a .npz/.npy file), where their files are looked for and how they are
fetched, and the tensors a model sees.

A dataset lives whole on the device as one uint8 tensor per split, shaped (N, C, H, W); training
takes batches as index slices of it and scales them to [0, 1] on the fly (``to_unit``).

The names below are imported on first use: a process that decodes image files imports
``vaelab.data.decoding`` alone and starts without PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_WHERE = {
    "read_idx": "vaelab.data.idx", "write_idx": "vaelab.data.idx",
    "ImageData": "vaelab.data.images", "binarize": "vaelab.data.images",
    "prepare": "vaelab.data.images", "to_unit": "vaelab.data.images",
    "pixel_bound": "vaelab.data.images",
    "DATASETS": "vaelab.data.registry", "IdxDataset": "vaelab.data.registry",
    "dataset_title": "vaelab.data.registry", "get_dataset": "vaelab.data.registry",
    "dataset_images": "vaelab.data.registry", "load_dataset": "vaelab.data.registry",
    "looks_like_path": "vaelab.data.paths", "NoImagesThere": "vaelab.data.paths",
    "how_to_label": "vaelab.data.paths",
    "cache_root": "vaelab.data.sources", "download_root": "vaelab.data.sources",
    "fetch": "vaelab.data.sources", "find": "vaelab.data.sources",
    "search_roots": "vaelab.data.sources",
}

__all__ = [
    "DATASETS",
    "IdxDataset",
    "ImageData",
    "NoImagesThere",
    "binarize",
    "cache_root",
    "dataset_images",
    "dataset_title",
    "download_root",
    "fetch",
    "find",
    "get_dataset",
    "how_to_label",
    "load_dataset",
    "looks_like_path",
    "pixel_bound",
    "prepare",
    "read_idx",
    "search_roots",
    "to_unit",
    "write_idx",
]


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'vaelab.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from vaelab.data.idx import read_idx, write_idx
    from vaelab.data.images import ImageData, binarize, pixel_bound, prepare, to_unit
    from vaelab.data.paths import NoImagesThere, how_to_label, looks_like_path
    from vaelab.data.registry import (
        DATASETS,
        IdxDataset,
        dataset_images,
        dataset_title,
        get_dataset,
        load_dataset,
    )
    from vaelab.data.sources import cache_root, download_root, fetch, find, search_roots
