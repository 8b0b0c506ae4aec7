"""A run's measured figures: each score with its error or the reason it is missing, what each
measure means, the scorecard saved as eval.json, and several scorecards as one table."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from vaelab.errors import VaelabError
from vaelab.files import read_json
from vaelab.measuring.classifier import CONFIDENT
from vaelab.measuring.eval_json import MEASURE_AGAIN, check_eval
from vaelab.measuring.probes import KNN

FORMAT = 1


@dataclass(frozen=True)
class Score:
    """One measured figure: its value (None where it does not apply), the standard error of
    a mean over images where there is one, and a note saying why it is missing, or what
    limits it."""

    value: float | None
    error: float | None = None
    note: str = ""

    def __float__(self) -> float:  # n/a as NaN, as tables of numbers mark a missing one
        return math.nan if self.value is None else float(self.value)

    def text(self, digits: int) -> str:
        if self.value is None or isinstance(self.value, int):
            return "n/a" if self.value is None else f"{self.value}"
        error = self.error if self.error is not None and math.isfinite(self.error) else None
        first = float(f"{error:.0e}") if error else 0.0  # its first digit: 0.00096 is 0.001
        if 10 ** -(digits + 2) <= first < 10 ** -digits:
            digits = -math.floor(math.log10(first))  # 0.293 ± 0.004, not 0.29 ± 0.00
        shown = f"{self.value:.{digits}f}"
        if float(shown) == 0:  # -0.000 (an entropy of one class, a rounding) reads as 0.000
            shown = shown.lstrip("-")
        return shown if error is None else f"{shown} ± {error:.{digits}f}"


@dataclass(frozen=True)
class Measure:
    """What a metric is: its key in eval.json, its label in tables, digits shown."""

    key: str
    label: str
    digits: int = 2


MEASURES = (
    Measure("loss", "loss as training reports it (β = 1), per image"),
    Measure("neg_elbo", "−ELBO (nats)"),
    Measure("recon", "reconstruction E_q[−log p(x|z)] (nats)"),
    Measure("kl", "KL(q(z|x) ‖ p(z)) (nats)"),
    Measure("nll", "NLL, importance-weighted bound (nats)"),
    Measure("bits_per_dim", "NLL in bits per dimension", 4),
    Measure("active_units", "active units (Cov_x E_q[z_i] > 0.01)", 0),
    Measure("linear_probe", "linear probe accuracy", 4),
    Measure("knn", f"{KNN}-nearest-neighbour accuracy", 4),
    Measure("sample_confidence", "samples: mean top-class confidence", 4),
    Measure("sample_class_entropy", "samples: entropy of predicted classes (nats)", 3),
    Measure("sample_frechet", "samples: Fréchet distance, classifier features"),
    Measure("sample_asked", "samples: classified as the class asked for", 4),
    Measure("grid_digits", f"codes' grid: share the classifier is sure of (p ≥ {CONFIDENT})", 3),
    Measure("prior_grid_digits", f"prior grid: share the classifier is sure of "
                                 f"(p ≥ {CONFIDENT})", 3),
)


@dataclass
class Scorecard:
    """A run's measured figures and how they were measured."""

    run: str
    model: str
    latent_dims: int
    epochs: int
    split: str
    images: int
    k: int | None
    samples: int
    seed: int
    likelihood: dict[str, Any]
    classifier: dict[str, Any] | None
    metrics: dict[str, Score]
    seconds: dict[str, float] = field(default_factory=dict)
    title: str = ""  # what the run is ('conv VAE', 'β-VAE (β = 4)'); older files have none
    caveats: dict[str, str] = field(default_factory=dict)  # the notes caveats() added, by key
    chunk: int | None = None  # codes a pass of the bounds' draws; None in an older file

    @property
    def name(self) -> str:
        """The run's title, or for an evaluation written before titles its model's name."""
        return self.title or self.model.upper()

    def __getitem__(self, key: str) -> Score:
        """A measure's score by its key in eval.json: card["nll"].value, float(card["nll"])."""
        if key in self.metrics:
            return self.metrics[key]
        if any(m.key == key for m in MEASURES):  # an eval.json of an older vaelab
            return Score(None, note="not measured")
        raise KeyError(f"no measure {key!r}; the measures are "
                       f"{', '.join(m.key for m in MEASURES)}")

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["metrics"] = {key: asdict(score) for key, score in self.metrics.items()}
        return {"format": FORMAT, **raw}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "eval.json") -> Scorecard:
        version = raw.get("format") if isinstance(raw, dict) else None
        if type(version) is not int or version != FORMAT:  # not true, which equals 1
            raise VaelabError(f"{source}: not a vaelab evaluation of format {FORMAT}"
                              f"{MEASURE_AGAIN}")
        check_eval(raw, source)
        fields = {key: value for key, value in raw.items() if key != "format"}
        return cls(**fields | {"metrics": {key: Score(**score)
                                           for key, score in raw["metrics"].items()}})

    def rows(self, with_k: bool = True) -> list[tuple[str, str]]:
        """(label, value) for every measure, with the bound's k in its label."""
        rows = []
        for measure in MEASURES:
            score = self.metrics.get(measure.key, Score(None, note="not measured"))
            label = measure.label
            if measure.key == "nll" and self.k is not None and with_k and score.value is not None:
                label = label.replace("bound", f"bound, k = {self.k}")
            rows.append((label, score.text(measure.digits)))
        return rows

    def table(self) -> str:
        """The table for the terminal, with its notes (why n/a, what limits a figure) below."""
        rows, notes = noted_rows([self], [(label, [value]) for label, value in self.rows()])
        width = max(len(label) for label, _ in rows)
        epochs = f"{self.epochs} epoch{'s' * (self.epochs != 1)}"
        lines = [f"{self.run}: {self.name} (d={self.latent_dims}, {epochs}) on the "
                 f"{self.images:,} {self.split} images, seed {self.seed}",
                 f"likelihood: {self.likelihood['description']}"]
        if self.classifier is not None:
            lines.append(f"samples and grids judged by a classifier right on "
                         f"{self.classifier['test_accuracy']:.2%} of the test images")
        lines += [f"  {label:<{width}}  {value}" for label, (value,) in rows]
        lines += [f"  [{k}] {note}" for k, note in enumerate(notes, start=1)]
        return "\n".join(lines)

    __str__ = table  # print(card) shows the table

    def _repr_markdown_(self) -> str:  # a notebook shows the table
        return Comparison([self]).markdown()


