"""An HTML page that shows one or more runs: their metrics side by side, then every figure.

The page is static and self-contained apart from the figure files beside it (relative links):
no script, no fonts or styles from the web, so it opens from any folder, offline.
"""

from __future__ import annotations

import functools
import html
import os
import re
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from vaelab import __version__
from vaelab.data import dataset_title
from vaelab.distributions import SquaredError, likelihood_label
from vaelab.files import quoted, write_atomic
from vaelab.measuring.caveats import kl_weighting
from vaelab.measuring.latent import share_one_scale
from vaelab.models import count_parameters
from vaelab.pictures.captions import LOSS, SECTIONS, caption
from vaelab.pictures.choice import DRAWN_AT, drawn_with, figure_notes
from vaelab.training.checks import collapsed_kl
from vaelab.training.runs import METRICS, Run

if TYPE_CHECKING:
    from vaelab.measuring.comparing import Comparison
    from vaelab.measuring.scorecard import Scorecard

NO_PRIOR = "this model has no prior"
SCALE = 0.6  # CSS pixels per pixel of a 150-dpi figure: its 10-point text at 12.5 pixels
WIDTH = 1094  # CSS pixels of a section's content (main's 1180, less the paddings and borders)
GAP = 16  # between figures side by side
PRIOR_FIGURES = {"manifold_prior.png", "samples.png"}
TOP_ALT = ("The models side by side: each one's test codes coloured by class above, and its "
           "decoder over the same region below")


@functools.cache
def _css() -> str:
    return (resources.files("vaelab.pictures") / "report.css").read_text(encoding="utf-8")


def _fmt(value: float | None, digits: int = 2) -> str:
    shown = "—" if value is None else f"{value:,.{digits}f}"
    return f"{value:.2g}" if value and float(shown.replace(",", "")) == 0 else shown  # 0.00063


def metrics_rows(runs: Sequence[Run]) -> list[tuple[str, list[str]]]:
    """The table's rows: a label and one cell per run."""
    last = [run.metrics[-1] if run.metrics else None for run in runs]
    rows = [
        ("model", [r.config.title() for r in runs]),
        ("latent dimensions", [str(r.config.model.latent_dims) for r in runs]),
        ("parameters", [f"{count_parameters(r.model):,}" for r in runs]),
        ("epochs", [str(r.epochs_done) for r in runs]),
        *[(f"{name} images", [f"{m['images'][split]:,}" if m and "images" in m else "—"
                              for m in last])  # an older run's records have none
          for name, split in (("training", "train"), ("test", "test"))
          if any(m and "images" in m for m in last)],
        ("likelihood", [likelihood_label(r.config.model.likelihood) for r in runs]),
        ("training time (s)",
         [_fmt(sum(m["train_seconds"] for m in r.metrics), 1) if r.metrics else "—"
          for r in runs]),
    ]
    weights = [kl_weighting(r.config.train, r.epochs_done) for r in runs]  # if not the ELBO's
    for split in ("train", "test"):
        for key, name in (("loss", "loss"), ("recon", "reconstruction"), ("kl", "KL")):
            cells = [_fmt(m[split][key]) if m else "—" for m in last]
            if key == "kl":  # the closed form, also where training minimised another line
                cells = [f"{c} (closed form; trained on the tutorial's line)"
                         if r.config.train.kl == "tutorial" else c
                         for c, r in zip(cells, runs, strict=True)]
            if key == "loss":  # an IWAE bound is not its ELBO's two terms added; a β-VAE's
                # loss is its ELBO's, at β = 1, not the line it minimised
                cells = [f"{c} (−IWAE bound)" if r.config.train.objective == "iwae" else
                         f"{c} (at β = 1; trained with {w})" if w and m
                         else c for c, r, m, w in zip(cells, runs, last, weights, strict=True)]
            rows.append((f"{split} {name} per image", cells))
    return rows


def _shown(run: Run, file: str) -> bool:
    """Whether the page shows a run's figure: one drawn, and for the loss curves, of a run
    whose epochs' records are there (else the figure left in figures/ is of an earlier state)."""
    return (run.figures_dir / file).exists() and (file != LOSS or bool(run.metrics))


