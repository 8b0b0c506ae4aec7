"""Several runs side by side: their evaluations as one table, and their latent codes and
decoders in one figure."""

from __future__ import annotations

import logging
import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from vaelab.data import ImageData, dataset_title, prepare
from vaelab.errors import VaelabError, did_you_mean
from vaelab.files import writable, write_atomic
from vaelab.measuring.caveats import (
    AS_CLASS_0,
    classifier_record,
    saved_scorecard,
    say_what_differs,
)
from vaelab.measuring.classifier import Judge, judge_for
from vaelab.measuring.comparing import Comparison
from vaelab.measuring.evaluation import check_measuring, evaluate_run
from vaelab.measuring.latent import LatentPicture, Manifold, latent_picture, on_one_scale
from vaelab.measuring.pairing import check_same_test_images
from vaelab.measuring.scorecard import Scorecard, eval_file
from vaelab.pictures.ink import drawn_manifold, ink_on_paper
from vaelab.pictures.plots import (
    check_format,
    class_legend,
    draw_manifold,
    draw_scatter,
    legend_names,
    style,
)
from vaelab.pictures.saving import figure_bytes
from vaelab.training.datasets import check_same, load_for
from vaelab.training.folders import check_new_run_dir, unique_dir
from vaelab.training.runs import CONFIG, Run, check_each_once, opened

log = logging.getLogger("vaelab")


def comparison_figure(runs: Sequence[Run], pictures: Sequence[LatentPicture], data: ImageData,
                      names: Sequence[str] | None = None) -> Figure:
    """A column per run: its test codes, and its decoder over the same region below; for runs
    that share their prior, ``on_one_scale``, which the title says."""
    names = names or [run.config.title() for run in runs]
    if len({run.epochs_done for run in runs}) > 1:  # the title says it only where they agree
        names = [f"{name}, {run.epochs_done} epoch{'s' * (run.epochs_done != 1)}"
                 for name, run in zip(names, runs, strict=True)]
    every = len(data.train_images)
    if len({run.config.data.train_subset for run in runs}) > 1:  # and the images learnt from
        names = [f"{name}, {min(run.config.data.train_subset or every, every):,} training "
                 f"images" for name, run in zip(names, runs, strict=True)]
    shared = on_one_scale([run.model for run in runs], pictures)
    pictures = shared or pictures
    ink = ink_on_paper(runs[0].config.data.dataset)  # the runs share their data
    views = [LatentView(name, seen.points, seen.labels, drawn_manifold(seen.manifold, ink),
                        seen.plane.axis_labels(),
                        None if seen.label is None else data.classes[seen.label])
             for name, seen in zip(names, pictures, strict=True)]
    epochs = {run.epochs_done for run in runs}
    subsets = {run.config.data.train_subset for run in runs}  # said as each run's figures do
    when = f", {(n := epochs.pop())} epoch{'s' * (n != 1)}" if len(epochs) == 1 else ""
    subset = f", {n:,} training images" if len(subsets) == 1 and (n := subsets.pop()) else ""
    scale = ("\none scale for all: the runs share the prior N(0, I)" if shared is not None
             else "\neach in its own coordinates: mind the axes")
    return draw_comparison(views, data.classes,
                           title=f"Where the codes fall, and what the decoder draws there "
                                 f"({dataset_title(data.name)}{subset}{when}){scale}")


@dataclass(frozen=True)
class LatentView:
    """What the comparison shows of one model: its test codes and its decoded plane."""

    name: str
    points: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,)
    manifold: Manifold
    axis_labels: tuple[str, str] = ("$z_1$", "$z_2$")
    drawn_as: str | None = None  # the class a conditional model's decoder draws, by name


MOST_COLUMNS = 4  # runs side by side in a comparison; more go on further rows
KEY_ROWS = 20  # classes in a column of the legend
TOP_KEY_ROWS = 12  # rows of the legend that fit beside the top codes of the smallest panels


def _unbroken(text: str) -> str:
    """Text whose spaces do not break a line (a class name: 'Ankle boot')."""
    return text.replace(" ", "\u00a0")


