"""Datasets: the IDX reader, the registry of datasets, where their files are looked for and
how they are fetched, and the tensors a model sees.

A dataset lives whole on the device as one uint8 tensor per split, shaped (N, C, H, W); training
takes batches as index slices of it and scales them to [0, 1] on the fly (``to_unit``).
"""

from vaelab.data.idx import read_idx, write_idx
from vaelab.data.images import ImageData, binarize, prepare, to_unit
from vaelab.data.registry import DATASETS, IdxDataset, get_dataset, load_dataset
from vaelab.data.sources import cache_root, download_root, fetch, find, search_roots

__all__ = [
    "DATASETS", "IdxDataset", "ImageData", "binarize", "cache_root", "download_root", "fetch",
    "find", "get_dataset", "load_dataset", "prepare", "read_idx", "search_roots", "to_unit",
    "write_idx",
]