def _figure_cell(run: Run, file: str, heading: str, page_dir: Path) -> str:
    if not _shown(run, file):
        no_prior = not run.model.has_prior and file in PRIOR_FIGURES
        why = (NO_PRIOR if no_prior else f"no records of its epochs in {METRICS}"
               if file == LOSS and not run.metrics else "not drawn for this run")
        return f'<div class="na">{why}</div>'
    return _image(run.figures_dir / file, page_dir, f"{run.path.name} ({run.config.title()}): "
                  f"{heading.lower()}", animated=file.endswith(".gif"))


def _run_name(run: Run, page_dir: Path, name: str) -> str:
    """A run's name on a page of several, linked to the run's own page where it has one."""
    page, shown = run.path / "index.html", _kept_whole(name)
    if run.path.resolve() == page_dir.resolve() or not page.exists():
        return shown
    return f'<a href="{_link(page, page_dir)}">{shown}</a>'


def _kept_whole(name: str) -> str:
    """A run's name as HTML, its folder's own name kept whole where a narrow column breaks the
    rest ('vaelab-demo/' 'vae', not 'vaelab-demo/va' 'e')."""
    parent, slash, folder = name.rpartition("/")
    return f'{html.escape(parent + slash)}<span class="whole">{html.escape(folder)}</span>'


def _size(path: Path) -> tuple[int, int] | None:
    """A figure's width and height in pixels, None if it cannot be read (then the page
    shows it as the browser can)."""
    from PIL import Image

    try:
        with Image.open(path) as image:  # reads the header only
            return image.size
    except OSError:
        return None


def _image(path: Path, page_dir: Path, alt: str, animated: bool = False) -> str:
    """An <img> of a figure at one scale for all (their text the same size, a one-panel figure
    not blown up to a three-panel one's width), shrunk only to fit, and a link to the file at
    its full size; an animation at its own size (enlarged already, see save_gif), its pixels
    kept sharp, and in its place a link to it where the system asks for reduced motion.
    ``alt`` says what it shows, for a reader who cannot see it."""
    size, scale = _size(path), 1 if animated else SCALE
    shown = "" if size is None else f' width="{round(size[0] * scale)}" ' \
                                    f'height="{round(size[1] * scale)}"'
    css = ' class="pixels"' if animated else ""
    link = _link(path, page_dir)
    image = f'<a href="{link}"><img src="{link}" alt="{html.escape(alt)}"{shown}{css}></a>'
    if not animated:
        return image
    return (f'<div class="animated">{image}</div><p class="still">Not played here, as this '
            f'system asks for less motion: <a href="{link}">open the animation</a>.</p>')


def _link(path: Path, page_dir: Path) -> str:
    return html.escape(Path(os.path.relpath(path, page_dir)).as_posix())


def _metrics_section(runs: Sequence[Run], page_dir: Path) -> str:
    head = "".join(f"<th>{_run_name(run, page_dir, short_name(run.path))}</th>" for run in runs)
    body = "".join(
        f'<tr><th scope="row">{html.escape(label)}</th>'
        + "".join(f"<td>{_cell(cell)}</td>" for cell in cells) + "</tr>"
        for label, cells in metrics_rows(runs)
    )
    return (f"<section><h2>Metrics</h2><p>Averages per image after the last epoch: on the "
            f"training set as it was seen while learning, on the test set after the epoch. "
            f"The reconstruction term is summed over pixels, the KL over latent dimensions."
            f"{_without_constant(runs)}</p>{_scrolled('Metrics')}<table><thead><tr><td></td>"
            f"{head}</tr></thead><tbody>{body}</tbody></table></div></section>")


def _cell(cell: str) -> str:
    """A cell of the metrics: its figure, and what is said of it in brackets after it as an
    aside, which a narrow screen puts under it, wrapped."""
    figure, bracket, aside = cell.partition(" (")
    return html.escape(figure) + (f'<span class="aside"> ({html.escape(aside)}</span>'
                                  if bracket else "")


