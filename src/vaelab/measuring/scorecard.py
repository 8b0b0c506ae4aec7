"""A run's measured figures: each score with its error or the reason it is missing, what each
measure means, and the scorecard saved as eval.json (vaelab.measuring.comparing puts several
side by side)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from vaelab.data import dataset_images
from vaelab.distributions import likelihood_label
from vaelab.errors import VaelabError
from vaelab.files import read_json
from vaelab.measuring.classifier import CONFIDENT
from vaelab.measuring.eval_json import MEASURE_AGAIN, check_eval, named_now
from vaelab.measuring.probes import KNN
from vaelab.training.layout import check_run_folder
from vaelab.training.runs import Run, finished_epochs

FORMAT = 1
log = logging.getLogger("vaelab")


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

    def __format__(self, spec: str) -> str:
        """f"{card['nll']:.2f}" formats its value as a number (n/a as nan; a count such as
        the active units as a whole number, f"{card['active_units']:d}")."""
        value = self.value if isinstance(self.value, int) else float(self)
        return format(value, spec) if spec else str(self)

    def text(self, digits: int) -> str:
        if self.value is None or isinstance(self.value, int):
            return "n/a" if self.value is None else f"{self.value}"
        error = self.error if self.error is not None and math.isfinite(self.error) else None
        first = float(f"{error:.0e}") if error else 0.0  # its first digit: 0.00096 is 0.001
        if 10 ** -(digits + 2) <= first < 10 ** -digits:
            digits = -math.floor(math.log10(first))  # 0.293 ± 0.004, not 0.29 ± 0.00
        shown = f"{self.value:.{digits}f}"
        if error is not None and float(shown) == 0 and abs(self.value) > 3 * error:
            # 0.000632 ± 8e-08 (a collapsed KL), not 0.00 ± 0.00: to its significant digits
            return f"{self.value:.3g} ± {f'{error:.0e}' if error else '0'}"
        if float(shown) == 0:  # -0.000 (an entropy of one class, a rounding) reads as 0.000
            shown = shown.lstrip("-")
        if error is None:
            return shown
        return f"{shown} ± {error:.0e}" if 0 < first < 10 ** -(digits + 2) else (
            f"{shown} ± {error:.{digits}f}")


@dataclass(frozen=True)
class Measure:
    """What a metric is: its key in eval.json, its label in tables, digits shown."""

    key: str
    label: str
    digits: int = 2


MEASURES = (
    Measure("loss", "loss as training reports it, nats per image"),  # a VAE's at β = 1
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
MEASURED = frozenset(m.key for m in MEASURES)


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
    chunk: int | None = None  # codes decoded a pass (the memory it took); None: older file
    config: dict[str, Any] | None = None  # the run's settings (config.json); older: none
    # Each image's -ELBO and NLL (N,) float64, in the order of the images measured: kept
    # beside eval.json (eval-per-image.safetensors), for the paired differences of runs.
    per_image: dict[str, torch.Tensor] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The run's title, or for an evaluation written before titles its model's name."""
        return self.title or self.model.upper()

    def __getitem__(self, key: str) -> Score:
        """A measure's score by its key in eval.json: card["nll"].value, float(card["nll"])."""
        if key in self.metrics:
            return self.metrics[key]
        if key in MEASURED:  # an eval.json of an older vaelab
            return Score(None, note="not measured")
        raise KeyError(f"no measure {key!r}; the measures are "
                       f"{', '.join(m.key for m in MEASURES)}")

    def keys(self) -> list[str]:
        """The keys that ``card[key]`` takes, in the order of the printed table."""
        return [m.key for m in MEASURES] + [key for key in self.metrics if key not in MEASURED]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self.metrics or key in MEASURED

    def __len__(self) -> int:
        return len(self.keys())

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(replace(self, per_image={}))
        del raw["per_image"]  # in a file of its own: ten thousand numbers each
        raw["metrics"] = {key: asdict(score) for key, score in self.metrics.items()}
        return {"format": FORMAT, **raw}

    def per_image_file(self) -> bytes:
        """eval-per-image.safetensors as vaelab writes it: tensors, nothing pickled, and how
        they were measured, which load_scorecard checks against the eval.json beside it."""
        return save({key: values.contiguous() for key, values in self.per_image.items()},
                    metadata=self._measured())

    def _measured(self) -> dict[str, str]:
        return {key: str(getattr(self, key)) for key in ("images", "k", "samples", "seed",
                                                         "epochs", "split", "chunk")}

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
                 f"{self.measured_on()}, seed {self.seed}",
                 f"likelihood: {self.likelihood['description']}"]
        if self.classifier is not None:
            lines.append(f"samples and grids judged by a classifier of "
                         f"{self.images_named('images')}, right on "
                         f"{self.classifier['test_accuracy']:.2%} of its test images")
        lines += [f"  {label:<{width}}  {value}" for label, (value,) in rows]
        lines += [f"  [{k}] {note}" for k, note in enumerate(notes, start=1)]
        return "\n".join(lines)

    __str__ = table  # print(card) shows the table

    def images_named(self, what: str, the: str = "the ") -> str:
        """'MNIST test images' (``what``), 'test images of faces'; of an old file 'the ...'."""
        name = (self.config or {}).get("data", {}).get("dataset")
        return dataset_images(name, what) if isinstance(name, str) else f"{the}{what}"

    def measured_on(self) -> str:  # '10,000 Fashion-MNIST test images'
        return f"{self.images:,} {self.images_named(f'{self.split} images', the='')}"

    def __repr__(self) -> str:  # what it measured; its figures are the table's
        figures = sum(self[key].value is not None for key in self)
        return (f"Scorecard({self.run!r}, {self.name} d={self.latent_dims}, epochs={self.epochs}"
                f", {self.images:,} {self.split} images, {figures} of {len(self)} measures)")

    def _repr_markdown_(self) -> str:  # a notebook shows the table, as a comparison's column
        rows = heading_rows([self]) + [(label, [value]) for label, value in self.rows()]
        return markdown_table(["/".join(Path(self.run).parts[-2:])], *noted_rows([self], rows))