def _name_lines(name: str, width: int) -> list[str]:
    """A column's name ('folder, model (details)') in lines of ``width`` characters at most:
    one where it fits, else broken after the folder's name first (its comma, before the
    model's parentheses), and never inside 'k = 5'."""
    name = name.replace(" = ", "\u00a0=\u00a0")
    comma = name.find(", ")
    if len(name) <= width or comma < 0 or 0 <= name.find("(") < comma:  # no folder's name
        return textwrap.wrap(name, width, break_on_hyphens=False) or [""]
    return [*textwrap.wrap(name[:comma + 1], width),  # the folder's name, at its hyphens too
            *textwrap.wrap(name[comma + 2:], width, break_on_hyphens=False)]


def _level(titles: list[list[str]]) -> list[str]:
    """Titles of as many lines each, blank ones added below the shorter: a title of two lines
    over one column moves its panels down as far as every other column's."""
    lines = max(map(len, titles), default=1)
    return ["\n".join(title + [""] * (lines - len(title))) for title in titles]


def _heights(views: Sequence[LatentView], side: float) -> list[float]:
    """Inches of the codes' and the decoders' panels in a column ``side`` inches wide: as high
    as the tallest plane's region needs (up to square, down to a fifth), so that no empty
    band stands below it; with no plane (latent lines alone) the decoders are strips."""
    planes = [(top - bottom) / (right - left) for view in views if len(view.manifold.v) > 1
              for left, right, bottom, top in [view.manifold.extent]]
    high = float(np.clip(max(planes, default=1.0), 0.2, 1.0))
    wide = side - 0.65  # inches of a panel, less its ticks and label beside it
    return [wide * high, wide * (high if planes else 0.1)]


def draw_comparison(views: Sequence[LatentView], classes: Sequence[str], *, title: str) -> Figure:
    """One column per model, named at its top: its latent codes above, its decoder over the
    same region below, read across like a slide's columns (four runs make a figure twice as
    wide as high; more go on further rows). The classes' legend stands once, in a column of
    its own beside the top row's codes, so that every column's panels are of one size."""
    rows = math.ceil(len(views) / MOST_COLUMNS)
    columns = math.ceil(len(views) / rows)
    side = float(np.clip(13.5 / columns, 3.2, 4.6))  # inches of one panel
    width = int(side * 11)  # characters of a title line over one panel
    columns_of_key = math.ceil(len(classes) / KEY_ROWS)  # the legend's own columns
    key = columns_of_key * (0.75 + 0.075 * max(map(len, legend_names(classes)))) if classes \
        else 0.05  # inches
    names = _level([_name_lines(view.name, width) for view in views])
    decoders = _level([textwrap.wrap("decoder over the same region" + (
        "" if view.drawn_as is None else f", drawn as class {_unbroken(view.drawn_as)}"),
        width, break_on_hyphens=False) for view in views])
    heights = _heights(views, side)  # and their titles, ticks and labels, a line more each:
    text = 1.8 + 0.2 * (names[0].count("\n") + decoders[0].count("\n"))
    with style():
        fig = Figure(figsize=(side * columns + key + 0.2, (sum(heights) + text) * rows + 0.4),
                     layout="constrained")
        grid = fig.subfigures(rows, columns + 1, squeeze=False,
                              width_ratios=[side] * columns + [key])
        cells = grid[:, :columns].flatten()
        for cell, view, named, decoded in zip(cells, views, names, decoders, strict=False):
            codes, decoder = cell.subplots(2, 1, height_ratios=heights)
            is_plane = len(view.manifold.v) > 1
            draw_scatter(codes, view.points, view.labels, classes, view.axis_labels,
                         legend=False, equal=is_plane)
            codes.set_title("test codes")
            for ax in (codes, decoder):  # at the cell's top, so that the titles line up
                ax.set_anchor("N")
                if view.manifold.evenly_spaced:  # whole steps: no "−12.5−10.0" run together
                    ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 5, 10]))
            draw_manifold(decoder, view.manifold, view.axis_labels)
            decoder.set_title(decoded)
            left, right, bottom, top = view.manifold.extent
            codes.set_xlim(left, right)
            if is_plane:  # the same window as the decoder's
                codes.set_aspect("equal", adjustable="box")
                codes.set_ylim(bottom, top)
            name = cell.suptitle(named)
            # centred on the panels, as their titles are, where the layout puts them
            name.set_transform(blended_transform_factory(codes.transAxes, cell.transSubfigure))
        if classes:  # level with the top row's codes, which fill about its upper half; a
            # legend too tall for that, in the middle of the figure's height
            high = min(len(classes), KEY_ROWS) > TOP_KEY_ROWS
            class_legend(grid[0, columns] if not high else fig, classes,
                         at=(0.0, 1 - 0.52 * heights[0] / sum(heights)) if not high
                         else (1 - key / fig.get_figwidth(), 0.5), columns=columns_of_key,
                         shown=np.unique(np.concatenate([view.labels for view in views])))
        fig.suptitle("\n".join(textwrap.fill(line, int(fig.get_figwidth() * 8.5))
                               for line in title.splitlines()), fontsize=13)
    return fig


