"""The IDX format (LeCun et al.) in which MNIST and its kin are published: 2 zero bytes, a type
code, the number of dimensions, then each dimension as a big-endian uint32, then the data in
row-major order."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from vaelab.errors import VaelabError

IDX_UBYTE = 0x08  # the IDX type code for unsigned bytes, the only one image datasets use
MOST_BYTES = 2**40  # a terabyte: no dataset read into memory is larger


def read_idx(path: str | Path, ndim: int | None = None) -> torch.Tensor:
    """Read an IDX file of unsigned bytes (gzipped or raw) into one uint8 tensor.

    Raises ``VaelabError`` naming the file when it is not IDX, has another number of
    dimensions than ``ndim``, or holds more or fewer bytes than its header promises.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise VaelabError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as err:
        raise VaelabError(f"{path}: cannot be read ({err}); delete it and fetch it again") from None
    return _parse_idx(raw, path, ndim)


def _parse_idx(raw: bytes, path: Path, ndim: int | None) -> torch.Tensor:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise VaelabError(f"{path}: not an IDX file (bad magic number)")
    if raw[2] != IDX_UBYTE:
        raise VaelabError(f"{path}: IDX type 0x{raw[2]:02x} is not supported, only unsigned bytes")
    dims_found = raw[3]
    if ndim is not None and dims_found != ndim:
        raise VaelabError(f"{path}: has {dims_found} dimensions, expected {ndim}")
    header = 4 + 4 * dims_found
    if len(raw) < header:
        raise VaelabError(f"{path}: truncated IDX header")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=dims_found, offset=4))
    if math.prod(n for n in shape if n) > MOST_BYTES:  # also where a 0 hides the product
        raise VaelabError(f"{path}: its header claims a shape of {shape}, which no image data "
                          f"has; the file is damaged, fetch it again")
    expected = math.prod(shape)
    if len(raw) - header != expected:
        raise VaelabError(
            f"{path}: header promises {expected} bytes of data for shape {shape}, "
            f"file holds {len(raw) - header}; the file is damaged, fetch it again"
        )
    data = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(data.copy())


def write_idx(path: str | Path, array: np.ndarray | torch.Tensor) -> None:
    """Write a uint8 array as an IDX file, gzipped when the name ends in .gz (for tests, tools)."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, IDX_UBYTE, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())

