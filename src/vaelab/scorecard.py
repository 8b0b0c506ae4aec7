"""Every number vaelab measures about a trained run, in one place: the likelihood bounds, the
latent codes' quality, and the quality of what the decoder draws; saved as the run's
eval.json and laid side by side for several runs by ``compare_runs``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm.auto import tqdm

from vaelab.classifier import (
    CONFIDENT,
    Judge,
    class_entropy,
    confident_share,
    features,
    frechet_distance,
    load_judge,
    predict,
)
from vaelab.data import ImageData, load_dataset, prepare
from vaelab.errors import VaelabError
from vaelab.evaluate import (
    CHUNK,
    elbo_per_image,
    iwae_log_px_of,
    likelihood_of,
    mean_and_error,
    objective_per_image,
    unit_batches,
)
from vaelab.files import write_atomic
from vaelab.latent import encode_dataset, untile
from vaelab.models import VAE
from vaelab.probes import KNN, active_units, knn_accuracy, linear_probe
from vaelab.runs import Run, load_run

log = logging.getLogger("vaelab")

FORMAT = 1
K = 1000  # importance samples per image for the test NLL
SAMPLES = 10  # posterior draws per image for the ELBO's reconstruction term
NO_POSTERIOR = "an AE has no posterior or prior, so no likelihood"
NO_PRIOR = "an AE has no prior to sample from"
NO_JUDGE = "no classifier yet (vaelab classifier train)"
Split = Literal["train", "test"]


@dataclass(frozen=True)
class Score:
    """One measured figure: its value (None where it does not apply), the standard error of
    a mean over images where there is one, and a note saying why it is missing."""

    value: float | None
    error: float | None = None
    note: str = ""

    def text(self, digits: int) -> str:
        if self.value is None:
            return "n/a"
        if isinstance(self.value, int):
            return f"{self.value}"
        shown = f"{self.value:.{digits}f}"
        if self.error is not None and math.isfinite(self.error):
            shown += f" ± {self.error:.{digits}f}"
        return shown


@dataclass(frozen=True)
class Measure:
    """What a metric is: its key in eval.json, its label in tables, digits shown."""

    key: str
    label: str
    digits: int = 2


MEASURES = (
    Measure("loss", "objective as trained, per image"),
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
    Measure("grid_digits", f"codes' grid: share decoded to a digit (p ≥ {CONFIDENT})", 3),
    Measure("prior_grid_digits", f"prior grid: share decoded to a digit (p ≥ {CONFIDENT})", 3),
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

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["metrics"] = {key: asdict(score) for key, score in self.metrics.items()}
        return {"format": FORMAT, **raw}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "eval.json") -> Scorecard:
        raw = dict(raw)
        if raw.pop("format", None) != FORMAT:
            raise VaelabError(f"{source}: not a vaelab evaluation of format {FORMAT}; "
                              f"run vaelab eval again")
        try:
            raw["metrics"] = {key: Score(**score) for key, score in raw["metrics"].items()}
            return cls(**raw)
        except (KeyError, TypeError) as err:
            raise VaelabError(f"{source}: unreadable evaluation ({err}); run vaelab eval "
                              f"again") from None

    def rows(self, with_k: bool = True) -> list[tuple[str, str]]:
        """(label, value) for every measure, with the bound's k in its label."""
        rows = []
        for measure in MEASURES:
            score = self.metrics.get(measure.key, Score(None, note="not measured"))
            label = measure.label
            if measure.key == "nll" and self.k is not None and with_k:
                label = label.replace("bound", f"bound, k = {self.k}")
            rows.append((label, score.text(measure.digits)))
        return rows

    def table(self) -> str:
        """A plain-text table for the terminal, notes below it."""
        rows = self.rows()
        width = max(len(label) for label, _ in rows)
        lines = [f"{self.run}: {self.model.upper()} (d={self.latent_dims}, {self.epochs} epochs)"
                 f" on the {self.images:,} {self.split} images",
                 f"likelihood: {self.likelihood['description']}"]
        lines += [f"  {label:<{width}}  {value}" for label, value in rows]
        notes = sorted({score.note for score in self.metrics.values() if score.note})
        lines += [f"  n/a: {note}" for note in notes]
        return "\n".join(lines)


