"""Class names on figures: on a scatter amid each class's codes, in its legend,
and over a column of images, each broken into lines that fit it."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes

MOST_NAMED = 20  # classes named on a scatter; more would hide it
NAME_INK = "#1d2330"  # the pages' ink
CANDIDATES, NEIGHBOURS, FEW = 200, 4000, 12  # codes weighed for a class's name (_densest)


def short(classes: Sequence[str]) -> bool:
    """Whether the classes' names are short enough to stand on a scatter ('7', not 'Coat')."""
    return all(len(name) <= 3 for name in classes)


def stand_ins(classes: Sequence[str]) -> list[str]:
    """What stands for each class on a scatter where the names are long: its number, or its
    letter (A, B, ...) where some name is a number itself ('10' among 'cats'), which a number
    standing for another class would be read as (and no letter is itself a class's name)."""
    letters = [chr(ord("A") + i) for i in range(min(len(classes), 26))]
    if any(name.isdigit() for name in classes) and len(classes) <= 26 \
            and not set(letters) & set(classes):
        return letters
    return [str(i) for i in range(len(classes))]


def scatter_marks(classes: Sequence[str]) -> list[str]:
    """What names each class on a scatter: its name where all are short, else its stand-in."""
    return list(classes) if short(classes) else stand_ins(classes)


def name_classes(ax: Axes, points: np.ndarray, labels: np.ndarray, classes: Sequence[str]
                 ) -> None:
    """Each class's name (its stand-in, where names are long) where its codes lie thickest and
    most its own, on a white halo: ten colours are not ten to every reader (several merge for
    the colour-blind, all of them in grey print), a name in place is."""
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    named = [i for i in range(len(classes)) if (labels == i).any()]
    marks = scatter_marks(classes)
    spread = _spread(points)
    at = _apart(np.array([_densest(points, spread, labels == i) for i in named]).reshape(-1, 2),
                spread)
    for i, (u, v) in zip(named, at, strict=True):
        ax.text(u, v, marks[i], ha="center", va="center",
                fontsize=10, fontweight="bold", color=NAME_INK, clip_on=True,
                path_effects=halo, zorder=3)


def _densest(points: np.ndarray, spread: np.ndarray, own: np.ndarray, radius: float = 0.05
             ) -> np.ndarray:
    """Where a class's name stands among all codes ``points`` (n, 2), its own where ``own``:
    of its codes, the one where they lie thickest and most its own (their number within
    ``radius`` of the spread on each axis, times their share of all codes there): in the
    middle of a round cloud, but on the codes where they bend round an empty middle (an arc
    of 1s, whose median lies off it), and away from where another class's codes lie thicker.
    Of a class of fewer than FEW codes, a name on one of which would hide much of them, their
    median (where a folder of one's own has 20 test images a class, their thickest). Weighed
    for at most CANDIDATES of its codes against at most NEIGHBOURS of its own and of all,
    every k-th in order (the same choice on every drawing; explorer.js weighs them so too)."""
    mine = points[own]
    if len(mine) < FEW:
        return np.median(mine, axis=0)
    scaled, every = mine / spread, (points / spread)[::-(-len(points) // NEIGHBOURS)]
    step, ours = -(-len(mine) // NEIGHBOURS), -(-len(points) // NEIGHBOURS)
    candidates, others = scaled[::-(-len(mine) // CANDIDATES)], scaled[::step]

    def near(group: np.ndarray) -> np.ndarray:  # (candidates,) within the radius
        du = candidates[:, :1] - group[:, 0]
        dv = candidates[:, 1:] - group[:, 1]
        return (du * du + dv * dv < radius * radius).sum(axis=1)

    thick, there = near(others) * step, near(every) * ours
    score = thick * thick / np.maximum(there, thick).clip(min=1)
    return candidates[int(np.argmax(score))] * spread


def _spread(points: np.ndarray) -> np.ndarray:
    """The codes' (n, 2) spread on each axis: from their 1st to their 99th percentile."""
    spread = np.ptp(np.percentile(points, [1, 99], axis=0), axis=0)
    spread[spread <= 0] = 1.0
    return spread


def _apart(places: np.ndarray, spread: np.ndarray, gap: float = 0.07) -> np.ndarray:
    """``places`` (K, 2) moved apart until no two are nearer than ``gap`` of the codes'
    ``spread`` on each axis, so that no name hides another where two classes' codes share a
    middle; each moves as little as that takes."""
    at = places / spread
    for _ in range(100):
        moved = False
        for a in range(len(at)):
            for b in range(a + 1, len(at)):
                step = at[b] - at[a]
                distance = float(np.hypot(*step))
                if distance < gap:
                    away = step / distance if distance > 1e-9 else np.array([0.0, 1.0])
                    at[a] -= away * (gap - distance) / 2
                    at[b] += away * (gap - distance) / 2
                    moved = True
        if not moved:
            break
    return at * spread


def legend_names(classes: Sequence[str]) -> list[str]:
    """The classes as the legend names them: long names with the numbers (or letters) that
    stand for them on the scatter."""
    if short(classes) or len(classes) > MOST_NAMED:
        return list(classes)
    return [f"{mark} {name}" for mark, name in zip(stand_ins(classes), classes, strict=True)]


def in_a_column(label: str, width: int = 8) -> str:
    """A class name in lines that fit over one image ('Ankle boot' -> 'Ankle\nboot',
    'golden_retriever' -> 'golden_\nretriev-\ner'): broken after a space, slash, underscore
    or hyphen, and a word still too long with a hyphen of its own."""
    lines: list[str] = []
    for space, word in re.findall(r"( *)([^ /_-]+[/_-]?|[/_-])", label):  # words and breaks
        letters = len(word.rstrip("/_-"))  # a break after the word may stand past the width
        pieces = [word[i:i + width - 1] + "-" for i in range(0, letters - width, width - 1)]
        for piece in [*pieces, word[len(pieces) * (width - 1):]]:
            joined = lines[-1] + (" " if space else "") + piece if lines else ""
            if lines and len(joined) <= width:
                lines[-1] = joined
            else:
                lines.append(piece)
            space = ""
    return "\n".join(lines)
