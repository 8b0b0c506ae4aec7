"""Datasets: the IDX reader, the registry, where files are looked for, and checked downloads.

A dataset lives whole on the device as one uint8 tensor per split, shaped (N, C, H, W); training
takes batches as index slices of it and scales them to [0, 1] on the fly (``to_unit``).
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaelab.errors import VaelabError

log = logging.getLogger("vaelab")

SPLITS = ("train", "test")
SYSTEM_ROOT = Path("/usr/share/datasets")  # where Debian's dataset packages put their files
IDX_UBYTE = 0x08  # the IDX type code for unsigned bytes, the only one image datasets use


# ---------------------------------------------------------------------------------------------
# The IDX format (LeCun et al.): 2 zero bytes, a type code, the number of dimensions, then each
# dimension as a big-endian uint32, then the data in row-major order.


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
    expected = int(np.prod(shape, dtype=np.int64))
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


# ---------------------------------------------------------------------------------------------
# The data a model sees.


@dataclass(frozen=True)
class ImageData:
    """Both splits of a labelled image dataset, as uint8 tensors on one device."""

    name: str
    classes: tuple[str, ...]
    train_images: torch.Tensor  # (N, C, H, W) uint8
    train_labels: torch.Tensor  # (N,) int64
    test_images: torch.Tensor  # (M, C, H, W) uint8
    test_labels: torch.Tensor  # (M,) int64

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    def to(self, device: torch.device | str) -> ImageData:
        return ImageData(
            self.name,
            self.classes,
            *(t.to(device) for t in (self.train_images, self.train_labels)),
            *(t.to(device) for t in (self.test_images, self.test_labels)),
        )


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1], shape kept."""
    return images.float().div_(255)


def binarize(images: torch.Tensor, seed: int, batch_size: int = 10_000) -> torch.Tensor:
    """One draw of black-or-white images, each pixel white with its grey level as probability:
    uint8 (N, C, H, W) -> uint8 of 0 and 255, the same for a seed on every device."""
    generator = torch.Generator().manual_seed(seed)
    draws = [torch.bernoulli(to_unit(images[i:i + batch_size].cpu()), generator=generator)
             for i in range(0, len(images), batch_size)]
    return torch.cat(draws).to(torch.uint8).mul_(255).to(images.device)


def prepare(data: ImageData, binarized: str, seed: int) -> ImageData:
    """The images a run learns from and is scored on: as they are (``binarized`` 'none'), or
    with the test set binarized once from ``seed``, and for 'static' the training set too
    (from a seed of its own); 'dynamic' binarizes each training batch anew while training."""
    if binarized == "none":
        return data
    train = binarize(data.train_images, seed) if binarized == "static" else data.train_images
    test = binarize(data.test_images, seed + 1)
    return ImageData(data.name, data.classes, train, data.train_labels, test, data.test_labels)


# ---------------------------------------------------------------------------------------------
# The registry.


@dataclass(frozen=True)
class IdxDataset:
    """A dataset published as four IDX files (MNIST and its kin), with mirrors and checksums."""

    name: str
    classes: tuple[str, ...]
    files: dict[str, str]  # role ('train-images', ...) -> file name as published
    md5: dict[str, str]  # file name -> MD5 of the published .gz archive
    mirrors: tuple[str, ...]  # base URLs, tried in order
    image_shape: tuple[int, int, int] = (1, 28, 28)
    title: str = ""  # the name as people write it: "MNIST"

    def load(self, data_dir: str | Path | None = None, *, download: bool = True,
             progress: bool = True) -> ImageData:
        """Find the files (or fetch them), read and check them."""
        folder = find(self, data_dir)
        if folder is None:
            if not download:
                raise VaelabError(_missing_message(self, data_dir, "downloads are off"))
            try:
                folder = fetch(self, download_root(data_dir), progress=progress)
            except VaelabError as err:
                raise VaelabError(_missing_message(self, data_dir, str(err))) from None
        return self._read(folder)

    def _read(self, folder: Path) -> ImageData:
        splits = {}
        for split in SPLITS:
            images_path = _present(folder, self.files[f"{split}-images"])
            labels_path = _present(folder, self.files[f"{split}-labels"])
            images = read_idx(images_path, ndim=3)
            labels = read_idx(labels_path, ndim=1)
            if len(images) != len(labels):
                raise VaelabError(
                    f"{images_path}: {len(images)} images but {labels_path.name} has "
                    f"{len(labels)} labels; one of the two files is wrong"
                )
            if tuple(images.shape[1:]) != self.image_shape[1:]:
                raise VaelabError(
                    f"{images_path}: images are {tuple(images.shape[1:])}, "
                    f"{self.name} images are {self.image_shape[1:]}"
                )
            if len(images) == 0:
                raise VaelabError(f"{images_path}: holds no images")
            if int(labels.max()) >= len(self.classes):
                raise VaelabError(
                    f"{labels_path}: label {int(labels.max())} is out of range for "
                    f"{len(self.classes)} classes"
                )
            splits[split] = (images.unsqueeze(1), labels.long())  # (N, H, W) -> (N, 1, H, W)
        return ImageData(self.name, self.classes, *splits["train"], *splits["test"])

    @property
    def file_names(self) -> list[str]:
        return list(self.files.values())


