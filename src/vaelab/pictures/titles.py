"""Text that fits its figure: a title's lines broken where they would be wider than a page, a
label's lines as even as they can be."""

from __future__ import annotations

import functools
import math
import textwrap
from typing import Any

PAGE_WIDTH = 7.0  # inches of the widest figures: on an A4 page between half-inch margins


def fitted(title: str) -> str:
    """``title`` with each of its lines that would be wider than a page (PAGE_WIDTH, at the
    titles' 12 points) broken into as few even lines as fit: a long class's name had widened
    a figure past the page."""
    def widest(lines: str) -> float:
        return max(_inches(line) for line in lines.split("\n"))

    lines = []
    for line in title.split("\n"):
        chars = len(line)
        while chars > 20 and widest(balanced(line, chars)) > PAGE_WIDTH:
            chars -= max(1, chars // 10)
        lines.append(balanced(line, chars) if chars < len(line) else line)
    return "\n".join(lines)


@functools.cache
def _title_font() -> Any:
    from matplotlib import font_manager, ft2font

    font = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties()))
    font.set_size(12, 72)  # a title's size: matplotlib's "large", 1.2 x the figures' 10
    return font


def _inches(text: str) -> float:
    """How wide ``text`` is in a figure's title."""
    font = _title_font()
    font.set_text(text)
    return font.get_width_height()[0] / 64 / 72


def balanced(text: str, width: int) -> str:
    """``text`` in as few lines of at most ``width`` characters as hold it, as even as they
    can be ("Bernoulli cross-entropy / per image", not "Bernoulli cross-entropy per / image"),
    and never inside "k = 3"."""
    def lines(w: int) -> list[str]:
        return textwrap.wrap(text.replace(" = ", "\xa0=\xa0"), w, break_on_hyphens=False)

    fewest = len(lines(width))
    return "\n".join(next(lines(w) for w in range(math.ceil(len(text) / fewest), width + 1)
                          if len(lines(w)) == fewest)).replace("\xa0", " ")
