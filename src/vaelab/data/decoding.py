"""Image files into arrays: what the worker processes run when a folder is read.

Only NumPy and Pillow here (no PyTorch), so that a worker process starts in a fraction of a
second. Every image comes out as uint8 (H, W, C): C = 1 for grey modes, 3 for everything else
(an alpha channel is dropped, a palette expanded).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


SIZES_DIFFER = "images of different sizes"  # a chunk's error, told with every size by the caller
MOST_SIZES_NAMED = 3
ENLARGED = 4  # an image scaled up more than this many times is mostly its scaling's blur


@dataclass
class Chunk:
    """A run of decoded images: one array when they share a size, or why they could not."""

    images: np.ndarray | None  # (n, H, W, C) uint8, C = 3 if any image of the chunk is colour
    grey: int = 0  # how many were grey and made colour to match the others
    error: str | None = None  # one line naming the file, when one could not be read
    enlarged: list[str] = field(default_factory=list)  # scaled up more than ENLARGED times


def fit(image: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to ``size`` and cut the middle ``size`` x ``size`` square out."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    scale = size / min(width, height)
    scaled = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(scaled, Image.Resampling.LANCZOS if scale < 1
                         else Image.Resampling.BICUBIC)
    left, top = (scaled[0] - size) // 2, (scaled[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_array(image: Image.Image, size: int | None) -> np.ndarray:
    """A Pillow image as uint8 (H, W, C), brought to ``size`` x ``size`` when asked."""
    if image.mode in GREY_MODES:
        if image.mode.startswith("I;16"):
            image = Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8))
        elif image.mode != "L":
            image = image.convert("L")
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if size is not None:
        image = fit(image, size)
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


@contextmanager
def opened(path: str) -> Iterator[Image.Image]:
    """Pillow's image of ``path``, without its warning that an image of over 89 million pixels
    could be a decompression bomb: these are the user's own images, and Pillow refuses one
    of twice that (DecompressionBombError), which is named as unreadable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            yield image


def read_image(path: str, size: int | None) -> tuple[np.ndarray, float]:
    """The image as ``to_array`` gives it, and how many times it was scaled up (1 if not)."""
    with opened(path) as image:
        image.load()
        return to_array(image, size), max(1.0, (size or 0) / max(1, min(image.size)))


def decode_files(paths: list[str], size: int | None) -> Chunk:
    """Decode ``paths`` in order. Without ``size`` they must all share one size."""
    arrays, enlarged = [], []
    for path in paths:
        try:
            array, scale = read_image(path, size)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
            why = str(err).splitlines()[0] if str(err) else type(err).__name__
            return Chunk(None, error=f"{path}: cannot be read as an image ({why}); "
                                     f"replace it or remove it from the folder")
        if arrays and array.shape[:2] != arrays[0].shape[:2]:
            return Chunk(None, error=SIZES_DIFFER)
        arrays.append(array)
        if scale > ENLARGED:
            enlarged.append(path)
    chunk = stack(arrays)
    chunk.enlarged = enlarged
    return chunk


def stack(arrays: list[np.ndarray]) -> Chunk:
    """One array of images of one size; grey ones made colour where any is colour."""
    channels = max(a.shape[2] for a in arrays)
    grey = sum(a.shape[2] < channels for a in arrays)
    if grey:
        arrays = [np.repeat(a, channels, axis=2) if a.shape[2] < channels else a
                  for a in arrays]
    return Chunk(np.stack(arrays), grey=grey)


def different_sizes(paths: list[str], root: str | os.PathLike) -> str:
    """Why the images under ``root`` need --image-size: how many there are of each size and,
    for the rarer sizes, an image of that size (the odd ones out, by their path in the
    folder). Reads the files' headers only (about 40 microseconds a file)."""
    sizes: dict[tuple[int, int], list[str]] = {}
    for path in paths:
        try:
            with opened(path) as image:
                sizes.setdefault(image.size, []).append(path)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            continue  # unreadable files are named when they are decoded
    ranked = sorted(sizes.items(), key=lambda item: -len(item[1]))
    parts = []
    for rank, ((width, height), members) in enumerate(ranked[:MOST_SIZES_NAMED]):
        n = len(members)
        such = "" if rank == 0 else f" (such as {os.path.relpath(members[0], root)})"
        parts.append(f"{n:,} {'is' if n == 1 else 'are'} {width}x{height}{such}")
    more = len(ranked) - MOST_SIZES_NAMED
    others = f", and {more} other size{'s' * (more != 1)}" if more > 0 else ""
    return (f"{root}: the images are not all one size: {', '.join(parts)}{others}; give "
            f"--image-size N to bring every image to N x N")


def resize_all(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, size, size, C), each image as ``fit`` brings it."""
    grey = images.shape[3] == 1
    out = [to_array(Image.fromarray(image[:, :, 0] if grey else image), size)
           for image in images]
    return np.stack(out)
