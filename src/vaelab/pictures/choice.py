"""Which class a run's figures draw as and which two they join, where the run leaves it open:
asked for by name or number, checked against the run, kept as class numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from PIL import Image

from vaelab.errors import VaelabError, named
from vaelab.files import quoted
from vaelab.training.datasets import class_names, class_number
from vaelab.training.runs import Run

DRAWN_WITH = "vaelab choice"  # a run's PNG figures' text: the classes they were drawn with
DRAWN_AT = "vaelab epoch"  # and the epoch of the weights they were drawn from


@dataclass(frozen=True)
class Choice:
    """What a run's figures show where the run leaves it open, as class numbers: the class a
    conditional model's grids are drawn as, and the classes the interpolation joins."""

    label: int = 0
    between: tuple[int, int] | None = None  # None: the two farthest apart

    @classmethod
    def of(cls, run: Run, label: str | int | None = None,
           between: tuple[str | int, str | int] | None = None) -> Choice:
        """Checked against the run: one line for a class it does not have, or a choice it
        cannot make (a label of a model that draws no class, classes of unlabelled images, other
        than two classes to join)."""
        if label is not None and not run.model.conditional:
            raise VaelabError(f"{run.path} is {run.config.named()}, which draws no chosen "
                              f"class; drop {named('--label', 'label=')}")
        if between is None:
            return cls(0 if label is None else class_number(run.config, label))
        if isinstance(between, (str, bytes)) or len(between) != 2:  # "17" is no pair of 1 and 7
            raise VaelabError(f"between takes two classes, as (3, 8) or ('Coat', 'Bag'), not "
                              f"{between!r}")
        if not class_names(run.config):
            raise VaelabError(f"{run.path} learnt from images without classes; drop "
                              f"{named('--between', 'between=')}")
        return cls(0 if label is None else class_number(run.config, label),  # one class twice:
                   tuple(class_number(run.config, c, "between") for c in between))  # its first two

    def flags(self, run: Run) -> str:
        """The options of ``vaelab plot`` that draw ``run``'s figures so (" --between 1 7"),
        or "" for its own choice."""
        names, given = class_names(run.config), []
        if run.model.conditional and self.label:
            given += ["--label", names[self.label]]
        if self.between is not None:
            given += ["--between", *(names[c] for c in self.between)]
        return "".join(f" {quoted(word)}" for word in given)

    def as_text(self) -> str:
        """The choice as JSON, as a run's PNG figures keep it: class numbers, not options."""
        return json.dumps({"label": self.label, "between": self.between})

    @classmethod
    def read(cls, run: Run, text: str | None) -> Choice | None:
        """A choice that ``as_text`` wrote, checked against ``run`` again; None for none, or
        for text that is not one (an older vaelab's figures, a file from elsewhere)."""
        try:
            kept = json.loads(text or "")
            label, between = kept["label"], kept["between"]
            if type(label) is not int or not (between is None or (
                    isinstance(between, list) and all(type(c) is int for c in between))):
                return None
            return cls.of(run, label if run.model.conditional else None,
                          None if between is None else tuple(between))
        except (ValueError, TypeError, KeyError, VaelabError):
            return None


def drawn_with(run: Run) -> str:
    """The options of ``vaelab plot`` that drew the run's figures, from the choice that its
    interpolation.png keeps, quoted for this machine ("" for none, or an unreadable one)."""
    choice = Choice.read(run, figure_notes(run).get(DRAWN_WITH))
    return "" if choice is None else choice.flags(run)


def figure_notes(run: Run) -> dict[str, str]:
    """The texts the run's interpolation.png keeps, its pixels unread (none if unreadable)."""
    try:
        with Image.open(run.figures_dir / "interpolation.png") as png:
            return {key: text for key, text in png.info.items() if isinstance(text, str)}
    except (OSError, ValueError):
        return {}
