"""The demo: the tutorial's AE and VAE trained with its settings, every figure, and a page."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from vaelab.config import DataConfig, DatasetName, ModelConfig, RunConfig, TrainConfig
from vaelab.data import get_dataset, load_dataset
from vaelab.device import select_device
from vaelab.files import write_atomic
from vaelab.measuring.classifier import classifier_path, load_judge, train_judge
from vaelab.measuring.evaluation import evaluate_run
from vaelab.measuring.latent import latent_picture
from vaelab.measuring.scorecard import Comparison
from vaelab.pictures.comparison import comparison_figure
from vaelab.pictures.figures import save_figure, write_run_figures
from vaelab.pictures.report import write_report, write_run_page
from vaelab.training.loop import train_all
from vaelab.training.runs import check_new_run_dir, unique_dir

log = logging.getLogger("vaelab")

DEMO_K = 50  # importance samples per image for the demo's NLL; vaelab eval takes 1000


def run_demo(out: str | Path | None = None, *, epochs: int = 20, seed: int = 0,
             dataset: DatasetName = "mnist", device: str | torch.device = "auto",
             data_dir: str | Path | None = None, progress: bool = True) -> Path:
    """Train the tutorial's AE and VAE (latent 2, batch 128, Adam 1e-3, summed squared error)
    side by side and write both runs, their figures, a comparison and an index.html into one
    folder. Both are measured as ``vaelab eval`` does (with k = 50), by the cached classifier
    of samples, which is trained first if there is none.

    ``out`` must be new or empty (default: ./vaelab-demo, numbered if taken). Returns the
    path of index.html.
    """
    started = time.perf_counter()
    device = select_device(device)
    data = load_dataset(dataset, data_dir, progress=progress).to(device)
    if out is not None:
        check_new_run_dir(out)
    folder = Path(out) if out is not None else unique_dir(Path("vaelab-demo"))
    shared = (DataConfig(dataset=dataset), TrainConfig(epochs=epochs, seed=seed))
    names = ("ae", "vae")
    runs = train_all([RunConfig(ModelConfig(model=name), *shared) for name in names],
                     [folder / name for name in names], device=device, data=data,
                     progress=progress)
    log.info("drawing the figures")
    pictures = [latent_picture(run.model, data) for run in runs]
    for run, seen in zip(runs, pictures, strict=True):
        write_run_figures(run, data, seen=seen)
        write_run_page(run)
    figure = save_figure(comparison_figure(runs, pictures, data), folder / "comparison.png")
    judge = load_judge(dataset, device)
    if judge is None:
        log.info("training the classifier that judges the samples (once: it is kept in %s)",
                 classifier_path(dataset))
        judge = train_judge(data, progress=progress)
    log.info("measuring them (vaelab eval)")
    evaluation = Comparison([evaluate_run(run, data, k=DEMO_K if run.model.has_posterior
                                          else None, judge=judge, progress=progress)
                             for run in runs])
    write_atomic(folder / "compare.md", evaluation.markdown())
    write_atomic(folder / "compare.csv", evaluation.csv())
    seconds = time.perf_counter() - started
    return write_report(
        runs, folder / "index.html", top_figure=figure, evaluation=evaluation,
        title=f"AE vs VAE on {get_dataset(dataset).title}",
        lead=(f"The tutorial's two models with its settings: latent size 2, {epochs} epochs, "
              f"batch 128, Adam at 1e-3, squared error summed over pixels and batch, seed "
              f"{seed}. Trained on {device.type} in {seconds:.0f} s, figures included."),
        commands=[f"vaelab demo --epochs {epochs} --seed {seed} --dataset {dataset}"],
    )
