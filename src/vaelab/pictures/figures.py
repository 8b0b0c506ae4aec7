"""A run's figures: compute what to draw from the model and the test set, draw, save.

``write_run_figures`` writes into ``<run>/figures/`` (``plot_run`` also the run's index.html):

    latent.png           test codes (posterior means for a VAE), coloured by class
    manifold.png         the decoder over a grid spanning the codes' region
    manifold_prior.png   VAE: the decoder at the prior's quantiles
    reconstructions.png  one test image per class above its reconstruction
    samples.png          VAE: decodings of draws from the prior
    interpolation.png    the straight line between two test codes of different classes
    interpolation.gif    the same, animated there and back
    loss.png             train and test terms per epoch
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from vaelab.data import ImageData, load_dataset, to_unit
from vaelab.errors import VaelabError
from vaelab.files import write_atomic
from vaelab.measuring.latent import (
    LatentPicture,
    decode_all,
    encode_dataset,
    interpolate,
    latent_picture,
    prior_manifold,
    tile,
)
from vaelab.models import VAE, Autoencoder
from vaelab.pictures import plots
from vaelab.pictures.report import write_run_page
from vaelab.training.runs import Run, load_run

FORMATS = ("png", "pdf", "svg")
FRAMES = 10  # decoded frames in the interpolation strip
GIF_FRAMES = 40  # frames each way in the animation
GIF_SCALE = 4  # 28 px -> 112 px
SAMPLES = 10  # samples.png is SAMPLES x SAMPLES


def plot_run(run: Run | str | Path, data: ImageData | None = None, *,
             out_dir: str | Path | None = None, fmt: str = "png",
             data_dir: str | Path | None = None, progress: bool = True) -> dict[str, Path]:
    """Draw a run's figures (loading its test set unless ``data`` is given); when they go to
    the run's own figures/ folder as PNGs, write its index.html too."""
    if not isinstance(run, Run):
        run = load_run(run)
    if data is None:
        data = load_dataset(run.config.data.dataset, data_dir, progress=progress)
    paths = write_run_figures(run, data, out_dir, fmt)
    if out_dir is None and fmt == "png":
        paths["page"] = write_run_page(run)
    return paths


@torch.inference_mode()
def write_run_figures(run: Run, data: ImageData, out_dir: str | Path | None = None,
                      fmt: str = "png", seen: LatentPicture | None = None) -> dict[str, Path]:
    """Draw all of a run's figures into ``out_dir`` (default: the run's figures/ folder), as
    PNG, or as PDF or SVG for print and slides (the images in them stay pixels). ``seen``
    skips encoding the test set when the caller has its latent picture already."""
    if fmt not in FORMATS:
        raise VaelabError(f"unknown figure format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    out_dir = Path(out_dir or run.figures_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = run.model.eval()
    data = data.to(model.device)
    name = _describe(run)
    seen = seen or latent_picture(model, data)
    labels = seen.plane.axis_labels()
    kind = "posterior means" if isinstance(model, VAE) else "codes"
    where = " (PCA plane)" if seen.plane.is_pca else ""
    figures = {
        "latent": plots.latent_scatter(
            seen.points, seen.labels, data.classes, axis_labels=labels,
            equal=not seen.plane.is_line,
            title=f"{name}\n{kind} of the {len(seen.points):,} test images{where}"),
        "manifold": plots.manifold_figure(
            seen.manifold, axis_labels=labels,
            title=f"{name}\ndecoder over the test codes' region{where}"),
        "reconstructions": _reconstructions(model, data, name),
    }
    if isinstance(model, VAE):
        figures["manifold_prior"] = plots.manifold_figure(
            prior_manifold(model, seen.plane), axis_labels=labels,
            title=f"{name}\ndecoder at the prior's 5%-95% quantiles{where}")
        generator = torch.Generator(model.device).manual_seed(run.config.train.seed)
        samples = model.sample(SAMPLES * SAMPLES, generator=generator).cpu()
        figures["samples"] = plots.image_grid(
            tile(samples, SAMPLES, SAMPLES)[0].numpy(), title=f"{name}\nsamples from the prior")
    figures["interpolation"], gif_frames = _interpolation(model, data, seen, name)
    if run.metrics:
        kl_name = ("the tutorial's KL line" if run.config.train.kl == "tutorial"
                   else "KL(q(z|x) || p(z))")
        figures["loss"] = plots.loss_curves(run.metrics, title=f"{name}: training",
                                            recon_name=_recon_name(run), kl_name=kl_name)
    paths = {key: save_figure(fig, out_dir / f"{key}.{fmt}") for key, fig in figures.items()}
    paths["interpolation_gif"] = save_gif(gif_frames, out_dir / "interpolation.gif")
    return paths


def save_figure(fig: Figure, path: Path, dpi: int = 150) -> Path:
    """Save ``fig`` (PNG, PDF or SVG by the file's suffix) atomically."""
    buffer = BytesIO()
    fig.savefig(buffer, format=path.suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight",
                facecolor="white")
    write_atomic(path, buffer.getvalue())
    return path


def save_gif(frames: np.ndarray, path: Path, scale: int = GIF_SCALE, ms: int = 50) -> Path:
    """Frames (T, H, W) in [0, 1] as an endless animation, ink on paper, enlarged ``scale``
    times without blurring."""
    ink = (255 * (1 - frames.clip(0, 1))).round().astype(np.uint8)
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
              for f in ink]
    buffer = BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=ms,
                   loop=0, optimize=True)
    write_atomic(path, buffer.getvalue())
    return path


