"""Samples from a model's prior as one picture: a grid of images, enlarged with their pixels
kept square, grey ones drawn as ``vaelab.pictures.ink`` says (ink on paper for a registered
dataset) and colour as it is; for a conditional model, of a chosen class or of every class in
turn."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from vaelab.config.checks import check_count
from vaelab.errors import VaelabError, named
from vaelab.files import as_path, write_atomic
from vaelab.measuring.latent import tile
from vaelab.models import leaves_modes
from vaelab.pictures.ink import as_drawn, ink_on_paper
from vaelab.training.datasets import class_names, class_number
from vaelab.training.folders import check_not_anothers
from vaelab.training.runs import Run, opened

log = logging.getLogger("vaelab")

MOST_SAMPLES = 10_000  # in one picture
SCALE = 3  # 28 px -> 84 px
MOST_SCALE = 16  # screen pixels per image pixel at most
WIDEST = 30_000  # pixels a side of the picture at most
GAP = 2  # paper between the images, in pixels of the images
PAD = 8  # pixels between the names of rows and the edges of their margin
PER_CLASS = 8  # draws of each class by default, when a conditional model draws every class


@leaves_modes
@torch.inference_mode()
def draw_samples(run: Run, n: int = 64, label: str | int | None = None, seed: int = 0
                 ) -> torch.Tensor:
    """n draws from the prior, decoded: (n, C, H, W) in [0, 1]. A conditional model draws
    class ``label``, or every class in turn without one."""
    model = run.model.eval()
    if not model.has_prior:
        raise VaelabError(f"{run.path} is {run.config.named()}: it has no prior to sample "
                          f"from; train a VAE or a CVAE for that")
    check_count(named("the number of samples (-n)", "n"), n, most=MOST_SAMPLES)
    y = None
    if label is not None:
        if not model.conditional:
            raise VaelabError(f"{run.path} is {run.config.named()}, which draws no chosen "
                              f"class; drop {named('--label', 'label=')}, or train a CVAE "
                              f"({named('--model cvae', 'model=' + repr('cvae'))})")
        y = torch.full((n,), class_number(run.config, label), device=model.device)
    generator = torch.Generator(model.device).manual_seed(seed)
    return model.sample(n, generator=generator, y=y)


def picture(images: torch.Tensor, columns: int | None = None, scale: int = SCALE,
            gap: int = GAP, *, ink: bool) -> Image.Image:
    """Images (N, C, H, W) in [0, 1] as one picture: rows of ``columns`` (by default about
    square, with full rows where it can, ``columns_for``), a white gap between them, enlarged
    ``scale`` times with square pixels; grey ones as ink on paper for ``ink``, else as they
    are. A blank (an image all NaN, see ``by_class``) is left white."""
    n, c, h, w = images.shape
    columns = columns or columns_for(n)
    rows = math.ceil(n / columns)
    drawn = images.float().cpu()
    drawn = as_drawn(drawn, ink) if c == 1 else drawn
    drawn = drawn.masked_fill(drawn.flatten(1).isnan().all(1).view(-1, 1, 1, 1), 1.0)
    padded = torch.ones(rows * columns, c, h + gap, w + gap)  # white where no image is
    padded[:n, :, :h, :w] = drawn
    grid = tile(padded, rows, columns)[:-gap, :-gap]  # (rows * (h + gap) - gap, ...)
    image = Image.fromarray((255 * np.clip(grid, 0, 1)).round().astype(np.uint8))
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def columns_for(n: int) -> int:
    """Columns of a grid of n images: about square, with full rows where a shape no more
    than five times as wide as high has them (10 as 5 x 2, not rows of 4, 4 and 2), else with
    the fewest blanks in its last row (7 as 4 and 3, not 3, 3 and 1)."""
    square = math.ceil(math.sqrt(n))
    widths = range(square, 2 * square + 1)
    return next((c for c in widths if n % c == 0 and c <= 5 * (n // c)),
                min(widths, key=lambda c: (-n % c, c)))


def how_many(run: Run, n: int | None, label: str | int | None) -> int:
    """``n``, or by default 64, or PER_CLASS of each class when a conditional model draws
    every class (full rows, one a class)."""
    if n is not None:
        return n
    return PER_CLASS * run.model.classes if run.model.conditional and label is None else 64


def write_samples(run: Run | str | Path, path: str | Path, n: int | None = None,
                  label: str | int | None = None, seed: int = 0, scale: int = SCALE) -> Path:
    """Draw n samples (of class ``label``, for a conditional model) and write them as one
    PNG, each image pixel ``scale`` pixels a side; by default 64, or a row of each class where
    a conditional model draws every class."""
    check_count("scale", scale, most=MOST_SCALE)
    path = as_path(path, "write_samples takes the path of the PNG to write")
    if path.suffix.lower() != ".png":
        raise VaelabError(f"{path}: samples are written as PNG; name a file ending in .png")
    check_not_anothers(path, named("--out", "path"))  # a run's figure, a demo's comparison
    run = opened(run)
    n = how_many(run, n, label)
    check_count(named("the number of samples (-n)", "n"), n, most=MOST_SAMPLES)
    buffer = BytesIO()
    by_rows = a_row_per_class(run, n, label)
    _, h, w = run.model.image_shape
    columns = math.ceil(n / run.model.classes) if by_rows else columns_for(n)
    rows = run.model.classes if by_rows else math.ceil(n / columns)
    names = class_names(run.config) if by_rows else ()
    width = (columns * (w + GAP) - GAP) * scale + (_names_margin(names, h, scale) if by_rows
                                                   else 0)
    side = max(width, (rows * (h + GAP) - GAP) * scale)  # as picture and with_row_names draw
    if side > WIDEST:
        raise VaelabError(f"{n:,} samples of {w}x{h} pixels at scale {scale} make a picture "
                          f"{side:,} pixels across, more than the {WIDEST:,} that vaelab "
                          f"writes; draw fewer, or at a smaller scale")
    images = draw_samples(run, n, label, seed)
    if by_rows:
        images, columns = by_class(images, run.model.classes)
    drawn = picture(images, columns, scale, ink=ink_on_paper(run.config.data.dataset))
    if by_rows:
        drawn = with_row_names(drawn, names, h, scale)
    drawn.save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
    return path


def with_row_names(image: Image.Image, names: Sequence[str], height: int, scale: int = SCALE,
                   gap: int = GAP) -> Image.Image:
    """A ``picture`` of rows of images ``height`` pixels high (before ``scale``) with a white
    margin at its left that names each row, as the run's samples figure does."""
    row, font = (height + gap) * scale, _row_font(height, scale, gap)
    margin = _names_margin(names, height, scale, gap)
    _say_missing(names)
    out = Image.new(image.mode, (image.width + margin, image.height), "white")
    out.paste(image, (margin, 0))
    ink = 60 if image.mode == "L" else (60, 60, 60)
    draw = ImageDraw.Draw(out)
    for k, name in enumerate(names):
        draw.text((margin - PAD, k * row + height * scale / 2), name, fill=ink, font=font,
                  anchor="rm")
    return out


