"""The data a run's config names, and what a run records about it.

When a run is trained, its config.json records the images' shape, the class names and a
fingerprint of the pixels (and a path given relatively becomes absolute), so that the folder
alone rebuilds the model, and every later command (resume, plot, eval, explore) finds the
same data again: by its name, where it was, or under --data-dir by its own name, and checks
the fingerprint, so that other images are an error rather than a silently wrong result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import unicodedata
from pathlib import Path

import torch

from vaelab.config import DataConfig, RunConfig
from vaelab.data import DATASETS, ImageData, NoImagesThere, load_dataset, prepare
from vaelab.data.paths import looks_like_path
from vaelab.errors import ConfigError, VaelabError, did_you_mean, named
from vaelab.files import path_text

log = logging.getLogger("vaelab")


def check_data(data: object) -> None:
    """Refuse as ``data`` what is not images (a folder or a k given by position, say)."""
    if data is None or isinstance(data, ImageData):
        return
    if isinstance(data, str | os.PathLike | int | float):  # given by position, say
        raise VaelabError(f"data= takes images (an ImageData, as vaelab.load_dataset gives), "
                          f"not {path_text(data)!r}; give the other settings by name")
    shape = f" of shape {tuple(data.shape)}" if hasattr(data, "shape") else ""
    raise VaelabError(f"data= takes images (an ImageData, as vaelab.load_dataset gives), not "
                      f"{type(data).__name__}{shape}; make one of arrays with vaelab.ImageData("
                      f"name, classes, train_images, train_labels, test_images, test_labels)")


def given_as_data(settings: DataConfig) -> str:
    """The name of images a run was given as data= (which no command can load by it), or ""
    where its --dataset names a dataset, a folder or a file."""
    name = settings.dataset
    return "" if name in DATASETS or looks_like_path(name) else name


def load_for(config: RunConfig, data_dir: str | Path | None = None, *, progress: bool = True,
             data: ImageData | None = None, check: bool = True) -> ImageData:
    """The images ``config`` names (or ``data``, the caller's copy of them), checked against
    what the run recorded unless ``check`` is off (a new run records them afresh)."""
    settings = config.data
    check_data(data)

    def load(folder: str | Path | None) -> ImageData:
        return load_dataset(settings.dataset, folder, progress=progress,
                            image_size=settings.image_size, test_fraction=settings.test_fraction,
                            split_seed=settings.split_seed,
                            split_by_order=settings.split_by_order)

    if data is None:
        if given_as_data(settings) and (
                check or settings.fingerprint is not None):  # a run's, not a name mistyped
            again = named("give --dataset their folder or file" if not check else "load it "
                          "from Python, given the same data= again", "pass the same data= again")
            raise VaelabError(f"the run learnt from images given as data= ({settings.dataset}), "
                              f"which vaelab cannot load by their name; {again}")
        try:
            data = load(data_dir)
        except NoImagesThere as err:
            if not check and settings.fingerprint is None:  # a new --dataset: where it says
                raise
            # A run's images that moved: by their name in --data-dir, else in $VAELAB_DATA
            env = os.environ.get("VAELAB_DATA") if data_dir is None else None
            if env:
                with contextlib.suppress(NoImagesThere):
                    data = load(env)
            name, looked = Path(settings.dataset).name, [*err.elsewhere, ("VAELAB_DATA", env)]
            under = "".join(f", nor in {what} ({folder})" for what, folder in looked if folder)
            if data is None:
                again = (f"give {named('--dataset', 'the dataset')} where they are now, or "
                         if not check else "")
                python = named("", " (or pass the same data= again)") if check else ""
                raise VaelabError(f"the run's images are not at {err.path}{under}; {again}point "
                                  f"{named('--data-dir', 'data_dir')} at the folder that holds "
                                  f"{name} now, under that name{python}") from None
    elif (absolute(data.name) != absolute(settings.dataset)  # unless the same images, found
          and not (check and settings.fingerprint == data.fingerprint())):  # elsewhere: a copy
        raise VaelabError(f"the data given is {data.name}, the config asks for "
                          f"{settings.dataset}")
    if check:
        check_same(config, data)
    return data


def absolute(name: str) -> str:
    """A --dataset value as a run records it: a registered name as it is, a path made
    absolute."""
    return name if name in DATASETS else str(Path(name).expanduser().resolve())


def data_key(config: RunConfig) -> tuple:
    """What names a run's data: runs with equal keys load the very same images."""
    settings = config.data
    return (absolute(settings.dataset), settings.image_size, settings.test_fraction,
            settings.split_seed, settings.split_by_order and settings.dataset not in DATASETS)


def check_same(config: RunConfig, data: ImageData) -> None:
    """Refuse images other than those the run recorded (when it recorded them)."""
    settings = config.data
    if data.origin is None and data.name not in DATASETS:  # tensors given from Python
        images, own, changed = (f"the images given as data= ({data.name})",
                                "give the run's own as data=", "")
    else:
        images, own = (f"the images at {data.origin or settings.dataset}",
                       named("point --data-dir at the run's own data",
                             "give the run's own data as data=, or point data_dir at it"))
        changed = " (a file changed, was added or removed)"
    if settings.image_shape is not None and data.image_shape != settings.image_shape:
        raise VaelabError(f"{images} are {_shape(data.image_shape)}, the run was trained on "
                          f"{_shape(settings.image_shape)}; {own}")
    if settings.classes is not None and data.classes != settings.classes:
        raise VaelabError(f"{images} have classes {_names(data.classes)}, the run was trained "
                          f"on {_names(settings.classes)}; {own}")
    if settings.fingerprint is not None and data.fingerprint() != settings.fingerprint:
        raise VaelabError(f"{images} are not those the run was trained on{changed}; {own}, or "
                          f"train a new run on these")


def recorded(config: RunConfig, data: ImageData) -> RunConfig:
    """``config`` with what a run keeps about its data: the dataset as an absolute path (for
    one given by path: where its images were found, --data-dir's copy of a folder moved; for
    tensors given from Python, their name as given), the image shape, the class names, the
    fingerprint. Settings that recorded other images (another run's, whose folder has changed
    since) are told so."""
    given = data.origin is None and data.name not in DATASETS  # tensors, from Python
    name = config.data.dataset  # of tensors, a name kept as given, not made a path
    where = data.origin or (name if given and not looks_like_path(name) else absolute(name))
    data_config = dataclasses.replace(config.data, dataset=where,
                                      image_shape=data.image_shape, classes=data.classes,
                                      fingerprint=data.fingerprint(), notes=data.notes)
    if (config.data.fingerprint not in (None, data_config.fingerprint)  # not images of
            and config.data.image_shape in (None, data.image_shape)):  # another size, asked for
        why = ("other tensors given as data=" if given else "a file changed, was added or "
               "removed since, or the dataset or its split did")
        log.warning("%s: not the images that the settings given were recorded from (%s); the "
                    "new run learns from these", data.origin or data.name, why)
    return dataclasses.replace(config, data=data_config)


def check_subset(config: RunConfig, data: ImageData) -> None:
    wanted, have = config.data.train_subset, len(data.train_images)
    if wanted is not None and wanted > have:
        raise ConfigError(f"train_subset is {wanted}, but {data.name} has {have} training "
                          f"images; ask for at most {have}")


def learned_from(config: RunConfig, data: ImageData) -> tuple[torch.Tensor, torch.Tensor]:
    """The training images and labels a run learns from: all of them, or with --train-subset N,
    N drawn at random with --split-seed (so every run with the same seed learns from the same
    ones), in the data's order. A random draw and not the first N, because a folder lists its
    images class by class: its first N could hold one class alone."""
    subset, images, labels = config.data.train_subset, data.train_images, data.train_labels
    if subset is None:
        return images, labels
    if config.data.train_subset_first:  # a run written before the draw
        return images[:subset], labels[:subset]
    generator = torch.Generator().manual_seed(config.data.split_seed)
    rows = torch.randperm(len(images), generator=generator)[:subset].sort().values
    rows = rows.to(images.device)
    return images.index_select(0, rows), labels.index_select(0, rows)


def class_names(config: RunConfig) -> tuple[str, ...]:
    """The names of the classes a run was trained on; () for unlabelled images."""
    if config.data.classes is not None:
        return config.data.classes
    spec = DATASETS.get(config.data.dataset)
    return spec.classes if spec is not None else ()


def class_number(config: RunConfig, label: str | int, what: str = "label") -> int:
    """A class of the run's given by its number or its name ('7', 7, 'Sneaker') -> its number;
    ``what`` names the argument that gave it (label, between), as the error says."""
    classes = class_names(config)
    if str(label) in classes:
        return classes.index(str(label))
    # As it reads: 'bag', 'ankle boot'; 'café' typed as one letter or two, unless two classes
    # are named so, one of each
    for fold in (lambda name: unicodedata.normalize("NFC", name).casefold(), str.casefold):
        folded = [fold(name) for name in classes]
        if folded.count(fold(str(label))) == 1:
            return folded.index(fold(str(label)))
    numbered = not any(name.isdecimal() for name in classes)  # '2' of '0 1 5 9' is no number
    if numbered and (isinstance(label, int) or str(label).isdecimal()):
        number = int(label)
        if 0 <= number < len(classes):
            return number
    numbers = f" (or its number, 0 to {len(classes) - 1})" if numbered else ""
    raise ConfigError(f"{what}: unknown class {label!r}{did_you_mean(str(label), classes)}; "
                      f"choose one of: {', '.join(map(_shown, classes))}{numbers}")


def image_shape_and_classes(config: RunConfig) -> tuple[tuple[int, int, int], int]:
    """What a model for ``config`` is sized for: (C, H, W) and the number of classes."""
    settings = config.data
    if settings.image_shape is not None:
        return settings.image_shape, len(settings.classes or ())
    if settings.dataset in DATASETS and settings.image_size is None:  # an older run's config
        spec = DATASETS[settings.dataset]
        return spec.image_shape, len(spec.classes)
    raise VaelabError("the config of this run does not record its images' shape; it was not "
                      "written by vaelab train")


def _shape(shape: tuple[int, ...]) -> str:
    c, h, w = shape
    return f"{w}x{h} pixels with {c} channel{'s' * (c > 1)}"


def _names(classes: tuple[str, ...]) -> str:
    if not classes:
        return "none"
    return ", ".join(map(_shown, classes[:4])) + (", ..." if len(classes) > 4 else "")


def _shown(name: str) -> str:
    """A class's name as a line of text can show it: quoted where it holds a line break or
    another character that does not print (folders can be named so)."""
    return name if name.isprintable() else repr(name)


def training_mean(config: RunConfig, data: ImageData) -> torch.Tensor:
    """The mean (C, H, W) of the images a run learns from, on the CPU: of the binarized ones
    for --binarize static, of the grey ones for dynamic (the mean of their binarized draws)."""
    seen = prepare(data, config.data.binarize, config.data.binarize_seed)
    images = learned_from(config, seen)[0]  # (N, C, H, W) uint8
    return (images.cpu().sum(dim=0, dtype=torch.float64) / (255 * len(images))).float()