EVAL_OPTIONS = {"k", "samples", "chunk", "seed", "split", "judge"}  # of evaluate_run


def compare_runs(runs: Iterable[Run | str | Path], out: str | Path | None = None, *,
                 data: ImageData | None = None, data_dir: str | Path | None = None,
                 device: str | torch.device = "cpu", progress: bool = True,
                 fmt: str = "png", **eval_options: Any) -> tuple[Comparison, Path]:
    """Put several runs' eval metrics side by side (evaluating, with ``eval_options``, those
    that have no eval.json yet, or one of other epochs or classifier, or one measured with
    another k, samples or seed than ``eval_options`` name: what they leave out as the saved
    evaluation had it, and the eval.json replaced only if outdated), and write compare.md,
    compare.csv and compare.png (their latent codes above their manifolds, a run a column;
    compare.pdf or compare.svg by ``fmt``) into ``out`` (default: ./vaelab-compare, numbered
    if taken). Runs given as folders are
    loaded onto ``device``; loaded ones stay where they are. Returns the comparison and the
    folder."""
    if isinstance(runs, (str, Path, Run)):  # else a folder's name is read letter by letter
        raise VaelabError("compare_runs takes a list of two runs or more (folders or Run "
                          "objects), not one")
    runs = list(runs)  # a generator of runs too
    if len(runs) < 2:
        raise VaelabError("compare needs at least two runs")
    for name in eval_options.keys() - EVAL_OPTIONS:  # else ignored, or a TypeError inside
        raise VaelabError(f"compare_runs takes no option {name!r}"
                          f"{did_you_mean(name, EVAL_OPTIONS)}; it measures with "
                          f"{', '.join(sorted(EVAL_OPTIONS))}")
    check_measuring(**{name: eval_options.get(name) for name in ("k", "samples", "seed")})
    check_format(fmt)
    if any(isinstance(run, Scorecard) for run in runs):
        raise VaelabError("compare_runs takes runs (Run objects or folders); scorecards alone "
                          "go side by side as vaelab.Comparison([card, ...])")
    loaded = [opened(run, device, data_dir=data_dir) for run in runs]
    check_each_once(loaded, "compare different runs")
    check_same_test_images([(str(run.path), run.config.data) for run in loaded])
    if out is not None:
        check_new_run_dir(out, resume=None)
    data = (_images_of_any(loaded, data_dir, progress) if data is None else
            load_for(loaded[0].config, data_dir, progress=progress, data=data))
    for run in loaded:
        check_same(run.config, data)
    judge = eval_options.get("judge", "cached")
    if judge == "cached":  # one classifier for every run, trained first if there is none
        judge = judge_for(data.to(loaded[0].model.device), progress=progress)
    # Options given as None are not given: a saved evaluation's own are as good.
    eval_options = {name: value for name, value in eval_options.items() if value is not None}
    eval_options["judge"] = judge
    cards, split = [], eval_options.get("split", "test")
    for run in loaded:
        card = saved_scorecard(run, split, "it is kept as it is, and the run measured for "
                                           "this comparison alone") \
            if (run.path / CONFIG).is_file() else None  # a folder removed: nothing to keep
        # An evaluation is used again if it is of this run's epochs, measured as asked (k,
        # samples, seed, where the call names them), and its samples were judged by the same
        # classifier (another one's Frechet distances are not comparable), and a CVAE's grids
        # were judged over every class.
        outdated = (card is None or card.epochs != run.epochs_done
                    or card.classifier != classifier_record(judge)
                    or AS_CLASS_0 in card["grid_digits"].note)
        if outdated or not _as_asked(card, eval_options):
            alone, again = _why_alone(run, card, outdated, split), _why_again(run, card, judge)
            log.info("evaluating %s%s%s", run.path, f" again ({again})" if again else "",
                     f" for this comparison alone ({alone})" if alone else "")
            # What the call leaves out is as the saved evaluation had it; one measured
            # otherwise than the run's own eval.json goes into the comparison alone.
            saved = {} if card is None else {"k": card.k, "samples": card.samples,
                                             "seed": card.seed}
            options = {name: value for name, value in {**saved, **eval_options}.items()
                       if (value is not None or name == "judge")  # None: no classifier
                       and (name != "k" or run.model.has_posterior)}
            card = evaluate_run(run, data, progress=progress, save=not alone, **options)
        # an eval.json of an older vaelab keeps no settings: the run's own are these
        cards.append(card if card.config else replace(card, config=run.config.to_dict()))
    comparison = Comparison(cards)
    say_what_differs(loaded, cards, len(data.train_images), comparison.names)
    pictures = [latent_picture(run.model, prepare(data.to(run.model.device),
                                                  run.config.data.binarize,
                                                  run.config.data.binarize_seed, measuring=True))
                for run in loaded]
    names = [f"{name}, {run.config.title()}"
             for name, run in zip(comparison.names, loaded, strict=True)]
    figure = figure_bytes(comparison_figure(loaded, pictures, data, names), fmt)
    # The folder is made only now, with everything computed: a comparison refused or
    # interrupted (Ctrl-C) leaves none behind to refuse the same command the next time.
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
    folder = Path(out) if out is not None else unique_dir(Path("vaelab-compare"))
    comparison.save(folder)
    write_atomic(folder / f"compare.{fmt}", figure)
    return comparison, folder


