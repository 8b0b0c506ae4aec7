"""Several scorecards as one table: the runs side by side, with what sets them apart (how
each was trained and measured, where that differs) and a note on every figure that compares
less than it seems, in the table and in the files that keep it (compare.md, compare.csv)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from vaelab.errors import VaelabError
from vaelab.files import as_path, write_atomic
from vaelab.measuring.caveats import setting_applies
from vaelab.measuring.estimators import mean_and_error
from vaelab.measuring.pairing import card_config, images_of, learnt_from, why_unpaired
from vaelab.measuring.scorecard import (
    MEASURES,
    Score,
    Scorecard,
    heading_rows,
    markdown_table,
    noted_rows,
)
from vaelab.training.layout import CONFIG

SHOWN = {("model", "model"), ("model", "latent_dims"), ("model", "likelihood"),
         ("train", "epochs"), ("data", "classes"), ("data", "image_shape"),  # rows of their own,
         ("data", "train_subset_first"), ("data", "notes"),  # or recorded from the images
         ("data", "split_by_order")}  # compare refuses runs whose test images it drew apart
NAMED = {"k": "trained with -k", "fingerprint": "images (fingerprint)"}  # else --key-words
PROBES = ("linear_probe", "knn")  # fitted on the training images each run learnt from
SCALED = ("loss", "neg_elbo", "recon", "nll", "bits_per_dim")  # in the likelihood's units
ELBO = ("neg_elbo", "recon")  # averages over posterior draws (the KL is in closed form)
CODES = ("kl", "active_units", "linear_probe", "knn")  # of the images' codes


class Paired(NamedTuple):
    """A row of runs' bounds less the first's, image by image (Comparison.paired)."""

    key: str  # in compare.csv: neg_elbo_minus_first, nll_minus_first
    label: str
    scores: list[Score | None]  # None: the first run itself, or one not paired with it
    first: int  # the index of the run the others' bounds are less
    why: list[str]  # why a run is not paired ("" where it is, and for the first)


@dataclass(frozen=True)
class Comparison:
    """The scorecards of several runs, as one table."""

    cards: list[Scorecard]

    def __post_init__(self) -> None:  # a list, a generator, or one card: checked here
        cards = [self.cards] if isinstance(self.cards, Scorecard) else list(self.cards)
        if not cards or not all(isinstance(card, Scorecard) for card in cards):
            raise VaelabError("Comparison takes one Scorecard or more (load_scorecard gives "
                              "None for a run not measured yet: evaluate_run measures it)")
        object.__setattr__(self, "cards", cards)

    @property
    def names(self) -> list[str]:
        """The runs' folders, each with as many of its parents as tell them apart, and one run
        measured on two splits named with each."""
        paths = [Path(card.run).parts for card in self.cards]
        for splits in (False, True):
            for n in range(2, max(2, *map(len, paths)) + 1):  # one folder twice: all of it
                names = [str(Path(*parts[-n:])) + (f" ({card.split})" if splits else "")
                         for parts, card in zip(paths, self.cards, strict=True)]
                if len(set(names)) == len(paths):
                    return names
        return names

    def rows(self) -> list[tuple[str, list[str]]]:
        header = heading_rows(self.cards)
        # what each was measured on and with, as eval's own table says it
        header.append(("measured on", [c.measured_on() for c in self.cards]))
        draws = [str(c.samples) if c.k is not None else "—" for c in self.cards]  # an AE: none
        header += [("ELBO draws per image", draws)] if set(draws) - {"—"} else []
        judges = [c.classifier for c in self.cards]
        if any(judges):  # how far to trust the rows it judges
            header.append(("classifier's test accuracy",
                           [f"{j['test_accuracy']:.2%}" if j else "—" for j in judges]))
        measured = [c.likelihood.get("images", "not recorded") for c in self.cards]  # older
        if len(set(measured) - {"not recorded"}) > 1:  # bounds of other images: said beside
            header.append(("images measured", measured))
        ks = {c.k for c in self.cards if c.k is not None}
        if len(ks) > 1:  # the k differs: name the bound without it, and list the k's
            header.append(("k", [str(c.k) if c.k else "—" for c in self.cards]))
        header += self._trained()
        # A card with a k names it in the bound's label; one without (an AE) does not.
        with_k = len(ks) == 1
        card_rows = [card.rows(with_k) for card in self.cards]
        labels = [label for label, _ in next(  # from a card whose bound names its k
            (rows for card, rows in zip(self.cards, card_rows, strict=True)
             if card.k is not None and card["nll"].value is not None), card_rows[0])]
        return header + [(label, [rows[i][1] for rows in card_rows])
                         for i, label in enumerate(labels)]

    def noted_rows(self) -> tuple[list[tuple[str, list[str]]], list[str]]:
        """The rows, each figure marked with its note's number ("n/a [1]"), and those notes;
        then each run's bounds less the first run's, image by image, where they are known."""
        rows, notes = noted_rows(self.noted_cards(), self.rows())
        for pair in self.paired():
            cells = []
            for score, why in zip(pair.scores, pair.why, strict=True):
                if why and why not in notes:
                    notes.append(why)
                cells.append(score.text(2) if score else f"— [{notes.index(why) + 1}]" if why
                             else "—")
            rows.append((pair.label, cells))
        return rows, notes

    def paired(self) -> list[Paired]:
        """Each run's −ELBO and NLL less those of the first run that kept its images' bounds
        (eval-per-image.safetensors), image by image: the mean difference and its standard
        error over the images, smaller than the two runs' errors taken apart where their
        bounds go together, as those of the same images do. Only of the runs measured as that
        first one was (the same images and likelihood, the squared error and a learned
        Gaussian alike; the same draws for the −ELBO, the same k for the NLL; a CVAE only
        beside a CVAE); the others' scores are None, with why."""
        if len(self.cards) < 2:
            return []
        rows = []
        for key, name, drawn in (("neg_elbo", "−ELBO", "samples"), ("nll", "NLL", "k")):
            kept = [k for k, card in enumerate(self.cards) if key in card.per_image]
            if not kept:
                continue
            base = self.cards[kept[0]]
            why = [why_unpaired(card, base, key, drawn) if k != kept[0] else ""
                   for k, card in enumerate(self.cards)]
            if not any(c[key].value is not None or key in c.per_image for c in self.cards
                       if c is not base):  # no other bound: no row (one unpaired: blank, why)
                continue
            scores = [Score(*mean_and_error(card.per_image[key] - base.per_image[key]))
                      if k != kept[0] and not why[k] else None
                      for k, card in enumerate(self.cards)]
            rows.append(Paired(f"{key}_minus_first", f"{name} less {self.names[kept[0]]}'s, "
                               f"image by image (nats)", scores, kept[0],
                               [f"not paired with {self.names[kept[0]]}: {reason}" if reason
                                else "" for reason in why]))
        return rows

    def noted_cards(self) -> list[Scorecard]:
        """The cards, each figure that compares less than it seems noted so: figures of other
        test images; bounds of other likelihoods, of other images (grey, binarized), of another
        k; ELBOs of other draws; probes fitted on other training images."""
        cards, names = self.cards, sorted({card.likelihood["name"] for card in self.cards})
        if len(names) > 1:
            cards = [_on_its_scale(card, names) for card in cards]
        for keys, values, note in (  # of what each card says: an older one may say nothing
                ([m.key for m in MEASURES], [images_of(c) for c in self.cards], "the runs' "
                 "images differ (their dataset, size or split): figures of other test images"),
                ((*SCALED, *CODES), [c.likelihood.get("images") for c in self.cards],
                 "the runs' images measured differ ({}): figures of other images"),
                (("nll", "bits_per_dim"), [c.k for c in self.cards if c.k is not None],
                 "the bounds' k differ ({}): a larger k gives a tighter bound"),
                (ELBO, [c.samples for c in self.cards if c.k is not None],
                 "the ELBOs' posterior draws per image differ ({})"),
                (PROBES, [learnt_from(c) for c in self.cards],
                 "the runs learnt from different training images ({}), on which the probes "
                 "are fitted")):
            known = [v for v in values if v is not None]
            if len(set(known)) > 1:
                listed = ", ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in known)
                cards = [_noted(card, keys, note.format(listed)) for card in cards]
        return cards

    def _trained(self) -> list[tuple[str, list[str]]]:
        """A row for each setting the runs were trained with that differs between them (as
        its option is spelled: --lr, --kl), from the configs their eval.json keep ("?" for
        an older one, which has none)."""
        configs = [card_config(card) for card in self.cards]
        known = [config for config in configs if config is not None]
        # of two runs that differ in a setting, one differs in it from the first at least
        differ = dict.fromkeys((section, key) for other in known[1:]
                               for section, key, _, _ in known[0].changes(other)
                               if (section, key) not in SHOWN)
        rows = [(NAMED.get(key, f"trained with --{key.replace('_', '-')}"),
                 ["?" if config is None else "—" if not setting_applies(config, section, key)
                  else _shown(config.train.draws if key == "k" else
                              getattr(getattr(config, section), key)) for config in configs])
                for section, key in differ]
        return [row for row in rows if set(row[1]) - {"—"}]  # a setting that did nothing: none

    def markdown(self) -> str:
        return markdown_table(self.names, *self.noted_rows())

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", *[f"{name} {part}" for name in self.names
                                     for part in ("value", "error", "note")]])
        for key, cells in self._settings():  # how each run was measured, then what
            writer.writerow([key, *[part for cell in cells for part in (cell, "", "")]])
        for key, cells in self._trained():
            writer.writerow([key, *[part for cell in cells for part in (cell, "", "")]])
        for measure in MEASURES:
            cells = []
            for card in self.noted_cards():  # a blank's reason, what limits the figure: a note
                score = card.metrics.get(measure.key, Score(None, note="not measured"))
                cells += ["" if score.value is None else repr(score.value),
                          "" if score.error is None else repr(score.error), score.note]
            writer.writerow([measure.key, *cells])
        for pair in self.paired():  # blank where not paired, with why
            writer.writerow([pair.key, *[part for score, why in zip(pair.scores, pair.why,
                                                                    strict=True) for part in (
                ("", "", why) if score is None else (repr(score.value), repr(score.error), ""))]])
        return out.getvalue()

    def save(self, folder: str | Path) -> dict[str, Path]:
        """compare.md and compare.csv in ``folder`` (made if need be; not a run's, among
        whose files they would lie), by "markdown" and "csv". The csv starts with a
        byte-order mark, by which a spreadsheet (Excel on Windows) reads it as UTF-8, not in
        its own code page."""
        folder = as_path(folder, "Comparison.save takes a folder")
        if (folder / CONFIG).is_file():
            raise VaelabError(f"{folder} is a run's folder, among whose files the comparison "
                              f"would lie; save it in a folder of its own")
        paths = {"markdown": folder / "compare.md", "csv": folder / "compare.csv"}
        write_atomic(paths["markdown"], self.markdown())
        write_atomic(paths["csv"], "\ufeff" + self.csv())
        return paths

    def _settings(self) -> list[tuple[str, list[str]]]:
        gets = {"title": lambda c: c.name, **{key: lambda c, key=key: getattr(c, key) for key in (
                    "latent_dims", "epochs", "split", "images", "k", "chunk", "seed")},
                "samples": lambda c: c.samples if c.k is not None else None,  # an AE draws none
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

    def __repr__(self) -> str:
        return f"Comparison({', '.join(self.names)})"

    def _repr_markdown_(self) -> str:  # a notebook shows the table
        return self.markdown()


DENSITIES = {"sse", "gaussian"}  # densities of the same pixel values: their nats compare


def _on_its_scale(card: Scorecard, names: Sequence[str]) -> Scorecard:
    """``card`` noted as measured on its likelihood's scale, among runs of the likelihoods
    ``names``: its bounds compare with those of runs of its kin in DENSITIES alone."""
    name = card.likelihood["name"]
    kin = [other for other in names if other != name and {other, name} <= DENSITIES]
    differ = (f"on the scale of the {name} likelihood; the runs' likelihoods differ "
              f"({', '.join(names)})")
    if len(kin) == len(names) - 1:
        return _noted(card, ("loss",), f"{differ}: their nats compare, as densities of the same "
                                       f"pixel values, and their training losses do not")
    also = (f", or {name} with {' and '.join(kin)} (densities of the same pixel values)"
            if kin else "")
    return _noted(card, SCALED, f"{differ}, and so do the scales: compare runs of one "
                                f"likelihood{also}")


def _noted(card: Scorecard, keys: Sequence[str], note: str) -> Scorecard:
    """``card`` with ``note`` added to the notes of its figures ``keys`` that have a value."""
    metrics = dict(card.metrics)
    for key in keys:
        if (score := metrics.get(key)) is not None and score.value is not None:
            metrics[key] = Score(score.value, score.error,
                                 f"{score.note}; and {note}" if score.note else note)
    return replace(card, metrics=metrics)


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return "—" if value is None else str(value)