def eval_file(split: str) -> str:
    return "eval.json" if split == "test" else f"eval-{split}.json"


def load_scorecard(path: str | Path, split: str = "test") -> Scorecard | None:
    file = Path(path) / eval_file(split)
    if not file.exists():
        return None
    try:
        raw = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise VaelabError(f"{file}: not valid JSON ({err.msg}); run vaelab eval again") from None
    return Scorecard.from_dict(raw, str(file))


# ---------------------------------------------------------------------------------------------


def evaluate_run(run: Run | str | Path, data: ImageData | None = None, *, k: int | None = None,
                 split: Split = "test", samples: int = SAMPLES, chunk: int = CHUNK,
                 seed: int = 0, judge: Judge | Literal["cached"] | None = "cached",
                 data_dir: str | Path | None = None, save: bool = True,
                 progress: bool = True) -> Scorecard:
    """Measure a run on a whole split, write <run>/eval.json (eval-train.json for the training
    split) unless ``save`` is False, and return the scorecard.

    ``k``: importance samples per image for the NLL (default 1000; a VAE only). ``samples``:
    posterior draws per image for the ELBO. ``chunk``: at most this many images go through
    the decoder at once, which bounds the memory. ``judge``: the classifier for the sample
    metrics; 'cached' takes the one in the user cache if there is one.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    model, config = run.model.eval(), run.config
    is_vae = isinstance(model, VAE)
    if k is not None and not is_vae:
        raise VaelabError(f"{run.path} is an AE: it defines no likelihood p(x), so there is no "
                          f"NLL to estimate; drop --k")
    k = (K if k is None else k) if is_vae else None
    for name, value in (("k", k), ("samples", samples), ("chunk", chunk)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise VaelabError(f"{name} must be a whole number of at least 1, got {value!r}")
    if split not in ("train", "test"):
        raise VaelabError(f"unknown split {split!r}; choose train or test")
    if data is None:
        data = load_dataset(config.data.dataset, data_dir, progress=progress)
    data = data.to(model.device)
    seen = prepare(data, config.data.binarize, config.data.binarize_seed)
    images = seen.test_images if split == "test" else seen.train_images
    likelihood = likelihood_of(config)
    if judge == "cached":
        judge = load_judge(config.data.dataset, model.device)
    metrics: dict[str, Score] = {}
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    objective = objective_per_image(model, images, config.train, seed=seed)
    metrics["loss"] = Score(objective["loss"])
    lap("objective")
    metrics.update(_bounds(model, images, likelihood, k, samples, chunk, seed, progress))
    lap("likelihood")
    metrics.update(_codes(model, seen, split, is_vae))
    lap("codes")
    metrics.update(_pictures(model, data, judge, seed, is_vae))
    lap("samples")
    card = Scorecard(
        run=str(run.path), model=config.model.model, latent_dims=config.model.latent_dims,
        epochs=run.epochs_done, split=split, images=len(images), k=k, samples=samples,
        seed=seed, likelihood={"name": likelihood.name, "description": likelihood.description,
                               "exact": likelihood.exact},
        classifier=(None if judge is None else
                    {"dataset": judge.dataset, "test_accuracy": judge.accuracy}),
        metrics=metrics, seconds=seconds)
    if save:
        write_atomic(run.path / eval_file(split), json.dumps(card.to_dict(), indent=2) + "\n")
    return card


@torch.inference_mode()
def _bounds(model, images, likelihood, k, samples, chunk, seed, progress) -> dict[str, Score]:
    """Reconstruction, KL, -ELBO and the IWAE NLL, each a mean over images with its error."""
    generator = torch.Generator(images.device).manual_seed(seed)
    if not isinstance(model, VAE):
        recon = torch.cat([-likelihood.log_prob(model.decode_logits(model.encode(x)), x)
                           for x in unit_batches(images, 2000)])
        na = Score(None, note=NO_POSTERIOR)
        return {"recon": Score(*mean_and_error(recon)), "neg_elbo": na, "kl": na, "nll": na,
                "bits_per_dim": na}
    recon, kl = map(torch.cat, zip(*(elbo_per_image(model, x, likelihood, samples, generator)
                                     for x in unit_batches(images, max(1, chunk // samples))),
                                   strict=True))
    scores = {"recon": Score(*mean_and_error(recon)), "kl": Score(*mean_and_error(kl)),
              "neg_elbo": Score(*mean_and_error(recon + kl))}
    if not likelihood.exact:
        na = Score(None, note=likelihood.why_not)
        return {**scores, "nll": na, "bits_per_dim": na}
    with tqdm(total=len(images), desc=f"NLL, k = {k}", unit="img", disable=not progress,
              leave=False, dynamic_ncols=True) as bar:
        nll = -iwae_log_px_of(model, images, likelihood, k, generator, chunk, bar.update)
    scores["nll"] = Score(*mean_and_error(nll))
    if likelihood.discrete:
        per_dim = math.prod(images.shape[1:]) * math.log(2)
        scores["bits_per_dim"] = Score(*mean_and_error(nll / per_dim))
    else:
        scores["bits_per_dim"] = Score(None, note="a density on [0, 1] pixels has no bits per "
                                                  "dimension of 8-bit images")
    return scores


def _codes(model, seen: ImageData, split: str, is_vae: bool) -> dict[str, Score]:
    """Active units on the split; probes fitted on the training codes, scored on the test's."""
    train_codes = encode_dataset(model, seen.train_images)
    test_codes = encode_dataset(model, seen.test_images)
    split_codes = test_codes if split == "test" else train_codes
    scores = {
        "linear_probe": Score(linear_probe(train_codes, seen.train_labels, test_codes,
                                           seen.test_labels)),
        "knn": Score(knn_accuracy(train_codes, seen.train_labels, test_codes,
                                  seen.test_labels)),
    }
    scores["active_units"] = (Score(active_units(split_codes)) if is_vae
                              else Score(None, note=NO_POSTERIOR))
    return scores


