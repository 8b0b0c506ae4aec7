"""How fast vaelab reads a folder of images: on first read (decoding every file, on every core)
and from its cache after, against Pillow in a plain loop on one core, measured in one run.

    python benchmarks/data_speed.py                  # MNIST's 60,000 training images as PNGs
    python benchmarks/data_speed.py --keep DIR       # keep (or reuse) the folder of PNGs
    python benchmarks/data_speed.py --folder DIR     # any folder of images

The folder is written once from MNIST's training set (VAELAB_DATA, or the user's data folder):
one PNG per image, in one sub-folder per class, as a user's own labelled folder would be.
Each row is the median of --repeats rounds (after one to warm up), rows taking turns so that
a machine that slows down shifts them alike. The files are in the operating system's page
cache by then: these are decoding rates, not disk rates.

    Pillow loop      open, decode and copy each file into one array, one core
    first read       vaelab.data.load_dataset on the folder with an empty cache: listing,
                     decoding on every core, the seeded split, writing the cache
    from the cache   the same call again: listing and checking the files, reading the cache
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from timing import run_main, time_round_robin
from vaelab.data import load_dataset


def write_pngs(folder: Path) -> int:
    """MNIST's training images as folder/<class>/<index>.png; returns how many."""
    data = load_dataset("mnist", progress=False)
    images, labels = data.train_images[:, 0].numpy(), data.train_labels.numpy()
    for c in data.classes:
        (folder / c).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(folder / data.classes[label] / f"{i:05d}.png")
    return len(images)


def image_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg",
                                                                             ".jpeg"))


def pillow_loop(files: list[str]) -> np.ndarray:
    """The plain way: one file after the other, on one core."""
    first = np.asarray(Image.open(files[0]))
    out = np.empty((len(files), *first.shape), dtype=np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as image:
            out[i] = np.asarray(image)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, help="a folder of images to read (default: "
                        "MNIST's training set written as PNGs)")
    parser.add_argument("--keep", type=Path, help="write the PNGs here and keep them (reused "
                        "when the folder exists)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="vaelab-data-speed-"))
    try:
        folder = args.folder or args.keep or scratch / "mnist-png"
        if args.folder is None and not folder.exists():
            started = time.perf_counter()
            n = write_pngs(folder)
            print(f"wrote {n:,} PNGs into {folder} in {time.perf_counter() - started:.0f} s")
        files = image_files(folder)
        caches = iter(range(10**6))

        def first_read() -> None:  # an empty cache each time
            os.environ["XDG_CACHE_HOME"] = str(scratch / f"cache-{next(caches)}")
            load_dataset(str(folder), progress=False)

        def from_cache() -> None:  # the cache the last first read wrote
            load_dataset(str(folder), progress=False)

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
            os.cpu_count()
        print(f"{len(files):,} images in {folder}, {cores} cores, {args.repeats} rounds\n")
        seconds = time_round_robin({"Pillow loop, one core": lambda: pillow_loop(files),
                                    "vaelab, first read": first_read,
                                    "vaelab, from the cache": from_cache}, args.repeats)
        base = seconds["Pillow loop, one core"]
        print(f"{'':24} {'seconds':>8} {'images/s':>10} {'vs Pillow loop':>15}")
        for name, s in seconds.items():
            print(f"{name:24} {s:8.2f} {len(files) / s:10,.0f} {base / s:14.1f}x")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
