"""The datasets vaelab knows by name, with the files, checksums and mirrors of each."""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from vaelab.data import sources
from vaelab.data.idx import read_idx
from vaelab.data.images import ImageData, resized
from vaelab.data.paths import TEST_FRACTION, beside, load_path, looks_like_path
from vaelab.data.sources import download_root, fetch, find, missing_message, present
from vaelab.errors import VaelabError, did_you_mean, named
from vaelab.files import path_text

SPLITS = ("train", "test")

log = logging.getLogger("vaelab")


@functools.cache  # once per process: a command may load its data more than once
def _say_if_elsewhere(name: str, data_dir: Path, folder: Path) -> None:
    """A data folder that was named but not used (mistyped, say) is worth a warning."""
    if folder.parent != data_dir:
        why = "no such folder" if not data_dir.exists() else f"it holds no complete {name}/"
        log.warning("%s: %s; %s was read from %s", data_dir, why, name, folder)


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
        if data_dir is not None and Path(data_dir).expanduser().is_file():
            own = Path(data_dir).suffix.lower() in (".npz", ".npy")  # images of one's own
            dataset = named(f"--dataset {path_text(data_dir)}",
                            f"load_dataset({str(path_text(data_dir))!r})")
            raise VaelabError(f"{data_dir} is a file; {named('--data-dir', 'data_dir')} names "
                              f"the folder that holds {self.name}/" + (
                                  f" (images of one's own in a file are the dataset: {dataset})"
                                  if own else ""))
        folder = find(self, data_dir)
        if folder is not None and data_dir is not None:
            _say_if_elsewhere(self.name, Path(data_dir).expanduser(), folder)
        if folder is None:
            given = Path(data_dir).expanduser() if data_dir is not None else None
            if given is not None and self._holds_its_files(given):
                raise VaelabError(f"{given} holds the files of {self.name} itself, and vaelab "
                                  f"reads them from a folder {self.name}/ in it: move them "
                                  f"into {given / self.name}, or name the folder above "
                                  f"{self.name}/ with {named('--data-dir', 'data_dir')}")
            if not download:
                raise VaelabError(missing_message(self, data_dir, "downloads are off"))
            folder = self._fetched(download_root(data_dir), data_dir, progress)
        try:
            return self._read(folder)
        except VaelabError:  # in vaelab's own cache, fetched again (or by a process beside
            if not (download and folder.parent == sources.cache_root()):  # this one): read
                raise  # again; else as it is said
            self._mended(folder, data_dir, progress)
        return self._read(folder)

    def _holds_its_files(self, folder: Path) -> bool:
        """Whether ``folder`` holds this dataset's files itself (not in a folder of its
        name): named so, and the archives among them the very ones (Fashion-MNIST's files
        have MNIST's names)."""
        found = [present(folder, name) for name in self.file_names]
        try:
            return all(found) and all(
                path.name != name or _md5(path) == self.md5[name]
                for path, name in zip(found, self.file_names, strict=True) if path is not None)
        except OSError:  # one that cannot be read: said where the files are read
            return False

    def _fetched(self, root: Path, data_dir: str | Path | None, progress: bool) -> Path:
        """The folder of the dataset's files, downloaded under ``root``; where ``root`` did
        not exist (a data folder mistyped, say), said once it is made, and the folders made
        for it taken away again where a failed download left them empty."""
        made = [folder for folder in [root, *root.parents] if not folder.exists()]
        try:
            folder = fetch(self, root, progress=progress)
        except VaelabError as err:
            for empty in made:  # deepest first; one that holds anything stays
                with contextlib.suppress(OSError):
                    empty.rmdir()
            if root.exists() and made and root != sources.cache_root():  # files came
                self._say_made(root, data_dir)
            raise VaelabError(missing_message(self, data_dir, str(err))) from None
        if made and root != sources.cache_root():  # mistyped, say
            self._say_made(root, data_dir)
        return folder

    def _say_made(self, root: Path, data_dir: str | Path | None) -> None:
        log.warning("%s: no such folder; made for %s's files, as %s names it", root, self.name,
                    named("--data-dir", "data_dir") if data_dir is not None else "VAELAB_DATA")

    def _mended(self, folder: Path, data_dir: str | Path | None, progress: bool) -> None:
        """Archives in vaelab's own cache that are not the bytes their MD5 names (damaged
        since, or put there by hand) moved aside (NAME.damaged, -2, ...: not deleted) and
        fetched again."""
        damaged = []
        for name in self.file_names:
            with contextlib.suppress(OSError):  # gone: moved aside by a process beside
                if (folder / name).is_file() and _md5(folder / name) != self.md5[name]:
                    kept = next(aside for n in itertools.count(1) if not (aside := folder / (
                        f"{name}.damaged" + (f"-{n}" if n > 1 else ""))).exists())
                    (folder / name).rename(kept)  # a name not taken: an earlier one stays
                    damaged.append((name, kept.name))
        for name, kept in damaged:
            log.warning("%s: not the file its MD5 names (damaged?); kept as %s, and fetched "
                        "again", folder / name, kept)
        if damaged:
            self._fetched(folder.parent, data_dir, progress)

    def _read(self, folder: Path) -> ImageData:
        splits = {}
        for split in SPLITS:
            images_path = present(folder, self.files[f"{split}-images"])
            labels_path = present(folder, self.files[f"{split}-labels"])
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


