"""The C heap under PyTorch's CPU tensors, kept from holding memory that nothing uses.

glibc's malloc serves a block of a few megabytes from its heap once a block of that size has
been freed (it raises its mmap threshold each time), and a freed heap block goes back to the
system only when it lies at the heap's top. A process that makes many such blocks (the
evaluation's passes, two runs training in threads of their own) then keeps hundreds of
megabytes it no longer uses: the first demo peaked at 1.07 GB this way, with no tensor alive
larger than a few megabytes. vaelab's commands fix the threshold at 2 MB (larger blocks are
mapped when made and unmapped when freed; the training step's largest, a layer's gradient of
1.6 MB, stays on the heap) and hand free heap pages back after training.

Fixing the threshold also fixes the heap's trim threshold, which glibc would otherwise raise
with it, at its 128 kB default: the blocks that a training step frees at the top of its heap
then went back to the system at every step, and came back as new pages, zeroed by the
kernel, at the next (a one-thread training epoch of the tutorial's VAE took 6% longer so:
170 to 260 page faults a step, against 2 to 7 now). The heaps keep up to 8 MB free at their
top instead (with 4 MB, a step in a thread of its own, as train_all trains, still took 76).

Elsewhere than glibc (macOS, musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
from collections.abc import Sequence

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from malloc.h
MMAP_THRESHOLD = 2 * 1024 * 1024
TRIM_THRESHOLD = 8 * 1024 * 1024


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def map_large_blocks(threshold: int = MMAP_THRESHOLD, keep: int = TRIM_THRESHOLD) -> bool:
    """Blocks over ``threshold`` bytes are mapped and unmapped, from now on, in this process,
    and each heap keeps up to ``keep`` bytes free at its top. Whether it took effect."""
    libc = _glibc()
    return bool(libc is not None and libc.mallopt(M_MMAP_THRESHOLD, threshold)
                and libc.mallopt(M_TRIM_THRESHOLD, keep))


def hand_back_free_memory() -> bool:
    """Returns the free pages of every heap of this process to the system. Whether any were."""
    libc = _glibc()
    return bool(libc is not None and libc.malloc_trim(0))


def rows_per_block(row: Sequence[int], most: int) -> int:
    """How many rows of float32 values of shape ``row`` to compute at once, so that a tensor of
    them (and so each of a pass's tensors of that size or less) stays a heap block: a block over
    the mmap threshold is mapped, faulted in page by page and unmapped again each time (12 MB
    take 5 ms so, against 0.6 ms from the heap). At least 1 and at most ``most``."""
    return max(1, min(most, MMAP_THRESHOLD // (4 * math.prod(row))))


def physical_memory() -> int | None:
    """Bytes of this machine's memory; None where the system does not say (Windows)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
