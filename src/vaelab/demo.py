"""The demo: the tutorial's AE and VAE trained with its settings, every figure, and a page."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from matplotlib.figure import Figure

from vaelab.config import DataConfig, DatasetName, ModelConfig, RunConfig, TrainConfig
from vaelab.data import ImageData, get_dataset, load_dataset
from vaelab.device import select_device
from vaelab.figures import latent_picture, save_figure
from vaelab.plots import LatentView, comparison
from vaelab.report import write_report
from vaelab.runs import Run, new_run_dir, unique_dir
from vaelab.trainer import train_all


def run_demo(out: str | Path | None = None, *, epochs: int = 20, seed: int = 0,
         dataset: DatasetName = "mnist", device: str | torch.device = "auto",
         data_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Train the tutorial's AE and VAE (latent 2, batch 128, Adam 1e-3, summed squared error)
    and write both runs, a side-by-side comparison and an index.html into one folder.

    ``out`` must be new or empty (default: ./vaelab-demo, numbered if taken). Returns the
    path of index.html.
    """
    started = time.perf_counter()
    device = select_device(device)
    data = load_dataset(dataset, data_dir, progress=progress).to(device)
    config = RunConfig(data=DataConfig(dataset=dataset),
                       train=TrainConfig(epochs=epochs, seed=seed))
    folder = new_run_dir(out, config) if out is not None else unique_dir(Path("vaelab-demo"))
    names = ("ae", "vae")
    runs = train_all([RunConfig(ModelConfig(model=n), config.data, config.train) for n in names],
                     [folder / n for n in names], device=device, data=data, progress=progress)
    figure = folder / "comparison.png"
    save_figure(_comparison(runs, data), figure)
    seconds = time.perf_counter() - started
    return write_report(
        runs, folder / "index.html", top_figure=figure,
        title=f"AE vs VAE on {get_dataset(dataset).title}",
        lead=(f"The tutorial's two models with its settings: latent size 2, {epochs} epochs, "
              f"batch 128, Adam at 1e-3, squared error summed over pixels and batch, seed "
              f"{seed}. Trained on {device.type} in {seconds:.0f} s, figures included."),
        commands=[f"vaelab demo --epochs {epochs} --seed {seed} --dataset {dataset}"],
    )


def _comparison(runs: list[Run], data: ImageData) -> Figure:
    views = []
    for run in runs:
        seen = latent_picture(run.model, data)
        views.append(LatentView(run.config.model.model.upper(), seen.points, seen.labels,
                                seen.manifold, seen.plane.axis_labels()))
    epochs = runs[0].epochs_done
    return comparison(views, data.classes,
                      title=f"Where the codes fall, and what the decoder draws there "
                            f"({get_dataset(data.name).title}, {epochs} epochs)")