def _md5(path: Path) -> str:
    from pooch import file_hash  # in chunks, as pooch checks what it downloads

    return file_hash(str(path), alg="md5")


def get_dataset(name: str) -> IdxDataset:
    try:
        return DATASETS[name]
    except KeyError:
        choices = ", ".join(DATASETS)
        near = did_you_mean(name, [*DATASETS, *beside(Path())])  # a folder here, mistyped
        raise VaelabError(f"unknown dataset {name!r}{near}; choose "
                          f"one of: {choices}, or give a folder of images or a .npz/.npy "
                          f"file") from None


def dataset_title(name: str) -> str:
    """The name as people write it: 'MNIST', or a folder's or file's own name."""
    if name in DATASETS:
        return DATASETS[name].title or name
    return Path(name).stem or name


def dataset_images(name: str, what: str = "images") -> str:
    """``what`` of the dataset ``name`` in words: 'MNIST test images', but of a folder or file
    'test images of faces' (not 'faces test images', nor 'the own images')."""
    return (f"{dataset_title(name)} {what}" if name in DATASETS
            else f"{what} of {dataset_title(name)}")


def load_dataset(name: str | os.PathLike, data_dir: str | Path | None = None, *,
                 download: bool = True, progress: bool = True, image_size: int | None = None,
                 test_fraction: float = TEST_FRACTION, split_seed: int = 0,
                 split_by_order: bool = False) -> ImageData:
    """Load a registered dataset, looking for it locally first (see ``search_roots``), or
    the folder of images or .npz/.npy file that ``name`` is the path of (see
    ``vaelab.data.paths``). ``image_size`` brings every image to that many pixels square;
    ``test_fraction`` and ``split_seed`` choose the test images of data that has none
    (``split_by_order``: as runs of vaelab's config formats up to 6 chose them)."""
    name = path_text(name)  # a pathlib.Path too
    if not isinstance(name, str):
        raise VaelabError(f"load_dataset takes a dataset's name or path (a str or Path), not "
                          f"{type(name).__name__}")
    if name in DATASETS:
        _say_if_a_folder_is_named_so(name)
        if test_fraction != TEST_FRACTION:
            _say_test_set_given(name, test_fraction)
        data = DATASETS[name].load(data_dir, download=download, progress=progress)
        return data if image_size is None else resized(data, image_size)
    if not looks_like_path(name):
        get_dataset(name)  # raises: names the registered ones
    return load_path(name, data_dir, image_size=image_size, test_fraction=test_fraction,
                     split_seed=split_seed, split_by_order=split_by_order, progress=progress)


@functools.cache  # once a process: eval, plot and the demo load the data more than once
def _say_test_set_given(name: str, test_fraction: float) -> None:
    log.warning("%s has a test set of its own, so %s is not used", name,
                named(f"--test-fraction {test_fraction:g}", f"test_fraction={test_fraction:g}"))


@functools.cache
def _say_if_a_folder_is_named_so(name: str) -> None:
    """A folder of images in the working folder that is named as a registered dataset (an
    export of MNIST as PNGs in ./mnist) is not what ``--dataset mnist`` reads: say so."""
    from itertools import islice

    from vaelab.data.decoding import SUFFIXES

    folder = Path(name)
    if folder.is_dir() and any(path.suffix.lower() in SUFFIXES
                               for path in islice(folder.rglob("*"), 1000)):
        log.warning("%s is the registered %s, not the folder of images ./%s here; give %s to "
                    "train on that", named(f"--dataset {name}", repr(name)), DATASETS[name].title,
                    name, named(f"--dataset ./{name}", repr(f"./{name}")))
