"""Figures from arrays. Each function returns a matplotlib Figure and never shows it.

Images are arrays in [0, 1], drawn as they are: (H, W) grey ones 0 black and 1 white, (H, W, 3)
colour ones by their channels, resampled to the figure's pixels before they are coloured (the
same pixels, and a quarter of the memory of matplotlib's order since 3.10); gaps between images
are white (callers that draw ink on paper flip grey images first, see ``vaelab.pictures.ink``).
No pyplot: the figures are plain ``matplotlib.figure.Figure`` objects, so nothing here touches
a display or global state, and they render alike in a terminal, a notebook or a test.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from vaelab.errors import VaelabError
from vaelab.measuring.latent import LINE_ROWS, Manifold
from vaelab.pictures.names import MOST_NAMED, in_a_column, legend_names, name_classes
from vaelab.pictures.titles import PAGE_WIDTH, balanced, fitted

STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10,
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": False, "legend.frameon": False,
    "figure.dpi": 100, "figure.facecolor": "white",
    "svg.fonttype": "none", "pdf.fonttype": 42,  # text a slide or a drawing program can edit
    "svg.hashsalt": "vaelab",  # an SVG's ids the same each time it is drawn, not random
    "image.interpolation": "nearest",
    "axes.formatter.limits": (-2, 5),  # ticks of 0.01 read 1.0 and "1e-2", not run together
}
FORMATS = ("png", "pdf", "svg")  # of the figures' files
PRINT_DPI = 300  # pixels an inch of what a PDF or SVG holds as pixels (points, images)
LABEL_WIDTH = 32  # characters of a line of a y label that fit beside axes 2.4 in high
CLASS_COLORS = matplotlib.colormaps["tab10"].colors
UNLABELLED = "#3b5b92"  # the one colour of points that have no class


@contextmanager
def style() -> Iterator[None]:
    """matplotlib settings of vaelab's figures, for the figures drawn inside this block."""
    with matplotlib.rc_context(STYLE):
        yield


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise VaelabError(f"unknown figure format {fmt!r}; choose one of: {', '.join(FORMATS)}")


def show(ax: Axes, image: np.ndarray, **options: Any) -> None:
    """An image in [0, 1] as it is (module docstring), resampled before it is coloured."""
    if image.ndim == 2:
        options = {"cmap": "gray", "vmin": 0, "vmax": 1, **options}
    ax.imshow(image.clip(0, 1), interpolation_stage="data", **options)


def class_color(i: int) -> Any:
    """Class i's colour: tab10's for the first ten, then the light shade of the same ten, so
    that twenty classes are twenty colours (and more repeat them, with another marker)."""
    light = matplotlib.colormaps["tab20"].colors[1::2]
    return (CLASS_COLORS + light)[i % (2 * len(CLASS_COLORS))]


MARKERS = "o^sDv*"  # of each twenty classes in turn: class 20 is class 0's colour, a triangle


def class_shape(i: Any) -> Any:
    """Which of the markers class i (or each of an array of classes) takes: 0 for the first
    twenty classes, 1 for the next twenty, and so on round the markers."""
    return i // (2 * len(CLASS_COLORS)) % len(MARKERS)


def class_marker(i: int) -> str:
    return MARKERS[class_shape(i)]


# ---------------------------------------------------------------------------------------------
# Latent space.