def _scrolled(name: str) -> str:
    """The start of a box that scrolls a wide table sideways on a narrow screen: a stop of
    the keyboard's, so that its arrow keys scroll it too, named for a screen reader."""
    return f'<div class="scroll" tabindex="0" role="region" aria-label="{name}">'


def _without_constant(runs: Sequence[Run]) -> str:
    """What the table leaves out of a squared error, which the measured nats include."""
    shapes = {tuple(run.model.image_shape) for run in runs if run.model.likelihood.left_out()}
    if len(shapes) != 1:
        return "" if not shapes else " A squared error is without its Gaussian's constant."
    return (f" A squared error is without its Gaussian's constant of "
            f"{SquaredError.constant_said(shapes.pop())}, which the nats of vaelab eval "
            f"include.")


def _figure_sections(runs: Sequence[Run], page_dir: Path) -> list[str]:
    sections = []
    for file, heading, text in SECTIONS:
        if not any(_shown(run, file) for run in runs):
            continue
        cells = "".join(
            f"<figure><figcaption>{_run_name(run, page_dir, run.path.name)}</figcaption>"
            f"{_figure_cell(run, file, heading, page_dir)}</figure>"
            for run in runs
        )
        # Runs side by side, unless a figure would shrink there below 3/4 of the scale every
        # figure has (its text unreadable): then one under the other
        sizes = [_size(run.figures_dir / file) for run in runs if _shown(run, file)]
        widest = max((size[0] * SCALE for size in sizes if size is not None), default=0)
        share = (WIDTH - GAP * (len(runs) - 1)) / len(runs)
        columns = len(runs) if 0.75 * widest <= share else 1
        moving = ' class="moving"' if file.endswith(".gif") else ""  # not printed
        sections.append(f'<section{moving}><h2>{html.escape(heading)}</h2>'
                        f'<p>{html.escape(caption(file, text, runs))}</p>'
                        f'<div class="runs" style="--n: {columns}">{cells}</div></section>')
    return sections


def _noted(cell: str) -> str:
    """A figure of the table with the marks of its notes at its end ("61.2 [2]") as links to
    the notes under the table, and an aside in brackets muted as in the metrics; a bracket
    elsewhere (a run's name) stays text."""
    figure = re.sub(r"(?: \[\d+\])+$", "", cell)
    return _cell(figure) + "".join(f' <a href="#note-{n}">[{n}]</a>'
                                         for n in re.findall(r"\d+", cell[len(figure):]))


def _evaluation_section(evaluation: Comparison, stale: str = "") -> str:
    names = "".join(f"<th>{_kept_whole(name)}</th>" for name in evaluation.names)
    rows, notes = evaluation.noted_rows()
    body = "".join(
        f'<tr><th scope="row">{html.escape(label)}</th>'
        + "".join(f"<td>{_noted(cell)}</td>" for cell in cells) + "</tr>"
        for label, cells in rows
    )
    notes_html = "".join(f'<li id="note-{k}">[{k}] {html.escape(note)}</li>'
                         for k, note in enumerate(notes, start=1))
    stale = f" <strong>{html.escape(stale)}</strong>" if stale else ""
    return (f"<section><h2>Measured on the test set</h2><p>vaelab eval's figures, per image, "
            f"with standard errors over the test images. The NLL is the importance-weighted "
            f"bound of k samples per image, k in its row. Shares and the probes' accuracies "
            f"are fractions of 1; the classifier's own accuracy is in percent.{stale}</p>"
            f"{_scrolled('Measured on the test set')}<table><thead><tr><td></td>"
            f"{names}</tr></thead><tbody>{body}</tbody></table></div>"
            f"<ul class=\"notes\">{notes_html}</ul></section>")


