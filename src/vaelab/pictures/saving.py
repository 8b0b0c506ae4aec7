"""Figures into files: PNG, PDF or SVG drawn the same way each time (no date in them, the
same bytes for the same figure), and an animation as a GIF enlarged without blurring."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from vaelab.files import write_atomic
from vaelab.pictures import DPI, plots

GIF_SIDE = 256  # pixels of an animation's longer side, at least: 28 px -> 280 px, so that a
# slide or a page that enlarges it further blurs its pixels little
PNG_LEVEL = 3  # zlib compression of the PNGs (save_figure)


def save_figure(fig: Figure, path: Path, dpi: int = DPI, notes: dict[str, str] | None = None
                ) -> Path:
    """Save ``fig`` (PNG, PDF or SVG by the file's suffix) atomically; a PNG keeps ``notes``
    as text of its own."""
    write_atomic(path, figure_bytes(fig, path.suffix.lstrip(".").lower() or "png", dpi, notes))
    return path


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = DPI,
                 notes: dict[str, str] | None = None) -> bytes:
    """``fig`` as the bytes of a PNG, PDF or SVG file."""
    buffer = BytesIO()
    # zlib's level 3, not Pillow's 6: the demo's PNGs are encoded in 40% less time, and come
    # out 10% smaller to 10% larger (its comparison: 1.06 MB, not 1.18).
    options = ({"pil_kwargs": {"compress_level": PNG_LEVEL}, "metadata": notes or {}}
               if fmt == "png" else  # no date: the same figure is the same file
               {"metadata": {"CreationDate" if fmt == "pdf" else "Date": None}})
    with plots.style():  # its settings of how text is saved too: as text in a PDF or SVG
        fig.savefig(buffer, format=fmt, dpi=dpi if fmt == "png" else max(dpi, plots.PRINT_DPI),
                    bbox_inches="tight", facecolor="white", **options)
    return buffer.getvalue()


def save_gif(frames: np.ndarray, path: Path, ms: int = 50, held: Sequence[int] = ()) -> Path:
    """Frames (T, H, W) grey or (T, H, W, 3) colour, in [0, 1], as an endless animation drawn
    as they are (0 black); enlarged a whole number of times without blurring, to GIF_SIDE
    pixels or more. The frames ``held`` (a line's two ends) stay a second, so that a viewer
    sees where it turns."""
    scale = -(-GIF_SIDE // max(frames.shape[1:3]))
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
              for f in (255 * frames.clip(0, 1)).round().astype(np.uint8)]
    buffer = BytesIO()
    durations = [1000 if i in held else ms for i in range(len(images))]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=durations, loop=0, optimize=True)
    write_atomic(path, buffer.getvalue())
    return path