@torch.inference_mode()
def _pictures(model, data: ImageData, judge: Judge | None, seed: int,
              is_vae: bool) -> dict[str, Score]:
    """What the classifier makes of prior samples and of the plot command's manifold grids."""
    from vaelab.figures import latent_picture, prior_manifold

    keys = ("sample_confidence", "sample_class_entropy", "sample_frechet", "grid_digits",
            "prior_grid_digits")
    if judge is None:
        return {key: Score(None, note=NO_JUDGE) for key in keys}
    height, width = data.image_shape[1:]
    seen = latent_picture(model, data)
    grid = untile(torch.from_numpy(seen.manifold.picture), height, width)
    scores = {"grid_digits": Score(confident_share(predict(judge.model, grid)))}
    if not is_vae:
        na = Score(None, note=NO_PRIOR)
        return {**scores, **{key: na for key in keys if key not in scores}}
    prior_grid = untile(torch.from_numpy(prior_manifold(model, seen.plane).picture), height,
                        width)
    scores["prior_grid_digits"] = Score(confident_share(predict(judge.model, prior_grid)))
    generator = torch.Generator(model.device).manual_seed(seed)
    n = len(data.test_images)
    samples = torch.cat([model.sample(min(2000, n - i), generator=generator)
                         for i in range(0, n, 2000)])
    probabilities = predict(judge.model, samples)
    scores["sample_confidence"] = Score(*mean_and_error(probabilities.max(dim=1).values))
    scores["sample_class_entropy"] = Score(class_entropy(probabilities))
    scores["sample_frechet"] = Score(frechet_distance(features(judge.model, samples),
                                                      features(judge.model, data.test_images)))
    return scores


# ---------------------------------------------------------------------------------------------
# Several runs side by side.


