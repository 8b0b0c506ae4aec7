"""Images given as NumPy arrays: a ``.npy`` file of images, or a ``.npz`` file with

    images        (N, H, W), (N, H, W, C) or PyTorch's (N, C, H, W), C = 1 or 3; uint8, or
                  floats in [0, 1]
    labels        (N,) whole numbers from 0 (as integers or floats), optional
    classes       (K,) the class names, optional (else 0, 1, ...)
    test_images   a test set of its own, optional (else a share of ``images`` is held out)
    test_labels   its labels, when ``labels`` are given

read without ever unpickling (a file cannot run code when it is opened).
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

from vaelab.data.cached import Decoded
from vaelab.data.images import pixel_bound
from vaelab.errors import VaelabError

log = logging.getLogger("vaelab")

KNOWN = ("images", "labels", "classes", "test_images", "test_labels")
WIDEST = 2**16  # pixels a side at most, as a run's config takes them (config.checks)


def load_arrays(path: Path) -> Decoded:
    """The images (and labels) of a .npy or .npz file, checked, as uint8 (N, C, H, W)."""
    arrays = _read(path)
    if "images" not in arrays:
        found = ", ".join(arrays) or "nothing"
        raise VaelabError(f"{path}: has no array named 'images' (it holds {found}); save the "
                          f"images under that name: np.savez(file, images=..., labels=...)")
    unknown = [name for name in arrays if name not in KNOWN]
    if unknown:
        log.warning("%s: left out arrays vaelab does not use: %s", path, ", ".join(unknown))
    if "test_labels" in arrays and "test_images" not in arrays:
        raise VaelabError(f"{path}: has test_labels but no test_images")
    parts = [("images", "labels")]
    if "test_images" in arrays:
        parts.append(("test_images", "test_labels"))
    images, labels = [], []
    for image_key, label_key in parts:
        images.append(_images(path, image_key, arrays[image_key]))
        labels.append(_labels(path, label_key, arrays.get(label_key), len(images[-1])))
    if len(parts) == 2:
        if images[0].shape[1:] != images[1].shape[1:]:
            raise VaelabError(f"{path}: images are {_shape(images[0])} but test_images are "
                              f"{_shape(images[1])}; both must have one shape")
        if (labels[0] is None) != (labels[1] is None):
            raise VaelabError(f"{path}: give labels for both images and test_images, or for "
                              f"neither")
    has_labels = labels[0] is not None
    all_labels = np.concatenate(labels) if has_labels else None
    classes = _classes(path, arrays.get("classes"), all_labels)
    split = (np.concatenate([np.full(len(x), s, np.int8) for s, x in enumerate(images)])
             if len(parts) == 2 else None)
    return Decoded(np.concatenate(images), all_labels, classes, split)


MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}  # how each kind of file starts


def _read(path: Path) -> dict[str, np.ndarray]:
    magic = MAGIC.get(path.suffix.lower(), b"")
    try:
        with open(path, "rb") as f:
            if not f.read(len(magic)).startswith(magic):  # else NumPy takes it for a pickle
                raise VaelabError(f"{path}: not a NumPy {path.suffix} file (it does not start "
                                  f"as one); save the arrays with numpy.save or numpy.savez")
        if path.suffix.lower() == ".npy":
            return {"images": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in f.files}
    except ValueError as err:
        if "pickle" in str(err):
            raise VaelabError(f"{path}: holds Python objects, which vaelab does not unpickle; "
                              f"save plain numeric arrays") from None
        raise VaelabError(f"{path}: not a NumPy {path.suffix} file ({err})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise VaelabError(f"{path}: cannot be read as a NumPy {path.suffix} file "
                          f"({str(err) or type(err).__name__})") from None
    except MemoryError as err:  # a header that asks for more than the file holds, say
        raise VaelabError(f"{path}: its arrays do not fit in memory ({err}); if the file is "
                          f"damaged, save the arrays again") from None


def _shape(images: np.ndarray) -> str:
    return _shape_of(*images.shape[1:])


def _shape_of(c: int, h: int, w: int) -> str:
    return f"{w}x{h} pixels with {c} channel{'s' * (c > 1)}"


def _images(path: Path, key: str, x: np.ndarray) -> np.ndarray:
    """Any accepted form -> uint8 (N, C, H, W)."""
    # (28, 28, 3) is one colour image, not 28 grey ones 3 pixels wide, taller than that; grey
    # images that narrow are given as (N, H, W, 1)
    if x.ndim == 3 and x.shape[2] in (3, 4) and x.shape[1] > 4:
        raise VaelabError(f"{path}: {key} has shape {x.shape}: one colour image? give a stack "
                          f"of them, (N, H, W, 3) (for one image: x[None]); for grey images "
                          f"{x.shape[2]} pixels wide, give (N, H, W, 1)")
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[3] in (1, 3):  # either order fits
        a, b, c = x.shape[1:]
        raise VaelabError(f"{path}: {key} of shape {x.shape} may be {_shape_of(c, a, b)} or "
                          f"{_shape_of(a, b, c)}: save them as x.transpose(0, 3, 1, 2) if the "
                          f"first, as x.transpose(0, 2, 3, 1) if the second")
    if x.ndim == 3:
        x = x[:, :, :, None]
    if x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[3] not in (1, 3, 4):  # (N, C, H, W)
        x = x.transpose(0, 2, 3, 1)
    if x.ndim != 4 or x.shape[3] not in (1, 3):
        raise VaelabError(f"{path}: {key} has shape {x.shape}; give (N, H, W) for grey or "
                          f"(N, H, W, 3) or (N, 3, H, W) for colour")
    if len(x) == 0:
        raise VaelabError(f"{path}: {key} holds no images")
    if max(x.shape[1:3]) > WIDEST:
        raise VaelabError(f"{path}: {key} are {x.shape[2]}x{x.shape[1]} pixels, wider or "
                          f"taller than the {WIDEST:,} that vaelab takes; is the shape's order "
                          f"(N, H, W) or (N, H, W, 3)?")
    if x.dtype == np.uint8:
        pass
    elif x.dtype == np.bool_:
        x = x.astype(np.uint8) * 255
    elif np.issubdtype(x.dtype, np.floating):
        if np.isnan(x).any():
            raise VaelabError(f"{path}: {key} hold NaN pixels (the first in image "
                              f"{int(np.isnan(x).any(axis=(1, 2, 3)).argmax())}); give every "
                              f"pixel a value in [0, 1]")
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise VaelabError(f"{path}: {key} are floats outside [0, 1] (from "
                              f"{pixel_bound(float(x.min()))} to {pixel_bound(float(x.max()))}"
                              f"); scale them to [0, 1] or give uint8 pixels")
        x = np.rint(x * 255).astype(np.uint8)
    elif np.issubdtype(x.dtype, np.integer) and x.min() >= 0 and x.max() <= 255:
        x = x.astype(np.uint8)
    else:
        raise VaelabError(f"{path}: {key} are {x.dtype}; give uint8 pixels (0 to 255) or "
                          f"floats in [0, 1]")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def _labels(path: Path, key: str, y: np.ndarray | None, n: int) -> np.ndarray | None:
    if y is None:
        return None
    if y.ndim == 1 and np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() \
            and (y == np.round(y)).all() and (np.abs(y) < 2**31).all():  # 0.0, 1.0, 2.0, as
        y = y.astype(np.int64)  # a DataFrame's column may hold them
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise VaelabError(f"{path}: {key} must be one whole number per image, counting from "
                          f"0 (names go in 'classes'), got {y.dtype.name} values of shape "
                          f"{y.shape}")
    if len(y) != n:
        raise VaelabError(f"{path}: {n} images but {len(y)} {key}; give one label per image")
    if len(y) and y.min() < 0:
        raise VaelabError(f"{path}: {key} has {int(y.min())}; labels count from 0")
    return y.astype(np.int64)


def _classes(path: Path, names: np.ndarray | None, labels: np.ndarray | None
             ) -> tuple[str, ...]:
    if labels is None:
        if names is not None:
            log.warning("%s: left out classes: with no labels, no image has a class", path)
        return ()
    count = int(labels.max()) + 1
    if count > len(labels):  # a class with no image, and 2e9 names made for nothing
        raise VaelabError(f"{path}: the labels go up to {count - 1}, for {len(labels):,} images;"
                          f" give each class a number from 0 up, without gaps")
    if names is None:
        if labels.min() > 0:  # the classes 1..K of the file: else class 0 holds no images
            raise VaelabError(f"{path}: the labels start at {int(labels.min())}; labels count "
                              f"from 0 (subtract {int(labels.min())}), or name every class "
                              f"from 0 in 'classes'")
        return tuple(str(c) for c in range(count))
    names = tuple(str(name) for name in np.atleast_1d(names))
    if len(names) < count:
        raise VaelabError(f"{path}: labels go up to {count - 1} but classes has only "
                          f"{len(names)} names; give one name per label from 0")
    if len(set(names)) < len(names):
        raise VaelabError(f"{path}: classes has a name twice")
    return names
