"""Weights and checkpoints as safetensors: the weights alone, and everything that resuming a run
needs (weights, Adam's state, the random generator's state, the metrics so far, and where an
unfinished epoch stands) in one file. Nothing is pickled, and every file is written
atomically: a crash, a kill or a full disk leaves the previous version whole."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save

from vaelab.errors import VaelabError
from vaelab.files import parse_json, why_unreadable, write_atomic
from vaelab.models import Autoencoder
from vaelab.training.epoch import EpochProgress
from vaelab.training.stopping import start_again

WEIGHTS = "model.safetensors"  # a run's weights, written after each epoch beside the checkpoint
CHECKPOINT_FORMAT = "2"  # 2 added the unfinished epoch
READABLE = ("1", "2")


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}


def weights_file(model: Autoencoder, epoch: int) -> bytes:
    """model.safetensors as vaelab writes it after ``epoch``: the same bytes every time."""
    return save(_cpu(model.state_dict()), metadata={"epoch": str(epoch)})


def save_weights(path: Path, model: Autoencoder, epoch: int) -> None:
    write_atomic(path, weights_file(model, epoch))


def save_checkpoint(path: Path, model: Autoencoder, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, metrics: list[dict[str, Any]],
                    unfinished: EpochProgress | None = None,
                    scaler: dict[str, Any] | None = None) -> None:
    """One file with all that resuming needs, the metrics so far, where an unfinished epoch
    stands and fp16's loss scale included, so that its parts cannot disagree."""
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
    if scaler is not None:
        metadata["scaler"] = json.dumps(scaler)
    if unfinished is not None:
        tensors["epoch.order"], tensors["epoch.totals"] = unfinished.order, unfinished.totals
        metadata["unfinished"] = json.dumps({"epoch": unfinished.epoch, "steps": unfinished.steps,
                                             "seconds": unfinished.seconds,
                                             "computed_in": unfinished.computed_in})
    write_atomic(path, save(_cpu(tensors), metadata=metadata))


@dataclass(frozen=True)
class Restored:
    """What load_checkpoint found besides the tensors it loaded in place."""

    metrics: list[dict[str, Any]]  # one record per finished epoch
    rng_device: str  # the device type whose generator the saved random state belongs to
    unfinished: EpochProgress | None = None  # the epoch after them, where it stood
    scaler: dict[str, Any] | None = None  # fp16's gradient scaler, where it stood

    @property
    def epoch(self) -> int:
        return self.metrics[-1]["epoch"] if self.metrics else 0


class Damaged(ValueError):
    """What is wrong with a checkpoint that reads but does not hold what vaelab writes."""