@dataclass(frozen=True)
class Comparison:
    """The scorecards of several runs, as one table."""

    cards: list[Scorecard]

    @property
    def names(self) -> list[str]:
        return [_short_name(card.run) for card in self.cards]

    def rows(self) -> list[tuple[str, list[str]]]:
        header = [("model", [f"{c.model.upper()} d={c.latent_dims}" for c in self.cards]),
                  ("epochs", [str(c.epochs) for c in self.cards]),
                  ("likelihood", [c.likelihood["name"] for c in self.cards])]
        ks = {c.k for c in self.cards if c.k is not None}
        if len(ks) > 1:  # the k differs: name the bound without it, and list the k's
            header.append(("k", [str(c.k) if c.k else "—" for c in self.cards]))
        # A card with a k names it in the bound's label; one without (an AE) does not.
        with_k = len(ks) == 1
        card_rows = [card.rows(with_k) for card in self.cards]
        labels = [label for label, _ in next((card.rows(with_k) for card in self.cards
                                              if card.k is not None), card_rows[0])]
        return header + [(label, [rows[i][1] for rows in card_rows])
                         for i, label in enumerate(labels)]

    def markdown(self) -> str:
        lines = ["| | " + " | ".join(self.names) + " |",
                 "|---|" + "---:|" * len(self.cards)]
        lines += [f"| {_cell(label)} | " + " | ".join(map(_cell, cells)) + " |"
                  for label, cells in self.rows()]
        return "\n".join(lines) + "\n"

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", *[f"{name} {part}" for name in self.names
                                     for part in ("value", "error")]])
        for measure in MEASURES:
            cells = []
            for card in self.cards:
                score = card.metrics.get(measure.key, Score(None))
                cells += ["" if score.value is None else repr(score.value),
                          "" if score.error is None else repr(score.error)]
            writer.writerow([measure.key, *cells])
        return out.getvalue()

    def text(self) -> str:
        rows = self.rows()
        widths = [max(len(label) for label, _ in rows)]
        widths += [max(len(name), *(len(cells[i]) for _, cells in rows))
                   for i, name in enumerate(self.names)]
        def line(first: str, cells: Sequence[str]) -> str:
            return "  ".join([first.ljust(widths[0]),
                              *(c.rjust(w) for c, w in zip(cells, widths[1:], strict=True))])
        return "\n".join([line("", self.names), *(line(label, cells) for label, cells in rows)])


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a bar inside a Markdown table cell must be escaped


def _short_name(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else path


def compare_runs(runs: Sequence[Run | str | Path], out: str | Path | None = None, *,
                 data: ImageData | None = None, data_dir: str | Path | None = None,
                 progress: bool = True, **eval_options: Any) -> tuple[Comparison, Path]:
    """Put several runs' eval metrics side by side (evaluating those that have no eval.json
    yet, with ``eval_options``), and write compare.md, compare.csv and compare.png (their
    latent codes and manifolds in rows) into ``out`` (default: ./vaelab-compare, numbered
    if taken). Returns the comparison and the folder."""
    from vaelab.demo import comparison_figure
    from vaelab.figures import latent_picture, save_figure
    from vaelab.runs import check_new_run_dir, unique_dir

    if len(runs) < 2:
        raise VaelabError("compare needs at least two runs")
    loaded = [run if isinstance(run, Run) else load_run(run) for run in runs]
    datasets = {run.config.data.dataset for run in loaded}
    if len(datasets) > 1:
        raise VaelabError(f"these runs are on different datasets ({', '.join(sorted(datasets))});"
                          f" compare runs on one")
    if out is not None:
        check_new_run_dir(out)
        Path(out).mkdir(parents=True, exist_ok=True)
    folder = Path(out) if out is not None else unique_dir(Path("vaelab-compare"))
    if data is None:
        data = load_dataset(loaded[0].config.data.dataset, data_dir, progress=progress)
    cards = []
    for run in loaded:
        card = load_scorecard(run.path)
        if card is None or card.epochs != run.epochs_done:
            log.info("evaluating %s", run.path)
            card = evaluate_run(run, data, progress=progress, **eval_options)
        cards.append(card)
    comparison = Comparison(cards)
    write_atomic(folder / "compare.md", comparison.markdown())
    write_atomic(folder / "compare.csv", comparison.csv())
    pictures = [latent_picture(run.model, data.to(run.model.device)) for run in loaded]
    save_figure(comparison_figure(loaded, pictures, data, comparison.names),
                folder / "compare.png")
    return comparison, folder