def _why_again(run: Run, card: Scorecard | None, judge: Judge | None) -> str:
    """Why the run's saved evaluation is measured again ("": none, or _why_alone's case)."""
    if card is None:
        return ""
    if card.epochs != run.epochs_done:
        return f"its figures are of epoch {card.epochs}, and the run has trained {run.epochs_done}"
    if card.classifier != classifier_record(judge):
        return ("its samples were judged by no classifier" if card.classifier is None else
                "its samples were judged by a classifier, and this comparison judges none"
                if judge is None else "its samples were judged by another classifier")
    if AS_CLASS_0 in card["grid_digits"].note:
        return "its grids were judged as class 0 alone"
    return ""


def _why_alone(run: Run, card: Scorecard | None, outdated: bool, split: str) -> str:
    """Why a run's new measures go into the comparison alone, not into its eval.json ("": they
    go there too): a saved one of the run as it is, measured otherwise, is kept, and so is
    one that cannot be read (a newer vaelab's, say); a folder may not be writable."""
    if not outdated:
        return "its eval.json, measured otherwise, is kept"
    if card is None and (run.path / eval_file(split)).exists():
        return f"its {eval_file(split)}, which cannot be read, is kept"
    if not (run.path / CONFIG).is_file():  # removed since it was loaded
        return "its folder is no longer there"
    if not writable(run.path):
        return "its folder cannot be written"
    return ""


def _images_of_any(runs: list[Run], data_dir: str | Path | None, progress: bool) -> ImageData:
    """The runs' test images, from the first run whose images are found (the runs have the
    same ones, by check_same_test_images: a copy of a folder found where another has moved),
    or the first run's error where none are."""
    missing = []
    for run in runs:
        try:
            return load_for(run.config, data_dir, progress=progress)
        except VaelabError as err:
            missing.append(err)
    raise missing[0]


def _as_asked(card: Scorecard, options: dict[str, Any]) -> bool:
    """Whether a saved evaluation was measured with the k, samples and seed that ``options``
    name (an AE's, without k, draws no codes: its samples do not matter)."""
    drawn = card.k is not None
    return all(getattr(card, name) == options[name] for name in ("k", "samples", "seed")
               if name in options and (drawn or name == "seed"))

