"""The cache of decoded folders: a folder's images as one array, named by a hash of its
files' paths, sizes and modification times, so that an unchanged folder loads in a fraction
of a second and a changed one is read again."""

from __future__ import annotations

import hashlib
import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vaelab.data import sources
from vaelab.files import write_atomic

if TYPE_CHECKING:
    from vaelab.data.folders import Listing

log = logging.getLogger("vaelab")

CACHE_FORMAT = 3  # 2: EXIF turns, transparency as black, deep greys scaled; 3: notes kept


@dataclass
class Decoded:
    """A folder's images, decoded: what the cache holds."""

    images: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray | None
    classes: tuple[str, ...]
    split: np.ndarray | None
    left_out: tuple[str, ...] | None = None  # the other files, by path in the folder, as read
    notes: tuple[str, ...] = ()  # what decoding noticed (images scaled up), of paths below it


def cache_path(listing: Listing, image_size: int | None) -> Path:
    """Where the decoded folder is cached: named by a hash of its files' paths, sizes and
    modification times and of the size asked for."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{CACHE_FORMAT}|{image_size}|{listing.classes}|".encode())
    h.update("".join(f"{rel}|{size}|{mtime}\n" for rel, size, mtime in listing.stats).encode())
    return sources.cache_root() / "folders" / f"{h.hexdigest()}.npz"


def read_cache(path: Path) -> Decoded | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            left_out = f.get("left_out")  # None in a cache written before it was kept
            return Decoded(f["images"], f.get("labels"), tuple(map(str, f["classes"])),
                           f.get("split"), None if left_out is None else tuple(map(str, left_out)),
                           tuple(map(str, f["notes"])))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, RuntimeError, NotImplementedError,
            zipfile.BadZipFile):  # cut short, or a byte changed (zipfile's many answers)
        log.warning("%s: damaged cache file, reading the folder again", path)
        return None


def write_cache(path: Path, decoded: Decoded) -> None:
    arrays = {"images": decoded.images, "classes": np.array(decoded.classes, dtype=str)}
    if decoded.labels is not None:
        arrays["labels"] = decoded.labels
    if decoded.split is not None:
        arrays["split"] = decoded.split
    arrays["left_out"] = np.array(decoded.left_out or (), dtype=str)
    arrays["notes"] = np.array(decoded.notes, dtype=str)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as err:  # a full disk or a read-only cache costs speed, not the run
        log.warning("could not cache the decoded images in %s (%s)", path.parent, err.strerror)
