"""Write scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, 17 grey levels,
from the UCI "Optical Recognition of Handwritten Digits" set) as a folder of PNG files, one
sub-folder per digit: a small real dataset that vaelab does not know by name.

    pip install scikit-learn
    python docs/export_digits.py digits
    vaelab train --dataset digits --arch conv ...

scikit-learn is needed for this script only; vaelab does not depend on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def main(folder: Path) -> None:
    digits = load_digits()
    pixels = np.rint(digits.images * (255 / 16)).astype(np.uint8)  # 0..16 -> 0..255
    for i, (image, label) in enumerate(zip(pixels, digits.target, strict=True)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / str(label) / f"{i:04d}.png")
    print(f"wrote {len(pixels)} PNGs of {pixels.shape[2]}x{pixels.shape[1]} pixels into {folder}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "digits"))