def _row_font(height: int, scale: int, gap: int = GAP) -> ImageFont.FreeTypeFont:
    """The font that names rows of images ``height`` pixels high, a fifth of a row, 11 to 18:
    the figures' own (DejaVu Sans, as matplotlib ships it), which has accented letters,
    Greek and Cyrillic where Pillow's has boxes."""
    return ImageFont.truetype(_font_file(), size=int(np.clip((height + gap) * scale // 5,
                                                             11, 18)))


@functools.cache
def _font_file() -> str:
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))


def _say_missing(names: Sequence[str]) -> None:
    """Say, as the figures do, where a class's name holds characters that the font lacks
    (Chinese, say), which show as boxes."""
    from matplotlib.ft2font import FT2Font

    font = FT2Font(_font_file())
    missing = sorted({c for name in names for c in name if not font.get_char_index(ord(c))})
    if missing:
        log.warning("some characters in the class names are not in the font (%s): they show "
                    "as boxes in the samples' row names", "".join(missing[:10]))


def _names_margin(names: Sequence[str], height: int, scale: int, gap: int = GAP) -> int:
    """The width of the margin that ``with_row_names`` puts at the left, in pixels."""
    font = _row_font(height, scale, gap)
    return math.ceil(max(font.getlength(name) for name in names)) + 2 * PAD


def a_row_per_class(run: Run, n: int, label: str | int | None) -> bool:
    """Whether ``write_samples`` puts one class per row: a conditional model's draws of every
    class in turn, at least one each."""
    return run.model.conditional and label is None and n >= run.model.classes


def by_class(images: torch.Tensor, classes: int) -> tuple[torch.Tensor, int]:
    """At least one draw of each class, in turn (0, 1, ..., K - 1, 0, 1, ...), rearranged one
    class per row as the run's samples figure shows them, blank (NaN, which ``picture``
    leaves white) where a class has one draw fewer: the images (K * columns, C, H, W) and
    the columns."""
    n, c, h, w = images.shape
    columns = math.ceil(n / classes)
    rows = torch.full((classes, columns, c, h, w), math.nan)
    for k in range(classes):
        drawn = images[k::classes].float().cpu()
        rows[k, :len(drawn)] = drawn
    return rows.flatten(0, 1), columns
