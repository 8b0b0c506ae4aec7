"""Datasets given by a path rather than a name: a folder of images or a ``.npz``/``.npy`` file,
found (where it was, or under the data folder by its name), brought to one size, and split
into training and test images with a seed when they come as one set.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from pathlib import Path

import numpy as np
import torch

from vaelab.data.arrays import load_arrays
from vaelab.data.cached import Decoded
from vaelab.data.folders import load_folder
from vaelab.data.images import ImageData, resized
from vaelab.errors import VaelabError, did_you_mean, named

log = logging.getLogger("vaelab")
TEST_FRACTION = 0.1  # of data that comes as one set, held out to test on

ARRAY_SUFFIXES = (".npz", ".npy")


def looks_like_path(name: str) -> bool:
    """Whether a --dataset value names a file or folder rather than a registered dataset."""
    return "/" in name or "\\" in name or name.lower().endswith(ARRAY_SUFFIXES) or \
        Path(name).expanduser().exists()


class NoImagesThere(VaelabError):
    """Nothing at the path a --dataset value (or a run's record of one) names, nor under the
    data folders: ``path`` is that path, ``elsewhere`` the data folders tried, each with the
    option or variable that named it."""

    def __init__(self, path: Path, elsewhere: list[tuple[str, Path]]) -> None:
        looked = [path, *(folder / path.name for _, folder in elsewhere)]
        near = did_you_mean(path.name, beside(path.parent))
        super().__init__(f"no images at {' or '.join(map(str, looked))}{near}; give "
                         f"{named('--dataset', 'as the dataset')} a folder of images or a "
                         f".npz/.npy file (or mnist, fashion-mnist)")
        self.path, self.elsewhere = path, elsewhere


def beside(folder: Path, most: int = 1000) -> list[str]:
    """The names of the folders and NumPy files in ``folder`` that a --dataset could mean (of
    its first ``most`` entries; none where it cannot be read), for a did-you-mean."""
    try:
        with os.scandir(folder) as entries:
            return [entry.name for _, entry in zip(range(most), entries, strict=False)
                    if not entry.name.startswith(".") and (entry.is_dir() or entry.name.lower(
                        ).endswith(ARRAY_SUFFIXES))]
    except OSError:
        return []


def how_to_label(name: str) -> str:
    """How images given as ``name`` get labels: sub-folders for a folder, an array beside the
    images for a NumPy file."""
    if name.lower().endswith(".npy"):
        return "a .npy holds images alone; save them in a .npz with 'labels' beside 'images'"
    if name.lower().endswith(".npz"):
        return "save 'labels' beside 'images' in the .npz"
    return "put the images in one sub-folder per class"


def locate(name: str, data_dir: str | Path | None = None) -> Path:
    """The file or folder ``name`` points to; with ``data_dir``, a file or folder of the same
    name there comes first (a run's data moved to another machine)."""
    path = Path(name).expanduser()
    elsewhere = [("--data-dir", Path(data_dir).expanduser())] if data_dir is not None else []
    for candidate in [*(folder / path.name for _, folder in elsewhere), path]:
        if candidate.exists():
            return candidate
    raise NoImagesThere(path, elsewhere)


def load_path(name: str, data_dir: str | Path | None = None, *, image_size: int | None = None,
              test_fraction: float = TEST_FRACTION, split_seed: int = 0,
              split_by_order: bool = False, progress: bool = True) -> ImageData:
    """A folder or array file as both splits of a dataset named ``name``."""
    path = locate(name, data_dir)
    drawn = (test_fraction, split_seed, split_by_order)
    if path.is_dir():  # each image brought to size as it is decoded: sizes may differ
        return split(name, load_folder(path, image_size, progress=progress), path, *drawn)
    if path.suffix.lower() in ARRAY_SUFFIXES:
        data = split(name, load_arrays(path), path, *drawn)
        return data if image_size is None else resized(data, image_size)
    raise VaelabError(f"{path}: not a folder, .npz or .npy file; give "
                      f"{named('--dataset', 'as the dataset')} a folder of images or a NumPy "
                      f"file")

def split(name: str, decoded: Decoded, path: Path, test_fraction: float, seed: int,
          by_order: bool = False) -> ImageData:
    """Training and test images: as the data gives them, else ``test_fraction`` of each class
    (of all images, when unlabelled) held out: those whose hash of their pixels and ``seed``
    is lowest, so that an image added or removed moves at most one other between the
    splits; ``by_order``, drawn at random from ``seed`` over the images' order, as runs of
    config formats up to 6 drew them (an image added moved most of them)."""
    if decoded.split is not None:
        test = decoded.split == 1
        if test_fraction != TEST_FRACTION:
            _say_split_given(path.resolve(), test_fraction)  # once, however it is named
    else:
        test = np.zeros(len(decoded.images), dtype=bool)
        rng = np.random.default_rng(seed) if by_order else None
        hashed = None if by_order else _hashed(decoded.images, seed)  # (N,) uint64
        groups = ([np.flatnonzero(decoded.labels == c) for c in range(len(decoded.classes))]
                  if decoded.labels is not None else [np.arange(len(decoded.images))])
        for c, members in enumerate(groups):
            if len(members) < 2:
                what = (f"class {decoded.classes[c]!r}" if decoded.labels is not None
                        else "the data")
                raise VaelabError(f"{path}: {what} has {len(members)} image"
                                  f"{'s' * (len(members) != 1)}; it needs at least two, one to "
                                  f"train on and one to test on")
            n_test = min(len(members) - 1, max(1, round(len(members) * test_fraction)))
            test[rng.choice(members, n_test, replace=False) if by_order else
                 members[np.argsort(hashed[members], kind="stable")[:n_test]]] = True
    labels = (decoded.labels if decoded.labels is not None
              else np.zeros(len(decoded.images), dtype=np.int64))
    if not test.any() or test.all():
        raise VaelabError(f"{path}: its train or test part holds no images")

    def part(mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(np.ascontiguousarray(decoded.images[mask])),
                torch.from_numpy(labels[mask]))

    return ImageData(name, decoded.classes, *part(~test), *part(test),
                     origin=str(path.resolve()), notes=decoded.notes)


def _hashed(images: np.ndarray, seed: int) -> np.ndarray:
    """A number for each image (N, C, H, W) from its pixels and ``seed`` alone, not its place;
    a grey image made colour (three equal channels), by its one channel, so that a colour
    image added to grey ones, which makes them all colour, moves none of them."""
    key = seed.to_bytes(8, "little")
    return np.array([int.from_bytes(hashlib.blake2b(
        (image[:1] if (image == image[:1]).all() else image).tobytes(), key=key,
        digest_size=8).digest(), "little") for image in images], dtype=np.uint64)


@functools.cache  # once a process, however often the run's data is loaded
def _say_split_given(path: Path, test_fraction: float) -> None:
    log.warning("%s: its train/ and test/ give the split, so the test fraction asked for "
                "(%s) is not used", path, named(f"--test-fraction {test_fraction:g}",
                                                f"test_fraction={test_fraction:g}"))
