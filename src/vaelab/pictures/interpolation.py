"""The interpolation figure: the straight line between the codes of two test images, decoded
at even steps, as a strip and as frames of an animation that goes there and back."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from vaelab.data import ImageData, to_unit
from vaelab.errors import VaelabError, named
from vaelab.measuring.latent import LatentPicture, encode_dataset, interpolate
from vaelab.models import Autoencoder
from vaelab.pictures import plots
from vaelab.pictures.ink import pictures_of

FRAMES = 10  # decoded frames in the interpolation strip
GIF_FRAMES = 40  # frames each way in the animation
GIF_ENDS = (0, GIF_FRAMES - 1)  # its frames at the line's start and end, where it turns


def interpolation_pair(points: np.ndarray, labels: np.ndarray | None) -> tuple[int, int]:
    """The first test images of the two classes whose mean codes lie farthest apart (without
    labels, or with one class: of the first thousand, the code farthest from their mean, and
    the one farthest from that): the straight line between them crosses much of the latent
    region."""
    if labels is None or len(np.unique(labels)) < 2:
        some = points[:1000]
        a = int(np.linalg.norm(some - some.mean(axis=0), axis=1).argmax())
        return a, int(np.linalg.norm(some - some[a], axis=1).argmax())
    classes = np.unique(labels)
    centres = np.stack([points[labels == c].mean(axis=0) for c in classes])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    a, b = np.unravel_index(dist.argmax(), dist.shape)
    first = [int(np.flatnonzero(labels == classes[k])[0]) for k in (a, b)]
    return first[0], first[1]


def firsts(labels: np.ndarray, classes: tuple[int, int], names: Sequence[str]
           ) -> tuple[int, int]:
    """The first test image of each of two classes (of one class twice: its first two)."""
    a, b = classes
    of_a, of_b = np.flatnonzero(labels == a), np.flatnonzero(labels == b)
    if a == b and len(of_a) < 2:
        given = named(f"--between {names[a]} {names[a]}", f"between=({names[a]!r}, "
                                                            f"{names[a]!r})")
        raise VaelabError(f"{given} joins two test images of class {names[a]}, and the test "
                          f"images hold {len(of_a)}")
    for c, of_c in ((a, of_a), (b, of_b)):
        if not len(of_c):
            raise VaelabError(f"the test images hold no image of class {names[c]}, which "
                              f"{named('--between', 'between=')} names; choose another class")
    return int(of_a[0]), int(of_b[1] if a == b else of_b[0])


def walk(model: Autoencoder, ends: torch.Tensor, labels: torch.Tensor, steps: int, ink: bool
          ) -> np.ndarray:
    """Decode ``steps`` points on the line between the codes of two images (2, C, H, W); a
    conditional model's label goes from the one class to the other along with the code."""
    codes = encode_dataset(model, ends, labels)  # (2, d)
    z = interpolate(codes[0], codes[1], steps)  # (steps, d)
    y = None
    if model.conditional:
        one_hot = torch.nn.functional.one_hot(labels, model.classes).float()  # (2, K)
        y = interpolate(one_hot[0], one_hot[1], steps)  # (steps, K): the classes mixed
    return pictures_of(model.decode(z, y), ink)


def interpolation(model: Autoencoder, data: ImageData, seen: LatentPicture, name: str,
                   ink: bool, between: tuple[int, int] | None = None
                   ) -> tuple[Figure, np.ndarray]:
    i, j = (interpolation_pair(seen.points, seen.labels if data.labelled else None)
            if between is None else firsts(seen.labels, between, data.classes))
    ends, labels = data.test_images[[i, j]], data.test_labels[[i, j]]
    frames, there = (walk(model, ends, labels, n, ink) for n in (FRAMES, GIF_FRAMES))
    inputs = pictures_of(to_unit(ends), ink)
    if data.labelled:
        a, b = (data.classes[int(c)] for c in labels)
        apart = " " if max(len(a), len(b)) <= 3 else "\n"  # "a test 7", or a long name below
        ends_named = (f"a test{apart}{a}", f"a test{apart}{b}")  # as the explorer names a pick
        which = (f"two test images (classes {a} and {b})" if a != b else
                 f"two test images of class {a}" + (" far apart" if between is None else ""))
        if model.conditional and a != b:  # the label moves too, and does much of the change
            which += f",\nthe label mixed from {a} to {b} along the way"
    else:
        ends_named, which = ("test image", "test image"), "two test images far apart"
    strip = plots.interpolation_strip(
        frames, inputs[0], inputs[1], start_label=ends_named[0], end_label=ends_named[1],
        title=f"{name}\ndecoding the straight line between the codes of {which}")
    return strip, np.concatenate([there, there[-2:0:-1]])
