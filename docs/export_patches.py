"""Cut colour patches out of the two photographs that ship with scikit-learn (a temple in China
and a flower, 427 x 640 pixels each) into a .npz file: a small colour dataset with two classes,
the photograph each patch comes from.

    pip install scikit-learn
    python docs/export_patches.py patches.npz          # 3,000 patches of 32x32 from each
    vaelab train --dataset patches.npz --arch conv ...

scikit-learn is needed for this script only; vaelab does not depend on it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_sample_images

SIZE, PER_PHOTO = 32, 3000


def main(path: Path) -> None:
    photos = load_sample_images()
    rng = np.random.default_rng(0)
    images, labels = [], []
    for label, photo in enumerate(photos.images):  # (427, 640, 3) uint8 each
        height, width = photo.shape[:2]
        rows = rng.integers(0, height - SIZE + 1, PER_PHOTO)
        cols = rng.integers(0, width - SIZE + 1, PER_PHOTO)
        images += [photo[r:r + SIZE, c:c + SIZE] for r, c in zip(rows, cols, strict=True)]
        labels += [label] * PER_PHOTO
    names = [Path(name).stem for name in photos.filenames]  # china, flower
    np.savez(path, images=np.stack(images), labels=np.array(labels), classes=np.array(names))
    print(f"wrote {len(images)} patches of {SIZE}x{SIZE} from {', '.join(names)} into {path}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "patches.npz"))