def draw_scatter(ax: Axes, points: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                 axis_labels: tuple[str, str] = ("$z_1$", "$z_2$"), legend: bool = True,
                 max_points: int = 10_000, equal: bool = True) -> None:
    """Points (N, 2) coloured by their class, in a shuffled order so no class hides another
    (all in one colour, and no legend, when there are no ``classes``); ``equal`` keeps one
    unit as long on both axes, as distances in a latent plane need."""
    order = np.random.default_rng(0).permutation(len(points))[:max_points]
    colors = np.array([class_color(int(c)) for c in range(len(classes))] or [UNLABELLED])
    size = float(np.clip(6000 / max(len(order), 1), 3, 16))  # few points, bigger dots
    drawn = labels[order] if classes else np.zeros(len(order), int)
    # Each twenty classes' marker: a marker's codes drawn over the one's before it, and in
    # their shuffled order among themselves
    blocks = class_shape(drawn)
    for block in np.unique(blocks) if len(blocks) else [0]:
        mine = blocks == block
        ax.scatter(points[order[mine], 0], points[order[mine], 1], c=colors[drawn[mine]],
                   s=size, marker=MARKERS[block], alpha=0.6, linewidths=0, rasterized=True)
    ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1])
    if axis_labels[1] == LINE_ROWS:  # the latent line, a row of codes per class: each named
        ax.set_yticks(range(len(classes)), classes)  # and no tick without classes
    elif 0 < len(classes) <= MOST_NAMED:
        name_classes(ax, points, labels, classes)
    if equal:
        ax.set_aspect("equal", adjustable="datalim")
    if legend and classes:
        class_legend(ax, classes, shown=np.unique(drawn))


def class_legend(owner: Axes | Figure | SubFigure, classes: Sequence[str],
                 at: tuple[float, float] = (1.01, 0.5), columns: int = 1,
                 shown: Sequence[int] | np.ndarray | None = None) -> None:
    """The classes' colours, with their left edge's middle at ``at`` of ``owner`` (by default
    just right of an axes), in ``columns``; of those ``shown`` (all by default): a class
    that has no test image of a folder's own split has no point to name."""
    kept = range(len(classes)) if shown is None else sorted({int(i) for i in shown})
    handles = [Line2D([], [], marker=class_marker(i), linestyle="", color=class_color(i),
                      markersize=5) for i in kept]
    names = legend_names(classes)
    owner.legend(handles, [names[i] for i in kept], loc="center left", bbox_to_anchor=at,
                 handletextpad=0.2, labelspacing=0.35, title="class", ncols=columns)


def latent_scatter(points: np.ndarray, labels: np.ndarray, classes: Sequence[str], *,
                   title: str, axis_labels: tuple[str, str] = ("$z_1$", "$z_2$"),
                   equal: bool = True,
                   window: tuple[float, float, float, float] | None = None) -> Figure:
    """The codes, coloured by class; a plane's to scale in ``window`` (left, right, bottom,
    top), the manifold figure's region, so that side by side a code sits where it decodes."""
    sides = np.diff(np.reshape(window, (2, 2))).ravel() if window is not None else np.zeros(2)
    to_scale, size = equal and bool(np.isfinite(sides).all() and (sides > 0).all()), (6.4, 5.2)
    if to_scale:  # in a box of 4.6 inches on its longer side; high enough for the legend
        ratio = sides[1] / sides[0]
        size = (max(4.6 * min(1.0, 1 / ratio) + 1.8, 4.4), max(4.6 * min(1.0, ratio) + 1.0, 3.6))
    with style():
        fig = Figure(figsize=size, layout="constrained")
        ax = fig.add_subplot()
        draw_scatter(ax, points, labels, classes, axis_labels, equal=equal and not to_scale)
        if to_scale:
            ax.set(xlim=window[:2], ylim=window[2:], aspect="equal", adjustable="box")
        ax.set_title(title)
    return fig