def load_checkpoint(path: Path, model: Autoencoder, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator, again: str = "") -> Restored:
    """Restore model and optimizer in place, and the generator if the state was saved from
    a generator on the same kind of device (a CPU state does not fit a CUDA generator).
    ``again``: the command that starts the run again, for the errors (default: vaelab train
    --config RUN into a new folder)."""
    again = again or start_again(path.parent)
    try:
        with safe_open(path, "pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(path)
    except FileNotFoundError:
        if (path.parent / WEIGHTS).exists():  # written after the first epoch: not a run that
            # stopped before its first checkpoint, but one whose checkpoint went
            raise VaelabError(f"{path}: missing, though the run has trained epochs (its "
                              f"{WEIGHTS} is there): deleted or moved? put it back to resume, "
                              f"or start the run again with {again}") from None
        raise VaelabError(f"{path}: missing: the run stopped before its first checkpoint; "
                          f"start it again with {again}") from None
    except (SafetensorError, OSError) as err:
        raise VaelabError(f"{why_unreadable(path, err)}; {instead_of_resuming(again)}") from None
    needed = {"format", "rng_device", "optimizer_param_groups", "metrics"}
    version = metadata.get("format", "")
    if version.isdigit() and int(version) > int(CHECKPOINT_FORMAT):
        raise VaelabError(f"{path}: written by a newer vaelab (checkpoint format {version}); "
                          f"upgrade vaelab to resume it")
    if version not in READABLE or not needed <= metadata.keys():
        raise VaelabError(f"{path}: not a vaelab checkpoint")
    load_weights(model, {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, path)
    try:
        _load_optimizer(optimizer, tensors, metadata["optimizer_param_groups"])
        restored = Restored(parse_json(metadata["metrics"]), metadata["rng_device"],
                            _unfinished(tensors, metadata),
                            parse_json(metadata["scaler"]) if "scaler" in metadata else None)
        if restored.rng_device == generator.device.type:
            generator.set_state(tensors["rng.train"])
        if not (isinstance(restored.metrics, list) and all(map(is_record, restored.metrics))):
            raise Damaged("its metrics are not epochs' records")
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as err:
        why = str(err) if isinstance(err, Damaged) else type(err).__name__
        raise VaelabError(f"{path}: a damaged checkpoint ({why}); "
                          f"{instead_of_resuming(again)}") from None
    return restored


def instead_of_resuming(again: str) -> str:
    """What to do when a run's checkpoint cannot be resumed from; ``again`` starts it again."""
    return f"resume from a copy of the run, or start it again with {again}"


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                    groups: str) -> None:
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if per_param and (per_param.keys() != set(range(len(params))) or any(
            per_param[i].keys() != {"step", "exp_avg", "exp_avg_sq"}
            or per_param[i]["exp_avg"].shape != p.shape
            or per_param[i]["exp_avg_sq"].shape != p.shape for i, p in enumerate(params))):
        raise Damaged("Adam's state does not fit the model")
    how = {k: optimizer.param_groups[0][k] for k in ("fused", "foreach", "capturable")}
    optimizer.load_state_dict({"state": per_param, "param_groups": parse_json(groups)})
    # The hyperparameters are the run's; how to compute the update is this device's business.
    for group in optimizer.param_groups:
        group.update(how)


def _unfinished(tensors: dict[str, torch.Tensor], metadata: dict[str, str]
                ) -> EpochProgress | None:
    if "unfinished" not in metadata:
        return None
    where = parse_json(metadata["unfinished"])
    parts = where.get("computed_in", [])  # none in a checkpoint of an older vaelab
    parts = tuple(tuple(part) for part in parts) if isinstance(parts, list) and all(
        isinstance(part, list) and len(part) == 2 and all(type(n) is int and n >= 1 for n in part)
        for part in parts) else ()  # not known, as of an older one
    steps = int(where["steps"])
    return EpochProgress(int(where["epoch"]), tensors["epoch.order"], steps,
                         tensors["epoch.totals"], float(where["seconds"]), parts, steps)


def is_record(record: Any) -> bool:
    """Whether ``record`` is an epoch's, as metrics.jsonl keeps them: its number from 1, the
    train and test terms (loss, recon and KL, which is null for a model without one), the
    training's seconds, and the images of each split where it counts them."""
    def number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def terms(part: Any) -> bool:
        return (isinstance(part, dict) and number(part.get("loss")) and number(part.get("recon"))
                and (part.get("kl") is None or number(part["kl"])))

    def counts(part: Any) -> bool:  # the images of each split (an older run's: none)
        return part is None or (isinstance(part, dict) and all(
            type(part.get(split)) is int and part[split] >= 0 for split in ("train", "test")))

    return (isinstance(record, dict) and type(record.get("epoch")) is int
            and record["epoch"] >= 1 and terms(record.get("train")) and terms(record.get("test"))
            and number(record.get("train_seconds")) and counts(record.get("images")))


def load_weights(model: Autoencoder, weights: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``weights`` into ``model``, or say in one line that they do not fit it."""
    weights = _upgrade(weights)
    expected = model.state_dict()
    if weights.keys() != expected.keys() or any(
        weights[k].shape != expected[k].shape for k in expected
    ):
        raise VaelabError(f"{source}: the weights do not fit the model in config.json")
    model.load_state_dict(weights)


def checkpoint_fits(path: Path, model: Autoencoder) -> bool | None:
    """Whether the weights in the checkpoint ``path`` fit ``model``, by their names and shapes
    alone; None where there is no checkpoint to read."""
    try:
        with safe_open(path, "pt") as f:
            shapes = {key[6:]: tuple(f.get_slice(key).get_shape()) for key in f.keys()  # noqa: SIM118
                      if key.startswith("model.")}
    except (SafetensorError, OSError):
        return None
    return _upgrade(shapes) == {key: tuple(w.shape) for key, w in model.state_dict().items()}


def _upgrade(weights: dict[str, Any]) -> dict[str, Any]:
    """Weights saved before nets had a body and a head ('encoder.0.weight', from vaelab's
    config format 1) under today's names ('encoder.head.0.weight')."""
    old = re.compile(r"^(encoder|decoder)\.(\d+)\.")
    return {old.sub(r"\1.head.\2.", key): value for key, value in weights.items()}