def write_report(runs: Sequence[Run], path: Path, *, title: str, lead: str = "",
                 top_figure: Path | None = None, commands: Sequence[str] = (),
                 evaluation: Comparison | None = None, stale: str = "",
                 noted: Sequence[str] = ()) -> Path:
    """Write an HTML page about ``runs`` to ``path``; figures are linked relative to it.
    ``stale`` says why the evaluation is not of the runs as they are now; ``noted`` lists
    what reading the images noticed, under the lead."""
    parts = [f"<h1>{html.escape(title)}</h1>"]
    if lead:
        parts.append(f'<p class="lead">{html.escape(lead)}</p>')
    if noted:
        parts.append('<p class="lead noted">Reading its images noted:</p><ul class="noted">'
                     + "".join(f"<li>{html.escape(note)}</li>" for note in noted) + "</ul>")
    if top_figure is not None:  # on one scale where comparison_figure draws it so
        scale = ("all on one scale, as the models share the prior N(0, I)"
                 if share_one_scale([run.model for run in runs]) else
                 "each in its own coordinates: mind the axes")
        parts.append(f"<section><h2>Side by side</h2><p>Each model's test codes at the top "
                     f"and its decoder over the same region below, {scale}.</p><figure>"
                     f"{_image(top_figure, path.parent, TOP_ALT)}</figure></section>")
    parts.append(_metrics_section(runs, path.parent))
    if evaluation is not None:
        parts.append(_evaluation_section(evaluation, stale))
    parts += _figure_sections(runs, path.parent)
    made = (f"Made by vaelab {__version__} with PyTorch {torch.__version__}, "
            f"{datetime.now().strftime('%Y-%m-%d %H:%M')}.")
    again = "".join(f'<pre class="command"><code>{html.escape(c)}</code></pre>'
                    for c in commands)
    footer = f"<footer>{made}{' To make it again:' if again else ''}{again}</footer>"
    parts[-1:] = [f'<div class="end">{parts[-1]}{footer}</div>']  # printed: not alone
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_css()}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")
    write_atomic(path, page)
    return path


def write_run_page(run: Run) -> Path:
    """The page of one run, beside its figures: <run>/index.html, with its eval.json's
    figures when it has been measured."""
    from vaelab.measuring.caveats import saved_scorecard
    from vaelab.measuring.comparing import Comparison

    card = saved_scorecard(run)
    dims = run.config.model.latent_dims
    subset = run.config.data.train_subset
    lead = (f"{run.config.title()} with {dims} latent dimension{'s' * (dims != 1)}, "
            f"{run.epochs_done} epoch{'s' * (run.epochs_done != 1)} on "
            + (f"{subset:,} training images of " if subset is not None else "")
            + f"{dataset_title(run.config.data.dataset)}.")
    drawn, plot = figure_notes(run).get(DRAWN_AT, ""), f"vaelab plot {quoted(run.path)}"
    if drawn.isdigit() and int(drawn) != run.epochs_done:  # resumed, say, with --no-plots
        lead += f" Its figures are of epoch {drawn}: {plot} draws them again."
    return write_report([run], run.path / "index.html", title=f"vaelab run {run.path.name}",
                        lead=lead + collapse_note(run), commands=[f"{plot}{drawn_with(run)}"],
                        noted=run.config.data.notes or (),  # said when its folder was read
                        evaluation=Comparison([card]) if card else None,
                        stale=older_than(card, run))


def collapse_note(run: Run, whose: str = "Its") -> str:
    """A sentence for a page of a run whose posterior collapsed onto the prior, as training
    said it (a teacher should see it beside the figures too), ``whose`` naming the run; for
    any other run nothing."""
    kl = collapsed_kl(run.metrics) if run.model.has_posterior else None
    if kl is None:
        return ""
    return (f" {whose} posterior collapsed onto the prior (a test KL of {kl:.2g} nats an "
            f"image): the codes say almost nothing of the images, and the figures show much "
            f"the same image everywhere.")


def older_than(card: Scorecard | None, run: Run) -> str:
    """What to say of a saved evaluation of fewer (or more) epochs than the run has now: one
    made before a --resume, say. Nothing if it is of the run as it is."""
    if card is None or card.epochs == run.epochs_done:
        return ""
    return (f"Measured after {card.epochs} epoch{'s' * (card.epochs != 1)}; the run has "
            f"{run.epochs_done} now: vaelab eval {quoted(run.path)} measures it again.")


def short_name(path: str | Path) -> str:
    """A run as tables name it: its folder and the folder's parent ('runs/vae')."""
    return "/".join(Path(path).parts[-2:]) or str(path)  # a folder of one part: itself