def draw_manifold(ax: Axes, manifold: Manifold,
                  axis_labels: tuple[str, str] = ("$z_1$", "$z_2$")) -> None:
    """The tiled decodings, each centred on its grid point and drawn in its images' shape."""
    u, v = manifold.u, manifold.v
    extent = manifold.extent if manifold.evenly_spaced else (-0.5, len(u) - 0.5, -0.5, len(v) - 0.5)
    rows, cols = manifold.picture.shape[:2]  # a grid's steps are one length on both axes:
    aspect = (rows / len(v)) / (cols / len(u))  # a tile's height to its width keeps its shape
    show(ax, manifold.picture, extent=extent, aspect="equal" if aspect == 1 else aspect)
    if not manifold.evenly_spaced:  # tiles sit at prior quantiles: label the ticks with the z
        # value of their tile and its quantile, so that they are not read as evenly spaced
        for values, set_ticks, form in ((u, ax.set_xticks, "{}\n({})"),
                                        (v, ax.set_yticks, "{} ({})")):
            ticks = np.unique(np.linspace(0, len(values) - 1, 5).round().astype(int))
            set_ticks(ticks, [form.format(f"{values[i]:.2f}".replace("-", "−"),  # a minus
                                          f"{50 * (1 + math.erf(values[i] / math.sqrt(2))):.3g}%")
                              for i in ticks])
    ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1])
    if len(v) == 1:  # the latent line: the vertical axis means nothing
        ax.set(yticks=[], ylabel="")
        ax.spines["left"].set_visible(False)


def manifold_figure(manifold: Manifold, *, title: str,
                    axis_labels: tuple[str, str] = ("$z_1$", "$z_2$")) -> Figure:
    """The decoder's tiles in a box of 5.2 inches on their longer side: a region of codes
    three times as high as wide is a narrow figure, not one three pages long."""
    rows, cols = manifold.picture.shape[:2]
    box = 5.2
    width, height = box * min(1.0, cols / rows), box * min(1.0, rows / cols)
    with style():
        fig = Figure(figsize=(max(width, 2.6) + 1.0, height + 1.0), layout="constrained")
        ax = fig.add_subplot()
        draw_manifold(ax, manifold, axis_labels)
        ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------------------------
# Images.


