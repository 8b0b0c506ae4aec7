"""A run's figures: compute what to draw from the model and the test set, draw, save.

``write_run_figures`` writes into ``<run>/figures/`` (``plot_run`` also the run's index.html):

    latent.png           test codes (posterior means where there is a posterior), by class
    manifold.png         the decoder over a grid spanning the codes' region
    manifold_prior.png   with a prior: the decoder at the prior's quantiles
    reconstructions.png  one test image per class above its reconstruction
    denoising.png        a denoising model: corrupted input, output and the clean image
    samples.png          with a prior: decodings of draws from it; for a conditional model,
                         one row per class, each column one draw of z (the style kept)
    interpolation.png    the straight line between two test codes of different classes
    interpolation.gif    the same, animated there and back
    loss.png             train and test terms per epoch

A conditional model draws the manifolds as one class (the title says which) and walks the
interpolation's labels along with its codes. Grey images are drawn as ``vaelab.pictures.ink``
says: ink on paper for the registered datasets, as they are for anyone's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from matplotlib.figure import Figure

from vaelab.config.checks import check_count, parse_noise
from vaelab.data import ImageData, dataset_title, prepare, to_unit
from vaelab.errors import VaelabError, did_you_mean, named
from vaelab.files import check_can_make, read_capped, write_atomic
from vaelab.measuring.latent import LatentPicture, latent_picture, prior_manifold
from vaelab.models import Autoencoder, leaves_modes
from vaelab.objectives import corrupt
from vaelab.pictures import plots
from vaelab.pictures.choice import DRAWN_AT, DRAWN_WITH, Choice
from vaelab.pictures.ink import drawn_manifold, ink_on_paper, pictures_of
from vaelab.pictures.interpolation import GIF_ENDS, interpolation
from vaelab.pictures.report import write_run_page
from vaelab.pictures.saving import DPI, save_figure, save_gif
from vaelab.training.datasets import check_data, load_for
from vaelab.training.runs import FIGURES, Run, opened

SAMPLES = 10  # samples.png is SAMPLES x SAMPLES
EXAMPLES = 10  # about as many test images in reconstructions.png and denoising.png
DRAWN_FROM = ".vaelab-figures-of"  # in a folder of figures drawn with --out: the run's path


def plot_run(run: Run | str | Path, data: ImageData | None = None, *,
             out_dir: str | Path | None = None, fmt: str = "png",
             data_dir: str | Path | None = None, progress: bool = True,
             label: str | int | None = None, between: tuple[str | int, str | int] | None = None,
             only: Sequence[str] | None = None, dpi: int = DPI) -> dict[str, Path]:
    """Draw a run's figures (loading its test set unless ``data`` is given); when they go to
    the run's own figures/ folder as PNGs, write its index.html too. ``label`` is the class a
    conditional model's decoder grids are drawn as (by default its first); ``between`` the two
    classes whose first test images the interpolation joins (by default the two whose codes lie
    farthest apart), so that several runs' figures show the same pair; either by number or name.
    ``only`` and ``dpi``: as ``write_run_figures`` takes them, into ``out_dir``."""
    if out_dir is not None:  # new or not: its figures are drawn again
        check_can_make(out_dir, named("--out", "out_dir"), folder=True)
    run = opened(run, data_dir=data_dir,
                 writes="out_dir to draw it elsewhere" if out_dir is None else "")
    if out_dir is not None:
        _not_another_runs(Path(out_dir), run)
    choice = Choice.of(run, label, between)  # before any work
    figures_wanted(run, only, dpi, out_dir)
    data = load_for(run.config, data_dir, progress=progress, data=data)
    paths = write_run_figures(run, data, out_dir, fmt, choice=choice, only=only, dpi=dpi)
    if out_dir is None and fmt == "png":
        paths["page"] = write_run_page(run)
    if out_dir is not None:  # whose figures they are, for the next plot there
        write_atomic(Path(out_dir) / DRAWN_FROM, str(run.path.resolve()) + "\n")
    return paths


def _not_another_runs(out: Path, run: Run) -> None:
    """Refuse an ``out`` that is another run's figures/ folder, whose page would show these
    figures as its own, another run's own folder, which they would litter, or a folder of
    another run's figures drawn with --out, which they would replace or mix with."""
    owner, another = out.resolve().parent, f"choose another {named('--out', 'out_dir')}"
    if (out.resolve().name == FIGURES and (owner / "config.json").is_file()
            and owner != run.path.resolve()):
        raise VaelabError(f"{out} is the figures folder of another run ({owner}), whose page "
                          f"would show these figures as its own; {another}")
    if (out / "config.json").is_file() and out.resolve() != run.path.resolve():
        raise VaelabError(f"{out} is another run's folder, among whose files these figures "
                          f"would lie; {another}")
    marker = out / DRAWN_FROM
    try:
        owner = read_capped(marker, 4096).decode(errors="replace").strip()
    except (OSError, ValueError):  # none, or not one vaelab wrote
        owner = ""
    # another run's figures, where that run is still there (not moved) and so are they
    if (owner and owner != str(run.path.resolve()) and (Path(owner) / "config.json").is_file()
            and any(path.suffix in (".png", ".svg", ".pdf", ".gif") for path in out.iterdir())):
        raise VaelabError(f"{out} holds the figures of another run ({owner}), which these "
                          f"would replace or mix with; {another}, one for each run, such as "
                          f"{out / run.path.name} (or remove {marker}, if they may go)")


