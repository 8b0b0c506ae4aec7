"""The data a model sees: both splits of a labelled image dataset as uint8 tensors on one device,
scaled to [0, 1] batch by batch, and binarized where a run asks for black-and-white pixels."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import Any

import torch

from vaelab.errors import VaelabError


@dataclass(frozen=True)
class ImageData:
    """Both splits of an image dataset, as uint8 tensors on one device. Unlabelled data has
    no classes, and its labels are all 0 (given as None, they are made so)."""

    name: str  # a registered name, or the path the data was given by
    classes: tuple[str, ...]  # () when the images come without labels
    train_images: torch.Tensor  # (N, C, H, W) uint8
    train_labels: torch.Tensor  # (N,) int64
    test_images: torch.Tensor  # (M, C, H, W) uint8
    test_labels: torch.Tensor  # (M,) int64
    origin: str | None = None  # where a folder's or file's images were read (moved: elsewhere)
    notes: tuple[str, ...] = ()  # what reading them noticed: files left out, images scaled up

    def __post_init__(self) -> None:
        """A caller's own images (tensors or NumPy arrays, uint8 or floats in [0, 1]) made
        uint8, their labels int64, each checked against the other: a mistake is one line
        here, not a model trained on images scaled twice."""
        if not isinstance(self.name, str) or not self.name:
            raise VaelabError(f"ImageData: its name is {self.name!r}; give the images a name "
                              f"(a str, such as 'faces'), which the run records")
        object.__setattr__(self, "classes", _names(self.classes))
        for split in ("train", "test"):
            images = _pixels(getattr(self, f"{split}_images"), f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if labels is None and not self.classes:  # unlabelled
                labels = torch.zeros(len(images), dtype=torch.long, device=images.device)
            labels = _labels(labels, f"{split}_labels", len(images))
            if self.classes and len(labels) and not 0 <= labels.min() <= labels.max() < len(
                    self.classes):
                raise VaelabError(f"ImageData: {split}_labels go from {labels.min().item()} to "
                                  f"{labels.max().item()}, but there are {len(self.classes)} "
                                  f"classes; number them from 0 to {len(self.classes) - 1}")
            object.__setattr__(self, f"{split}_images", images)
            object.__setattr__(self, f"{split}_labels", labels)
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise VaelabError(f"ImageData: the training images are {_shape(self.train_images)} "
                              f"and the test images {_shape(self.test_images)}; give both "
                              f"splits one (C, H, W)")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    @property
    def apart(self) -> bool:
        """Whether the labels tell images apart: two classes or more (a single class folder,
        as in faces/img/001.png, tells nothing apart)."""
        return len(self.classes) > 1

    def __repr__(self) -> str:  # the tensors' digits say nothing; their sizes do
        c, h, w = self.image_shape
        classes = (f"{len(self.classes)} classes ({', '.join(self.classes[:10])}"
                   f"{', ...' if len(self.classes) > 10 else ''})" if self.classes
                   else "no labels")
        where = f", read from {self.origin}" if self.origin and self.origin != self.name else ""
        return (f"ImageData({self.name!r}: {len(self.train_images):,} training and "
                f"{len(self.test_images):,} test images of {c}x{h}x{w}, {classes}, on "
                f"{self.train_images.device}{where})")

    def fingerprint(self) -> str:
        """A hash of the pixels, labels and class names of both splits: two loads of the same
        images give the same one, anything else (a changed file, another split) another."""
        h = hashlib.blake2b(digest_size=16)
        h.update("\x00".join(self.classes).encode() + b"\x01")
        for t in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            t = t.detach().cpu().contiguous()
            h.update(f"{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.numpy())
        return h.hexdigest()

    def to(self, device: torch.device | str) -> ImageData:
        return ImageData(
            self.name,
            self.classes,
            *(t.to(device) for t in (self.train_images, self.train_labels)),
            *(t.to(device) for t in (self.test_images, self.test_labels)),
            self.origin,
            self.notes,
        )


def _shape(images: torch.Tensor) -> str:
    return "x".join(map(str, images.shape[1:]))


def _names(given: Any) -> tuple[str, ...]:
    """Class names given in order (a list, a tuple, a NumPy array of str), as a tuple of str, as
    a run records them; a set, whose order changes from one process to the next, is refused."""
    try:
        names = None if isinstance(given, (str, bytes, Set, Mapping)) else tuple(given)
    except TypeError:  # not a sequence
        names = None
    if names is None or not all(isinstance(name, str) for name in names):
        shown = repr(given)
        raise VaelabError(f"ImageData: classes are the classes' names in order, a tuple of str "
                          f"(() for images without labels), not "
                          f"{shown if len(shown) <= 60 else shown[:59] + '…'}")
    return tuple(str(name) for name in names)  # np.str_ too, as plain str


def _turned(shape: torch.Size) -> str:
    """How images of ``shape`` that are not (N, C, H, W) may be made so, as a clause ("" where
    no guess is near): grey ones stacked as (N, H, W), colour ones channels last (as stacked
    Pillow images come), with an alpha channel too."""
    if len(shape) == 3 and 0 not in shape:
        return "; for grey images given as (N, H, W), pass x[:, None]"
    if len(shape) != 4 or 0 in shape or shape[3] not in (1, 3, 4):
        return ""
    alpha, x = (" with an alpha channel", "x[..., :3]") if shape[3] == 4 else ("", "x")
    return (f"; these look like channels last{alpha}, as stacked Pillow images are: pass "
            f"{x}.transpose(0, 3, 1, 2) for an array x, {x}.permute(0, 3, 1, 2) for a tensor")


def _pixels(images: object, name: str) -> torch.Tensor:
    """(N, C, H, W) pixels as uint8: uint8 as they are (not copied), floats in [0, 1] times
    255, rounded (into a new tensor: the caller's stay as they were)."""
    try:
        images = torch.as_tensor(images)
    except (TypeError, ValueError, RuntimeError):  # a list of Pillow images, say
        raise VaelabError(f"ImageData: {name} cannot be read as pixels (a "
                          f"{type(images).__name__}); give a tensor or a NumPy array, such as "
                          f"np.stack([np.asarray(image) for image in images]) of Pillow images, "
                          f"turned to (N, C, H, W)") from None
    if images.dim() == 4 and images.shape[1] in (1, 3) and len(images) == 0 \
            and images.shape[2] * images.shape[3] > 0:  # the shape right, the images none
        raise VaelabError(f"ImageData: {name} holds no image; give each split one or more")
    if images.dim() != 4 or images.shape[1] not in (1, 3) or 0 in images.shape:
        raise VaelabError(f"ImageData: {name} has shape {tuple(images.shape)}; give (N, C, H, "
                          f"W) with C = 1 (grey) or 3 (colour){_turned(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    if images.dtype == torch.bool:
        return images.to(torch.uint8) * 255
    if images.is_floating_point():
        low, high = images.min().item(), images.max().item()
        if not (low >= 0 and high <= 1):  # NaN too
            raise VaelabError(f"ImageData: {name} are floats from {pixel_bound(low)} to "
                              f"{pixel_bound(high)}; give "
                              f"floats in [0, 1] or uint8 pixels (0 to 255)")
        return images.float().mul(255).round_().to(torch.uint8)
    raise VaelabError(f"ImageData: {name} are {str(images.dtype).removeprefix('torch.')}; give "
                      f"uint8 pixels (0 to 255) or floats in [0, 1]")


def _labels(labels: object, name: str, n: int) -> torch.Tensor:
    if labels is None:
        raise VaelabError(f"ImageData: {name} is None, and the data has classes; give one "
                          f"class number per image, or classes=() for unlabelled images")
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.is_floating_point() or labels.is_complex() \
            or labels.dtype == torch.bool:
        raise VaelabError(f"ImageData: {name} must be one whole number per image, got "
                          f"{str(labels.dtype).removeprefix('torch.')} of shape "
                          f"{tuple(labels.shape)}")
    if len(labels) != n:
        raise VaelabError(f"ImageData: {n:,} images but {len(labels):,} {name}; give one label "
                          f"per image")
    return labels.long()


def resized(data: ImageData, size: int) -> ImageData:
    """Both splits brought to ``size`` x ``size`` pixels (see ``decoding.fit``)."""
    from vaelab.data.decoding import resize_all

    if data.image_shape[1:] == (size, size):
        return data

    def fit(images: torch.Tensor) -> torch.Tensor:
        hwc = resize_all(images.permute(0, 2, 3, 1).cpu().numpy(), size)
        return torch.from_numpy(hwc).permute(0, 3, 1, 2).contiguous()

    return dataclasses.replace(data, train_images=fit(data.train_images),
                               test_images=fit(data.test_images))


def pixel_bound(x: float) -> str:
    """A float pixel's value as an error shows it: 254.252, but 1.0000001, not the 1 that
    '%g' would show of a value just past [0, 1]."""
    for digits in range(6, 18):  # '%g' gives 6
        shown = f"{x:.{digits}g}"
        if not 0 <= float(shown) <= 1 or 0 <= x <= 1:  # past [0, 1] as it is, or inside
            return shown
    return repr(x)


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [0, 1], shape kept; floats are taken to be in [0, 1] already,
    and are returned as they are (never changed in place, nor of another precision)."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


def binarize(images: torch.Tensor, seed: int, batch_size: int = 10_000) -> torch.Tensor:
    """One draw of black-or-white images, each pixel white with its grey level as probability:
    uint8 (N, C, H, W) -> uint8 of 0 and 255, the same for a seed on every device."""
    generator = torch.Generator().manual_seed(seed)
    draws = [torch.bernoulli(to_unit(images[i:i + batch_size].cpu()), generator=generator)
             .to(torch.uint8)  # each batch's floats let go at once: MNIST's are 188 MB
             for i in range(0, len(images), batch_size)]
    return torch.cat(draws).mul_(255).to(images.device)


def prepare(data: ImageData, binarized: str, seed: int, measuring: bool = False) -> ImageData:
    """The images a run learns from and is scored on: as they are (``binarized`` 'none'), or
    with the test set binarized once from ``seed``, and for 'static' the training set too
    (from a seed of its own); 'dynamic' binarizes each training batch anew while training.
    ``measuring`` binarizes a 'dynamic' run's training set once as well, from the seed a
    'static' run's is drawn from: one draw of what the model learned from, to be measured."""
    if binarized == "none":
        return data
    fixed = binarized == "static" or measuring
    train = binarize(data.train_images, seed) if fixed else data.train_images
    test = binarize(data.test_images, seed + 1)
    return dataclasses.replace(data, train_images=train, test_images=test)