def _strip(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """Images (N, H, W[, 3]) side by side with a white gap: (H, N * (W + gap) - gap[, 3])."""
    n, h, w = images.shape[:3]
    out = np.ones((h, n * (w + gap) - gap, *images.shape[3:]), dtype=np.float32)
    for i, image in enumerate(images):
        out[:, i * (w + gap):i * (w + gap) + w] = image
    return out


def grid_of(images: np.ndarray, cols: int) -> np.ndarray:
    """Images (N, H, W[, 3]) in rows of ``cols``, a thin white gap between them (so that
    small images whose ink reaches their edges stay apart). N a multiple of ``cols``."""
    gap = max(1, images.shape[1] // 14)
    rows = [_strip(images[i:i + cols], gap) for i in range(0, len(images), cols)]
    paper = np.ones((gap, *rows[0].shape[1:]), np.float32)
    return np.concatenate([part for row in rows for part in (paper, row)][1:])


def image_rows(rows: Sequence[tuple[str, np.ndarray]], *, title: str,
               column_labels: Sequence[str] | None = None) -> Figure:
    """Rows of images (each (N, H, W)), each row named on its left."""
    n = max(len(images) for _, images in rows)
    labels = [in_a_column(label) for label in column_labels or ()]
    lines = max((label.count("\n") for label in labels), default=0)  # more than one line each
    side = min(0.62, (PAGE_WIDTH - 1.4) / n)  # ten images a row fit on a page
    title = fitted(title)
    lines += max(0, title.count("\n") - 1)  # a title of more than two lines too
    with style():
        fig = Figure(figsize=(side * n + 1.4, (side + 0.08) * len(rows) + 0.7 + 0.17 * lines),
                     layout="constrained")  # taller with each line of the labels: as wide
        axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
        for ax, (name, images) in zip(axes, rows, strict=True):
            show(ax, _strip(images))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(name, rotation=0, ha="right", va="center")
            ax.spines[:].set_visible(False)
        if column_labels is not None:
            w = rows[0][1].shape[2]
            axes[0].set_xticks([i * (w + 2) + w / 2 for i in range(len(labels))], labels)
            axes[0].xaxis.tick_top()
            axes[0].tick_params(length=0, labelsize=9)  # eight letters fit over an image
        fig.suptitle(title)
    return fig


def image_grid(picture: np.ndarray, *, title: str) -> Figure:
    """One tiled picture (rows * H, cols * W), without axes."""
    with style():
        fig = Figure(figsize=(5.6, 5.9), layout="constrained")
        ax = fig.add_subplot()
        show(ax, picture)
        ax.set_axis_off()
        ax.set_title(title)
    return fig


def interpolation_strip(frames: np.ndarray, start: np.ndarray, end: np.ndarray, *,
                        start_label: str, end_label: str, title: str) -> Figure:
    """The two input images at the ends and the decoded frames (S, H, W) between them."""
    panels = [start, *frames, end]
    side = min(0.75, (PAGE_WIDTH - 0.4) / len(panels))  # printed at its size: on a page
    title = fitted(title)
    with style():
        # as tall as the images, their labels and the title's lines: no band between them
        lines = title.count("\n") + max(start_label.count("\n"), end_label.count("\n"))
        fig = Figure(figsize=(side * len(panels) + 0.4, side + 0.5 + 0.17 * lines),
                     layout="constrained")
        axes = fig.subplots(1, len(panels))
        for i, (ax, image) in enumerate(zip(axes, panels, strict=True)):
            show(ax, image)
            ax.set_xticks([])
            ax.set_yticks([])
            is_input = i in (0, len(panels) - 1)
            for spine in ax.spines.values():
                spine.set_visible(is_input)
                spine.set_color("#d62728")
            if is_input:
                ax.set_xlabel(start_label if i == 0 else end_label, color="#d62728")
            else:
                t = f"{(i - 1) / max(len(frames) - 1, 1):.2g}"  # where on the line: 0 to 1
                ax.set_xlabel(f"t = {t}" if i in (1, len(frames)) else t, color="#555555")
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# Training.


def loss_curves(metrics: Sequence[dict[str, Any]], *, title: str, recon_name: str,
                kl_name: str = "KL", loss_name: str = "loss (recon + KL)") -> Figure:
    """Train and test terms per image against epochs: the loss, and for a VAE its two terms."""
    epochs = [m["epoch"] for m in metrics]
    has_kl = metrics[0]["train"]["kl"] is not None
    panels = [("loss", loss_name), ("recon", recon_name), ("kl", kl_name)] if has_kl else [
        ("loss", recon_name)]
    width = min(3.6, (PAGE_WIDTH - 0.4) / len(panels))  # three panels fit on a page
    title = fitted(title)
    with style():
        # as tall as a title of two lines needs, and more for each line more (the axes keep
        # their height); each label in lines that fit beside them, not beyond them
        height = 3.3 + 0.17 * max(0, title.count("\n") - 1)
        fig = Figure(figsize=(width * len(panels) + 0.4, height), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (key, name) in zip(axes, panels, strict=True):
            for split, line in (("train", "-"), ("test", "--")):
                ax.plot(epochs, [m[split][key] for m in metrics], line, marker=".",
                        label=split, color="#1f77b4" if split == "train" else "#d62728")
            first, *more = name.split("\n")  # a second line says more of it
            what, comma, how = first.partition(", ")  # "−IWAE bound per image, k = 5"
            label = [balanced(line, LABEL_WIDTH) for line in
                     (f"{what} per image{comma}{how}", *more)]
            ax.set(xlabel="epoch", ylabel="\n".join(label),
                   xlim=(epochs[0] - 0.5, epochs[-1] + 0.5))  # no tick at an epoch 0
            ax.grid(alpha=0.25)
            ax.xaxis.set_major_locator(MaxNLocator(min(len(epochs), round(3 * width)),
                                                   integer=True, min_n_ticks=1,
                                                   steps=[1, 2, 5, 10]))
        axes[0].legend()
        fig.suptitle(title)
    return fig