# ---------------------------------------------------------------------------------------------


def _describe(run: Run) -> str:
    model = run.config.model
    return f"{model.model.upper()} (d={model.latent_dims}, {run.epochs_done} epochs)"


def _recon_name(run: Run) -> str:
    return {"sse": "squared error", "bce": "Bernoulli NLL"}[run.config.train.loss]


def _first_of_each_class(labels: torch.Tensor, n_classes: int) -> list[int]:
    return [int((labels == c).nonzero()[0]) for c in range(n_classes) if (labels == c).any()]


@torch.inference_mode()
def _reconstructions(model: Autoencoder, data: ImageData, name: str) -> Figure:
    index = _first_of_each_class(data.test_labels, len(data.classes))
    x = to_unit(data.test_images[index])  # (K, C, H, W)
    recon = model.reconstruct(x)
    return plots.image_rows(
        [("test image", x[:, 0].cpu().numpy()), ("reconstruction", recon[:, 0].cpu().numpy())],
        column_labels=[data.classes[int(data.test_labels[i])] for i in index],
        title=f"{name}: test images and their reconstructions")


def _interpolation_pair(points: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """The first test images of the two classes whose mean codes lie farthest apart: the
    straight line between them crosses much of the latent region."""
    classes = np.unique(labels)
    centres = np.stack([points[labels == c].mean(axis=0) for c in classes])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    a, b = np.unravel_index(dist.argmax(), dist.shape)
    first = [int(np.flatnonzero(labels == classes[k])[0]) for k in (a, b)]
    return first[0], first[1]


def _interpolation(model: Autoencoder, data: ImageData, seen: LatentPicture, name: str
                   ) -> tuple[Figure, np.ndarray]:
    i, j = _interpolation_pair(seen.points, seen.labels)
    codes = encode_dataset(model, data.test_images[[i, j]])  # (2, d)
    frames = decode_all(model, interpolate(codes[0], codes[1], FRAMES))[:, 0].cpu().numpy()
    there = decode_all(model, interpolate(codes[0], codes[1], GIF_FRAMES))[:, 0].cpu().numpy()
    ends = to_unit(data.test_images[[i, j]])[:, 0].cpu().numpy()
    a, b = (data.classes[int(data.test_labels[k])] for k in (i, j))
    strip = plots.interpolation_strip(
        frames, ends[0], ends[1], start_label=f"input {a}", end_label=f"input {b}",
        title=f"{name}: decoding the straight line between the codes of a {a} and a {b}")
    return strip, np.concatenate([there, there[-2:0:-1]])
