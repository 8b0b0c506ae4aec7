"""The run folder: everything a run needs to be rebuilt, resumed and looked at, and no pickle.

    config.json              RunConfig.to_dict()
    model.safetensors        the weights after the last finished epoch
    checkpoint.safetensors   weights, Adam's and the generator's state, the metrics: resume
    metrics.jsonl            one JSON object per finished epoch (a copy, easy to read)
    figures/                 PNGs and the interpolation GIF

Every file is written to a temporary name beside it and renamed into place, so a crash or a
full disk leaves the previous good version, never half a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from vaelab.config import RunConfig
from vaelab.data import get_dataset
from vaelab.device import select_device
from vaelab.errors import VaelabError
from vaelab.files import write_atomic
from vaelab.models import Autoencoder, build_model

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
FIGURES = "figures"
CHECKPOINT_FORMAT = "1"


# ---------------------------------------------------------------------------------------------
# Weights and checkpoints.


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def save_weights(path: Path, model: Autoencoder, epoch: int) -> None:
    blob = save(_cpu(model.state_dict()), metadata={"epoch": str(epoch)})
    write_atomic(path, blob)


def save_checkpoint(path: Path, model: Autoencoder, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, metrics: list[dict[str, Any]]) -> None:
    """One file with all that resuming needs, the metrics so far included, so that its parts
    cannot disagree."""
    state = optimizer.state_dict()
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for index, param_state in state["state"].items():
        for name, value in param_state.items():
            tensors[f"optimizer.{index}.{name}"] = value
    tensors["rng.train"] = generator.get_state()
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "epoch": str(metrics[-1]["epoch"] if metrics else 0),
        "rng_device": generator.device.type,
        "optimizer_param_groups": json.dumps(state["param_groups"]),
        "metrics": json.dumps(metrics),
    }
    write_atomic(path, save(_cpu(tensors), metadata=metadata))


@dataclass(frozen=True)
class Restored:
    """What load_checkpoint found besides the tensors it loaded in place."""

    metrics: list[dict[str, Any]]  # one record per finished epoch
    rng_device: str  # the device type whose generator the saved random state belongs to

    @property
    def epoch(self) -> int:
        return self.metrics[-1]["epoch"] if self.metrics else 0


def load_checkpoint(path: Path, model: Autoencoder, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator) -> Restored:
    """Restore model and optimizer in place, and the generator if the state was saved from
    a generator on the same kind of device (a CPU state does not fit a CUDA generator)."""
    try:
        with safe_open(path, "pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(path)
    except FileNotFoundError:
        raise VaelabError(f"{path}: no checkpoint; the run never finished an epoch") from None
    except (SafetensorError, OSError) as err:
        raise VaelabError(f"{path}: unreadable checkpoint ({err})") from None
    needed = {"format", "rng_device", "optimizer_param_groups", "metrics"}
    if metadata.get("format") != CHECKPOINT_FORMAT or not needed <= metadata.keys():
        raise VaelabError(f"{path}: not a vaelab checkpoint of format {CHECKPOINT_FORMAT}")
    _load_weights(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    how = {k: optimizer.param_groups[0][k] for k in ("fused", "foreach", "capturable")}
    optimizer.load_state_dict(
        {"state": per_param, "param_groups": json.loads(metadata["optimizer_param_groups"])}
    )
    # The hyperparameters are the run's; how to compute the update is this device's business.
    for group in optimizer.param_groups:
        group.update(how)
    restored = Restored(json.loads(metadata["metrics"]), metadata["rng_device"])
    if restored.rng_device == generator.device.type:
        generator.set_state(tensors["rng.train"])
    return restored


def _load_weights(model: Autoencoder, weights: dict[str, torch.Tensor], source: Path) -> None:
    expected = model.state_dict()
    if weights.keys() != expected.keys() or any(
        weights[k].shape != expected[k].shape for k in expected
    ):
        raise VaelabError(f"{source}: the weights do not fit the model in {CONFIG}")
    model.load_state_dict(weights)


# ---------------------------------------------------------------------------------------------
# The run itself.


@dataclass
class Run:
    """A run folder, with its config and its model (the weights of the last finished epoch)."""

    path: Path
    config: RunConfig
    model: Autoencoder
    metrics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        return self.metrics[-1]["epoch"] if self.metrics else 0

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}, model={self.config.model.model!r}, "
                f"epochs_done={self.epochs_done})")


def image_shape_of(config: RunConfig) -> tuple[int, int, int]:
    return get_dataset(config.data.dataset).image_shape


def read_metrics(path: Path) -> list[dict[str, Any]]:
    metrics_path = Path(path) / METRICS
    if not metrics_path.exists():
        return []
    try:
        return [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    except json.JSONDecodeError as err:
        raise VaelabError(f"{metrics_path}: line {err.lineno} is not JSON") from None


def write_metrics(path: Path, metrics: list[dict[str, Any]]) -> None:
    write_atomic(Path(path) / METRICS, "".join(json.dumps(m) + "\n" for m in metrics))


def load_run(path: str | Path, device: str | torch.device = "cpu") -> Run:
    """Rebuild a run's model from its folder alone: config.json and model.safetensors."""
    path = Path(path)
    if not path.is_dir():
        raise VaelabError(f"{path}: no such run folder")
    config = RunConfig.load(path / CONFIG)
    model = build_model(config.model, image_shape_of(config))
    weights_path = path / WEIGHTS
    if not weights_path.exists():
        raise VaelabError(f"{weights_path}: missing; the run has not finished an epoch yet")
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError) as err:
        raise VaelabError(f"{weights_path}: unreadable ({err})") from None
    _load_weights(model, weights, weights_path)
    with safe_open(weights_path, "pt") as f:
        epoch = int((f.metadata() or {}).get("epoch", 0))
    model.to(select_device(device)).eval()
    # A crash between two writes can leave metrics.jsonl an epoch ahead of the weights.
    metrics = [m for m in read_metrics(path) if m["epoch"] <= epoch]
    return Run(path, config, model, metrics)


def check_new_run_dir(out: str | Path) -> None:
    """Refuse a folder that holds anything: a new run never overwrites an old one."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        hint = " or continue it with --resume" if (out / CONFIG).exists() else ""
        raise VaelabError(f"{out} already exists and is not empty; choose another --out{hint}")


def new_run_dir(out: str | Path | None, config: RunConfig, parent: Path = Path("runs")) -> Path:
    """The folder for a new run: ``out`` if it is new or empty, else an error; with no ``out``,
    runs/<model>-<dataset>, numbered -2, -3, ... when taken."""
    if out is not None:
        check_new_run_dir(out)
        Path(out).mkdir(parents=True, exist_ok=True)
        return Path(out)
    return unique_dir(parent / f"{config.model.model}-{config.data.dataset}")


def unique_dir(base: Path) -> Path:
    """Create and return ``base``, or base-2, base-3, ... if it is taken."""
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            n += 1
            candidate = base.with_name(f"{base.name}-{n}")