@leaves_modes
@torch.inference_mode()
def write_run_figures(run: Run | str | Path, data: ImageData | None = None,
                      out_dir: str | Path | None = None, fmt: str = "png",
                      seen: LatentPicture | None = None, choice: Choice = Choice(),
                      only: Sequence[str] | None = None, dpi: int = DPI) -> dict[str, Path]:
    """Draw all of a run's figures into ``out_dir`` (default: the run's figures/ folder), as
    PNG, or as PDF or SVG for print and slides (the images in them stay pixels), of ``data``
    (by default the run's own images, loaded). ``seen`` skips encoding the test set when the
    caller has its latent picture already. Into a folder of one's own (``out_dir``), ``only``
    draws some of them (by FIGURE_KEYS' names), and ``dpi`` a PNG's pixels per inch."""
    plots.check_format(fmt)
    check_data(data)
    run = opened(run, writes="out_dir to draw it elsewhere" if out_dir is None else "")
    wanted = figures_wanted(run, only, dpi, out_dir)
    data = data if data is not None else load_for(run.config, progress=False)
    out_dir = Path(out_dir or run.figures_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = run.model.eval()
    # A binarized run is drawn with the binarized images it learns from.
    data = prepare(data.to(model.device), run.config.data.binarize,
                   run.config.data.binarize_seed, measuring=True)
    name, ink = _describe(run), ink_on_paper(run.config.data.dataset)
    seen = seen or latent_picture(model, data, label=choice.label)
    labels = seen.plane.axis_labels()
    kind = "posterior means" if model.has_posterior else "codes"
    where = " (PCA plane)" if seen.plane.is_pca else ""
    given = ", each given its class" if model.conditional else ""
    drawn_as = "" if seen.label is None else f", drawn as class {data.classes[seen.label]}"
    paths: dict[str, Path] = {}
    notes = {DRAWN_WITH: choice.as_text(), DRAWN_AT: str(run.epochs_done)}  # the page's

    def save(key: str, fig: Callable[[], Figure]) -> None:  # at once: a figure keeps pixels
        if key in wanted:
            paths[key] = save_figure(fig(), out_dir / f"{key}.{fmt}", dpi=dpi, notes=notes)

    save("latent", lambda: plots.latent_scatter(
        seen.points, seen.labels, data.classes, axis_labels=labels,
        equal=not seen.plane.is_line, window=seen.manifold.extent,
        title=f"{name}\n{kind} of the {len(seen.points):,} test images{given}{where}"))
    save("manifold", lambda: plots.manifold_figure(
        drawn_manifold(seen.manifold, ink), axis_labels=labels,
        title=f"{name}\ndecoder over the test codes' region{where}{drawn_as}"))
    save("reconstructions",
         lambda: _reconstructions(model, data, name, ink, run.config.train.noise))
    if run.config.train.noise != "none":
        save("denoising", lambda: _denoising(model, data, name, ink, run.config.train.noise,
                                             run.config.train.seed))
    if model.has_prior:
        save("manifold_prior", lambda: plots.manifold_figure(
            drawn_manifold(prior_manifold(model, seen.plane, seen.label), ink),
            axis_labels=labels,
            title=f"{name}\ndecoder at the prior's 5%-95% quantiles"
                  f"{' (PCA plane through 0)' if seen.plane.is_pca else ''}{drawn_as}"))
        save("samples", lambda: _samples(model, data, name, ink, run.config.train.seed))
    if "interpolation" in wanted:
        figure, gif_frames = interpolation(model, data, seen, name, ink, choice.between)
        save("interpolation", lambda: figure)
        paths["interpolation_gif"] = save_gif(gif_frames, out_dir / "interpolation.gif",
                                              held=GIF_ENDS)
    if run.metrics:
        save("loss", lambda: _loss(run, name))
    if out_dir.resolve() == run.figures_dir.resolve():  # what an earlier state drew, gone
        for key in set(FIGURE_KEYS) - paths.keys():  # (a denoising run resumed as another)
            (out_dir / f"{key}.{fmt}").unlink(missing_ok=True)
    return paths


# The figures a run may have, by their keys: its page shows those that are there.
FIGURE_KEYS = ("latent", "manifold", "reconstructions", "denoising", "manifold_prior",
               "samples", "interpolation", "loss")


def figures_wanted(run: Run, only: Sequence[str] | None, dpi: int, out_dir: str | Path | None
                   ) -> set[str]:
    """The figures to draw: the run's all, or those ``only`` names, checked (one line for a
    name that is none of them, or of a figure that this run has not); ``only`` and ``dpi``
    draw for a folder of one's own, not the run's page, which shows all at DPI."""
    has = [key for key in FIGURE_KEYS if (key != "denoising" or run.config.train.noise != "none")
           and (key not in ("manifold_prior", "samples") or run.model.has_prior)
           and (key != "loss" or run.metrics)]
    if only is None and dpi == DPI:
        return set(has)
    if only is not None and not only:
        raise VaelabError(f"{named('--only', 'only=')} names no figure; name one or more of "
                          f"{', '.join(has)}")
    for key in only or ():  # a mistyped name first: it is the mistake to mend
        if key not in has:
            why = (f"{run.path} ({run.config.named()}) has no {key} figure" if key in FIGURE_KEYS
                   else f"no figure is named {key!r}{did_you_mean(key, FIGURE_KEYS)}")
            raise VaelabError(f"{why}; its figures are {', '.join(has)}")
    check_count(named("--dpi", "dpi"), dpi, least=30, most=1200)
    if out_dir is None or Path(out_dir).resolve() == run.figures_dir.resolve():
        other = "too" if out_dir is None else "other than the run's figures/"
        raise VaelabError(f"{named('--only and --dpi', 'only= and dpi=')} draw figures for a "
                          f"folder of your own, not the run's page: give "
                          f"{named('--out DIR', 'out_dir')} {other}")
    return set(only or has)


# ---------------------------------------------------------------------------------------------


def _describe(run: Run) -> str:
    """The run in a figure's title: what it is, on what data, its size and epochs."""
    epochs, data = run.epochs_done, run.config.data
    subset = ([f"{data.train_subset:,} training images"]
              if data.train_subset is not None else [])
    return run.config.title(dataset_title(data.dataset), *subset,
                            f"d={run.config.model.latent_dims}",
                            f"{epochs} epoch{'s' * (epochs != 1)}")


def _loss(run: Run, name: str) -> Figure:
    train, given = run.config.train, ",y" if run.model.conditional else ""
    kl_name = f"KL(q(z|x{given}) || p(z))\n(nats)"  # the closed form, whatever it trained on
    noise = parse_noise(train.noise)  # codes of corrupted inputs: a bound on log p(x), not its ELBO
    # Bernoulli pixels of grey images: a cross-entropy, which no likelihood makes an ELBO
    grey = run.model.likelihood.exactness(run.config.data.binarize != "none") is not None
    elbo = "recon + KL" if grey or noise else "−ELBO (recon + KL)"
    loss_name = (f"−IWAE bound, k = {train.draws}" if train.objective == "iwae"
                 else elbo if train.draws == 1
                 else f"{elbo}, mean of k = {train.draws} draws") + "\n(nats)"
    recon_name = run.model.likelihood.term
    constant = run.model.likelihood.left_out()
    if constant:  # the loss as trained: without the constant (a squared error's)
        draws = f", mean of k = {train.draws} draws" if train.draws > 1 else ""
        loss_name = (f"−IWAE bound, k = {train.draws}\n(nats, less its constant, "
                     f"{constant:.1f})" if train.objective == "iwae" else
                     f"{recon_name} + KL{draws}\n(the {'sum' if noise else '−ELBO'} in nats "
                     f"less its constant, {constant:.1f})")
    else:  # a negative log-likelihood, or of grey pixels a cross-entropy
        recon_name = recon_name.replace("−log p(x|z)", "cross-entropy") if grey else recon_name
        recon_name += "\n(nats)"
    title = f"{name}\ntraining curves"
    weighted = [f"β = {train.beta:g}"] if train.beta != 1 else []  # what it minimised is
    if train.kl_warmup:  # not what is drawn; a warm-up not finished says how far it got
        over = f"{train.kl_warmup} epoch{'s' * (train.kl_warmup != 1)}"
        weighted.append(f"warmed up over {over}" if run.epochs_done >= train.kl_warmup
                        else f"warming up over {over}, {run.epochs_done} done")
    weighted_text = f" weighted ({', '.join(weighted)})" if weighted else ""
    if train.kl == "tutorial":  # the curves are of the closed form
        title += (f"; trained on the tutorial's KL line{weighted_text}, drawn with the "
                  f"closed-form KL")
    elif weighted:
        title += (f"; the {'sum' if noise or grey else '−ELBO'} at β = 1, trained with the KL"
                  f"{weighted_text}")
    if train.objective == "iwae" and run.model.has_posterior:  # the bound is not their sum
        title += "\nthe other two panels are the ELBO's terms, whose sum the bound lies below"
    if grey:
        title += (f"\n{run.model.likelihood.title} of {run.model.likelihood.grey()} images: a "
                  f"cross-entropy, not a likelihood (--binarize dynamic makes it one)")
    if noise:  # it learnt to draw clean images from the codes of corrupted ones
        title += (f"\nthe terms of clean images decoded from codes of inputs corrupted with "
                  f"{noise[0]} {noise[1]:g}")
    return plots.loss_curves(run.metrics, title=title, loss_name=loss_name,
                             recon_name=recon_name, kl_name=kl_name)


def _first_of_each_class(labels: torch.Tensor, n_classes: int, each: int = 1) -> list[int]:
    """The indices of the first ``each`` images of every class, class by class."""
    return [int(i) for c in range(n_classes) for i in (labels == c).nonzero()[:each, 0]]


def _class_examples(data: ImageData) -> tuple[torch.Tensor, torch.Tensor, list[str] | None]:
    """Test images in [0, 1] (K, C, H, W), their labels, and their class names: one of each
    class, or of fewer than ten classes as many of each as make about ten; for unlabelled
    images, the first ten and no names."""
    if not data.labelled:
        return to_unit(data.test_images[:10]), data.test_labels[:10], None
    each = max(1, EXAMPLES // len(data.classes))
    index = _first_of_each_class(data.test_labels, len(data.classes), each)
    labels = data.test_labels[index]
    return to_unit(data.test_images[index]), labels, [data.classes[int(c)] for c in labels]


@torch.inference_mode()
def _reconstructions(model: Autoencoder, data: ImageData, name: str, ink: bool,
                     noise: str = "none") -> Figure:
    x, y, names = _class_examples(data)
    title = f"{name}\ntest images and their reconstructions"
    if noise != "none":  # not what it learnt to do
        title += " (clean: it trained on corrupted ones, see the denoising figure)"
    return plots.image_rows(
        [("test image", pictures_of(x, ink)),
         ("reconstruction", pictures_of(model.reconstruct(x, y), ink))],
        column_labels=names, title=title)


@torch.inference_mode()
def _denoising(model: Autoencoder, data: ImageData, name: str, ink: bool, noise: str,
               seed: int) -> Figure:
    x, y, names = _class_examples(data)
    noisy = corrupt(x, noise, torch.Generator(x.device).manual_seed(seed))
    rows = [("corrupted input", pictures_of(noisy, ink)),
            ("output", pictures_of(model.reconstruct(noisy, y), ink)),
            ("clean image", pictures_of(x, ink))]
    return plots.image_rows(rows, column_labels=names,
                            title=f"{name}\nwhat it makes of corrupted test images")


@torch.inference_mode()
def _samples(model: Autoencoder, data: ImageData, name: str, ink: bool, seed: int) -> Figure:
    """SAMPLES x SAMPLES prior draws; for a conditional model one row per class, each column
    one draw of z decoded as every class."""
    generator = torch.Generator(model.device).manual_seed(seed)
    if not model.conditional:
        samples = model.sample(SAMPLES * SAMPLES, generator=generator)
        return plots.image_grid(plots.grid_of(pictures_of(samples, ink), SAMPLES),
                                title=f"{name}\nsamples from the prior")
    classes = len(data.classes)
    z = torch.randn(SAMPLES, model.latent_dims, generator=generator, device=model.device)
    y = torch.arange(classes, device=model.device).repeat_interleave(SAMPLES)  # row by row
    images = model.decode(z.repeat(classes, 1), y)  # (classes * SAMPLES, C, H, W)
    rows = [(data.classes[c], pictures_of(images[c * SAMPLES:(c + 1) * SAMPLES], ink))
            for c in range(classes)]
    return plots.image_rows(rows, title=f"{name}\nsamples, one class per row; each column "
                                        f"is one z from the prior")