def eval_file(split: str) -> str:
    return "eval.json" if split == "test" else f"eval-{split}.json"


def load_scorecard(path: str | Path, split: str = "test") -> Scorecard | None:
    """A run folder's saved evaluation of ``split`` (its eval.json), or None if not measured."""
    file = Path(path) / eval_file(split)
    if not file.exists():
        return None
    try:
        raw = read_json(file, most=16 << 20)
    except (OSError, ValueError) as err:
        raise VaelabError(f"{file}: {getattr(err, 'strerror', None) or err}{MEASURE_AGAIN}"
                          ) from None
    return Scorecard.from_dict(raw, str(file))


@dataclass(frozen=True)
class Comparison:
    """The scorecards of several runs, as one table."""

    cards: list[Scorecard]

    def __post_init__(self) -> None:  # a list, a generator, or one card: checked here
        cards = [self.cards] if isinstance(self.cards, Scorecard) else list(self.cards)
        if not cards or not all(isinstance(card, Scorecard) for card in cards):
            raise VaelabError("Comparison takes one Scorecard or more (load_scorecard gives "
                              "None for a run not measured yet: vaelab eval measures it)")
        object.__setattr__(self, "cards", cards)

    @property
    def names(self) -> list[str]:
        """The runs' folders, each with as many of its parents as tell them apart."""
        paths = [Path(card.run).parts for card in self.cards]
        for n in range(2, max(2, *map(len, paths)) + 1):  # one folder twice: all of it
            if len(set(names := [str(Path(*parts[-n:])) for parts in paths])) == len(paths):
                break
        return names

    def rows(self) -> list[tuple[str, list[str]]]:
        header = [("model", [f"{c.name} d={c.latent_dims}" for c in self.cards]),
                  ("epochs", [str(c.epochs) for c in self.cards]),
                  ("likelihood", [c.likelihood["name"] for c in self.cards]),
                  ("evaluation seed", [str(c.seed) for c in self.cards])]
        splits = [c.split for c in self.cards]  # shown where not as usual, as are the draws
        header += [("split", splits)] if len(set(splits)) > 1 or "train" in splits else []
        draws = [str(c.samples) if c.k is not None else "—" for c in self.cards]  # an AE: none
        header += [("ELBO draws per image", draws)] if len(set(draws) - {"—"}) > 1 else []
        judges = [c.classifier for c in self.cards]
        if any(judges):  # how far to trust the rows it judges
            header.append(("classifier's test accuracy",
                           [f"{j['test_accuracy']:.2%}" if j else "—" for j in judges]))
        measured = [c.likelihood.get("images", "?") for c in self.cards]  # "?": older files
        if len(set(measured)) > 1:  # bounds of other images: say so beside them
            header.append(("images measured", measured))
        ks = {c.k for c in self.cards if c.k is not None}
        if len(ks) > 1:  # the k differs: name the bound without it, and list the k's
            header.append(("k", [str(c.k) if c.k else "—" for c in self.cards]))
        # A card with a k names it in the bound's label; one without (an AE) does not.
        with_k = len(ks) == 1
        card_rows = [card.rows(with_k) for card in self.cards]
        labels = [label for label, _ in next(  # from a card whose bound names its k
            (rows for card, rows in zip(self.cards, card_rows, strict=True)
             if card.k is not None and card["nll"].value is not None), card_rows[0])]
        return header + [(label, [rows[i][1] for rows in card_rows])
                         for i, label in enumerate(labels)]

    def noted_rows(self) -> tuple[list[tuple[str, list[str]]], list[str]]:
        """The rows, each figure marked with its note's number ("n/a [1]"), and those notes."""
        cards, names = self.cards, sorted({card.likelihood["name"] for card in self.cards})
        if len(names) > 1:
            gaussians = set(names) <= {"sse", "gaussian"}  # densities of the same pixel values
            why = (": their nats compare, as densities of the same pixel values, and their "
                   "training losses do not" if gaussians else ", and so do the scales: "
                   "compare runs of one likelihood")
            cards = [_noted(card, ("loss",) if gaussians else SCALED,
                            f"on the scale of the {card.likelihood['name']} likelihood; the "
                            f"runs' likelihoods differ ({', '.join(names)}){why}")
                     for card in cards]
        return noted_rows(cards, self.rows())

    def markdown(self) -> str:
        rows, notes = self.noted_rows()
        lines = ["| | " + " | ".join(self.names) + " |",
                 "|---|" + "---:|" * len(self.cards)]
        lines += [f"| {_cell(label)} | " + " | ".join(map(_cell, cells)) + " |"
                  for label, cells in rows]
        if notes:
            lines += ["", *(f"- [{k}] {note}" for k, note in enumerate(notes, start=1))]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", *[f"{name} {part}" for name in self.names
                                     for part in ("value", "error", "note")]])
        for key, cells in self._settings():  # how each run was measured, then what
            writer.writerow([key, *[part for cell in cells for part in (cell, "", "")]])
        for measure in MEASURES:
            cells = []
            for card in self.cards:  # a blank's reason, or what limits the figure, as a note
                score = card.metrics.get(measure.key, Score(None, note="not measured"))
                cells += ["" if score.value is None else repr(score.value),
                          "" if score.error is None else repr(score.error), score.note]
            writer.writerow([measure.key, *cells])
        return out.getvalue()

    def _settings(self) -> list[tuple[str, list[str]]]:
        gets = {"title": lambda c: c.name, **{key: lambda c, key=key: getattr(c, key) for key in (
                    "latent_dims", "epochs", "split", "images", "k", "samples", "chunk", "seed")},
                "likelihood": lambda c: c.likelihood["name"],
                "images_measured": lambda c: c.likelihood.get("images"),
                "classifier_accuracy": lambda c: c.classifier and repr(
                    c.classifier["test_accuracy"])}
        return [(key, ["" if get(c) is None else str(get(c)) for c in self.cards])
                for key, get in gets.items()]

    def text(self) -> str:
        """The table for the terminal, with its notes (why n/a, what limits a figure) below."""
        rows, notes = self.noted_rows()
        widths = [max(len(label) for label, _ in rows)]
        widths += [max(len(name), *(len(cells[i]) for _, cells in rows))
                   for i, name in enumerate(self.names)]
        def line(first: str, cells: Sequence[str]) -> str:
            return "  ".join([first.ljust(widths[0]),
                              *(c.rjust(w) for c, w in zip(cells, widths[1:], strict=True))])
        return "\n".join([line("", self.names), *(line(label, cells) for label, cells in rows),
                          *(f"  [{k}] {note}" for k, note in enumerate(notes, start=1))])

    def __str__(self) -> str:
        return self.text()

    def _repr_markdown_(self) -> str:  # a notebook shows the table
        return self.markdown()