MNIST_FILES = {  # the names under which MNIST, and the datasets made in its image, are published
    "train-images": "train-images-idx3-ubyte.gz",
    "train-labels": "train-labels-idx1-ubyte.gz",
    "test-images": "t10k-images-idx3-ubyte.gz",
    "test-labels": "t10k-labels-idx1-ubyte.gz",
}


DATASETS: dict[str, IdxDataset] = {
    "mnist": IdxDataset(
        name="mnist",
        classes=tuple(str(d) for d in range(10)),
        files=MNIST_FILES,
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ),
        title="MNIST",
    ),
    "fashion-mnist": IdxDataset(
        name="fashion-mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        files=MNIST_FILES,
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        mirrors=(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        title="Fashion-MNIST",
    ),
}


def get_dataset(name: str) -> IdxDataset:
    try:
        return DATASETS[name]
    except KeyError:
        choices = ", ".join(DATASETS)
        raise VaelabError(f"unknown dataset {name!r}; choose one of: {choices}") from None


def load_dataset(name: str, data_dir: str | Path | None = None, *, download: bool = True,
                 progress: bool = True) -> ImageData:
    """Load a registered dataset, looking for it locally first (see ``search_roots``)."""
    return get_dataset(name).load(data_dir, download=download, progress=progress)


# ---------------------------------------------------------------------------------------------
# Where files are looked for, in order: the explicit data folder, $VAELAB_DATA, the user cache,
# and /usr/share/datasets (where Debian's dataset packages put them). Each root holds one folder
# per dataset: <root>/mnist/train-images-idx3-ubyte.gz, the files gzipped or not.


def cache_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("vaelab", appauthor=False))


def search_roots(data_dir: str | Path | None = None) -> list[Path]:
    roots = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("VAELAB_DATA"):
        roots.append(Path(os.environ["VAELAB_DATA"]))
    roots += [cache_root(), SYSTEM_ROOT]
    return [root.expanduser() for root in roots]


def download_root(data_dir: str | Path | None = None) -> Path:
    """Where downloads go: the folder given, else $VAELAB_DATA if it can be written to, else
    the user cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("VAELAB_DATA")
    if env and _writable(Path(env).expanduser()):
        return Path(env).expanduser()
    return cache_root()


def _writable(folder: Path) -> bool:
    """Whether files can be made in ``folder``, or in the nearest parent that exists."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def _present(folder: Path, name: str) -> Path | None:
    """The file itself or its uncompressed twin, whichever exists."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find(spec: IdxDataset, data_dir: str | Path | None = None) -> Path | None:
    """The first folder, in search order, that holds all of a dataset's files."""
    for root in search_roots(data_dir):
        folder = root / spec.name
        if all(_present(folder, name) for name in spec.file_names):
            return folder
    return None


def _missing_message(spec: IdxDataset, data_dir: str | Path | None, why: str) -> str:
    looked = ", ".join(str(root / spec.name) for root in search_roots(data_dir))
    return (
        f"{spec.name} not found (looked in {looked}) and {why}. Put the four files "
        f"({', '.join(spec.file_names)}) in {download_root(data_dir) / spec.name}, "
        f"or set VAELAB_DATA to a folder that holds {spec.name}/"
    )


def fetch(spec: IdxDataset, root: Path, *, progress: bool = True) -> Path:
    """Download the files missing under ``root/<name>``, trying each mirror in turn.

    Each archive is streamed to a temporary file beside its destination, its MD5 checked,
    and only then renamed into place, so a failed or corrupt download leaves nothing behind.
    """
    import pooch
    import requests

    logging.getLogger("pooch").setLevel(logging.WARNING)
    folder = root / spec.name
    for name in spec.file_names:
        if _present(folder, name):
            continue
        failures = []
        for mirror in spec.mirrors:
            url = mirror + name
            log.info("downloading %s", url)
            try:
                pooch.retrieve(url, known_hash=f"md5:{spec.md5[name]}", fname=name,
                               path=folder, progressbar=progress)
                break
            except (requests.RequestException, ValueError, OSError) as err:
                reason = _short_reason(err)
                log.warning("%s failed (%s); trying the next mirror", url, reason)
                failures.append(f"{mirror}: {reason}")
        else:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            raise VaelabError(f"no mirror served {name} ({'; '.join(failures)})")
    return folder


def _short_reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "hash" in text.lower() and "match" in text.lower():
        return "checksum mismatch, file rejected"
    return text[:160]
