"""vaelab: autoencoders and variational autoencoders on images.

    import vaelab
    run = vaelab.train(vaelab.RunConfig())        # the tutorial's VAE on MNIST
    images = run.model.sample(16)                 # (16, 1, 28, 28), pixels in [0, 1]
    same = vaelab.load_run(run.path)              # rebuilt from the folder alone

The names below are imported on first use, so that ``vaelab --help`` answers at once
instead of waiting for PyTorch to load.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from vaelab.progress import NamedLastResort

__version__ = "0.1.0"

_WHERE = {
    "DataConfig": "vaelab.config",
    "ModelConfig": "vaelab.config",
    "RunConfig": "vaelab.config",
    "TrainConfig": "vaelab.config",
    "ConfigError": "vaelab.errors",
    "VaelabError": "vaelab.errors",
    "DATASETS": "vaelab.data",
    "ImageData": "vaelab.data",
    "load_dataset": "vaelab.data",
    "read_idx": "vaelab.data",
    "DiagonalGaussian": "vaelab.distributions",
    "MODELS": "vaelab.models",
    "VAE": "vaelab.models",
    "CVAE": "vaelab.models",
    "Autoencoder": "vaelab.models",
    "build_model": "vaelab.models",
    "Run": "vaelab.training.runs",
    "load_run": "vaelab.training.runs",
    "train": "vaelab.training.loop",
    "train_all": "vaelab.training.loop",
    "resume": "vaelab.training.loop",
    "write_run_figures": "vaelab.pictures.figures",
    "plot_run": "vaelab.pictures.figures",
    "write_samples": "vaelab.pictures.samples",
    "run_demo": "vaelab.demo",
    "Scorecard": "vaelab.measuring.scorecard",
    "Score": "vaelab.measuring.scorecard",
    "Comparison": "vaelab.measuring.comparing",
    "load_scorecard": "vaelab.measuring.saved",
    "evaluate_run": "vaelab.measuring.evaluation",
    "compare_runs": "vaelab.pictures.comparison",
    "export_explorer": "vaelab.pictures.explore",
    "serve_explorer": "vaelab.pictures.explore",
    "flush_denormals": "vaelab.device",
}

__all__ = [  # noqa: RUF022 (grouped as above)
    "__version__",
    "DataConfig", "ModelConfig", "RunConfig", "TrainConfig",
    "ConfigError", "VaelabError",
    "DATASETS", "ImageData", "load_dataset", "read_idx",
    "DiagonalGaussian",
    "MODELS", "VAE", "CVAE", "Autoencoder", "build_model",
    "Run", "load_run",
    "train", "train_all", "resume",
    "plot_run",
    "write_run_figures",
    "write_samples",
    "run_demo",
    "Scorecard", "Score", "Comparison", "load_scorecard", "evaluate_run", "compare_runs",
    "export_explorer", "serve_explorer",
    "flush_denormals",
]


_log = logging.getLogger("vaelab")
if not any(type(handler).__name__ == "NamedLastResort" for handler in _log.handlers):
    _log.addHandler(NamedLastResort())  # once, though the package be reloaded (two would
    # each leave the warnings to the other)


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'vaelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vaelab.data import DATASETS, ImageData, load_dataset, read_idx
    from vaelab.demo import run_demo
    from vaelab.device import flush_denormals
    from vaelab.distributions import DiagonalGaussian
    from vaelab.errors import ConfigError, VaelabError
    from vaelab.measuring.comparing import Comparison
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.measuring.saved import load_scorecard
    from vaelab.measuring.scorecard import Score, Scorecard
    from vaelab.models import CVAE, MODELS, VAE, Autoencoder, build_model
    from vaelab.pictures.comparison import compare_runs
    from vaelab.pictures.explore import export_explorer, serve_explorer
    from vaelab.pictures.figures import plot_run, write_run_figures
    from vaelab.pictures.samples import write_samples
    from vaelab.training.loop import resume, train, train_all
    from vaelab.training.runs import Run, load_run