SCALED = ("loss", "neg_elbo", "recon", "nll", "bits_per_dim")  # in the likelihood's units


def _noted(card: Scorecard, keys: Sequence[str], note: str) -> Scorecard:
    """``card`` with ``note`` added to the notes of its figures ``keys`` that have a value."""
    metrics = dict(card.metrics)
    for key in keys:
        if (score := metrics.get(key)) is not None and score.value is not None:
            metrics[key] = Score(score.value, score.error,
                                 f"{score.note}; and {note}" if score.note else note)
    return replace(card, metrics=metrics)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bar inside a Markdown table cell must be escaped


def noted_rows(cards: Sequence[Scorecard], rows: list[tuple[str, list[str]]]
               ) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """``rows`` (label, a cell per card), whose last ones are the cards' measures in the order
    of MEASURES, with each figure that has a note marked, in place, by the note's number: why
    it is missing ("n/a [1]"), or how far to trust it ("61.2 [2]"); and those notes, the first
    numbered 1."""
    notes: list[str] = []
    head = len(rows) - len(MEASURES)  # a comparison's model, epochs, ... rows come first
    for measure, (_, cells) in zip(MEASURES, rows[head:], strict=True):
        for k, card in enumerate(cards):
            note = card.metrics.get(measure.key, Score(None, note="not measured")).note
            if note:
                if note not in notes:
                    notes.append(note)
                cells[k] = f"{cells[k]} [{notes.index(note) + 1}]"
    return rows, notes