def check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise VaelabError(f"unknown split {split!r}; choose train or test")


def eval_file(split: str) -> str:
    return "eval.json" if split == "test" else f"eval-{split}.json"


def per_image_file(split: str) -> str:
    return eval_file(split).removesuffix(".json") + "-per-image.safetensors"


def load_scorecard(path: Run | str | Path, split: str = "test", *, warn_outdated: bool = True
                   ) -> Scorecard | None:
    """A run folder's saved evaluation of ``split`` (its eval.json), or None if not measured.
    Where the run has trained on since it was measured, a warning says so unless
    ``warn_outdated`` is off (for a caller that says it in its own way)."""
    path = path.folder if isinstance(path, Run) else path
    check_split(split)
    file = Path(path) / eval_file(split)
    if not file.exists():  # a run not measured yet, else no run's folder (or none), said so
        check_run_folder(Path(path))
        return None
    try:
        raw = named_now(read_json(file, most=16 << 20), Path(path))
    except (OSError, ValueError) as err:
        raise VaelabError(f"{file}: {getattr(err, 'strerror', None) or err}{MEASURE_AGAIN}"
                          ) from None
    card = replace(Scorecard.from_dict(raw, str(file)), run=str(path))  # where it is now
    done = finished_epochs(Path(path)) if warn_outdated else None
    if done is not None and done != card.epochs:
        log.warning("%s is of epoch %d, and the run has trained %d: its figures are not of the "
                    "weights now (evaluate_run, or vaelab eval, measures it again)", file,
                    card.epochs, done)
    kept = Path(path) / per_image_file(split)  # each image's bounds, measured as eval.json says
    if not kept.exists():
        return card
    try:
        with safe_open(kept, "pt") as f:
            measured = f.metadata() or {}
        values = load_file(kept)
    except (OSError, SafetensorError) as err:
        log.warning("%s: unreadable (%s); compare pairs this run with none until vaelab eval "
                    "writes it again", kept, err)
        return card
    if measured == card._measured() and all(  # of these images, as eval.json's figures are
            v.dim() == 1 and len(v) == card.images and k in card.metrics
            and card.metrics[k].value is not None and math.isclose(
                v.double().mean().item(), card.metrics[k].value, rel_tol=1e-9, abs_tol=1e-9)
            for k, v in values.items()):
        card = replace(card, per_image={k: v.double() for k, v in values.items()})
    return card


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


def heading_rows(cards: Sequence[Scorecard]) -> list[tuple[str, list[str]]]:
    """The rows that head a table of ``cards``, a cell per card: what each run is."""
    return [("model", [f"{c.name} d={c.latent_dims}" for c in cards]),
            ("epochs", [str(c.epochs) for c in cards]),
            ("likelihood", [likelihood_label(c.likelihood["name"]) for c in cards]),
            ("evaluation seed", [str(c.seed) for c in cards])]


def markdown_table(names: Sequence[str], rows: list[tuple[str, list[str]]],
                   notes: Sequence[str]) -> str:
    """A table of a column per run (``names``), and its notes below it, in Markdown."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")  # a bar inside a Markdown table cell must be escaped

    lines = ["| | " + " | ".join(map(cell, names)) + " |", "|---|" + "---:|" * len(names)]
    lines += [f"| {cell(label)} | " + " | ".join(map(cell, cells)) + " |"
              for label, cells in rows]
    if notes:
        lines += ["", *(f"- [{k}] {note}" for k, note in enumerate(notes, start=1))]
    return "\n".join(lines) + "\n"


def say_if_tighter(path: Path, split: str, k: int) -> None:
    """Say so, before the measuring, where the saved evaluation that this one replaces has a
    bound of a larger k (hours of measuring, at k = 5000): Ctrl-C keeps it."""
    try:
        old = load_scorecard(path, split, warn_outdated=False)
    except (VaelabError, OSError, ValueError):  # damaged: nothing worth keeping is lost
        return
    if old is not None and old.k is not None and old.k > k:
        log.warning("%s: replaces its %s of k = %d with a looser bound, of k = %d, once "
                    "measured (Ctrl-C keeps it)", path, eval_file(split), old.k, k)
