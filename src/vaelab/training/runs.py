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
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from vaelab.config import DataConfig, RunConfig
from vaelab.device import select_device
from vaelab.errors import VaelabError, named
from vaelab.files import (
    as_path,
    parse_json,
    read_capped,
    why_unreadable,
    write_atomic,
)
from vaelab.memory import physical_memory
from vaelab.models import Autoencoder, build_model
from vaelab.training.checkpoints import WEIGHTS, checkpoint_fits, is_record, load_weights
from vaelab.training.datasets import image_shape_and_classes
from vaelab.training.layout import CONFIG, check_run_folder
from vaelab.training.stopping import data_dir_flags, go_on

log = logging.getLogger("vaelab")

CHECKPOINT = "checkpoint.safetensors"
METRICS = "metrics.jsonl"
MOST_METRICS = 64 << 20  # bytes: 200,000 epochs' records; a larger file is not one
FIGURES = "figures"


@dataclass
class Run:
    """A run folder, with its config and its model (the weights of the last finished epoch),
    the records of its epochs and, where known, the epoch its weights are of."""

    path: Path
    config: RunConfig
    model: Autoencoder
    metrics: list[dict[str, Any]] = field(default_factory=list)
    weights_epoch: int | None = None  # as model.safetensors says it, when loaded from one
    # The path as given and the folder it named then, whole: which the path still names after
    # the working folder changed (a relative path), unless the path was changed since
    given: Path | None = field(default=None, repr=False, compare=False)
    where: Path | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.where is None:
            self.given, self.where = self.path, self.path.absolute()

    @property
    def folder(self) -> Path:
        """The run's folder: its path, or the folder a relative path named when the run was
        made or loaded, where the working folder has changed since."""
        moved = self.path == self.given and self.path.absolute() != self.where
        return self.where if moved else self.path

    @property
    def epochs_done(self) -> int:
        """The epochs its weights (model.safetensors) have trained."""
        if self.weights_epoch is not None:  # metrics.jsonl may have lost some
            return self.weights_epoch
        return self.metrics[-1]["epoch"] if self.metrics else 0

    @property
    def figures_dir(self) -> Path:
        """Where its figures are: RUN/figures."""
        return self.path / FIGURES

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}, model={self.config.model.model!r}, "
                f"epochs_done={self.epochs_done})")


def model_for(config: RunConfig, copies: int = 1, weights: Path | None = None) -> Autoencoder:
    """A fresh model for a run's config, sized for its dataset's images and classes; refused
    in one line where ``copies`` of its float32 weights (4 to train on the CPU: the gradients
    and Adam's two moments) would not fit in this machine's memory, which would fill it until
    the system ended the process, or where a model of over a quarter of it would be made for
    a file of its ``weights`` (the run's) far too small to hold them. Its weights are counted
    on PyTorch's meta device, for free, where a bound of a dense model's does not rule that
    out: a model built there first leaves the heap so that every training step of the real
    one faults in pages anew (38 page faults a step of the tutorial's VAE, against 11)."""
    image_shape, classes = image_shape_and_classes(config)
    have = physical_memory()
    bound = _dense_bound(config, image_shape, classes)
    if have is None or (bound is not None and 4 * copies * bound <= have / 4):
        return build_model(config.model, image_shape, classes)
    with torch.device("meta"):  # bytes of its float32 weights
        size = 4 * sum(p.numel() for p in build_model(config.model, image_shape, classes)
                       .parameters())
    need = copies * size
    if weights is not None and need > have / 4 and size > 2 * (held := weights.stat().st_size):
        raise VaelabError(f"{weights}: holds {held:,} bytes, far too few for the weights of "
                          f"the model that config.json describes ({size:,}): one of the two "
                          f"is not the run's; put config.json back as the run wrote it, or "
                          f"train the run again")
    if need > have:
        kept = ", with what training keeps beside them (gradients, Adam's state)," if copies > 1 \
            else ""
        large = (f"a smaller {named('--image-size', 'image_size')} (the images are "
                 f"{image_shape[-1]} x {image_shape[-2]} pixels), or "
                 if max(image_shape[-2:]) > 64 else "")
        widths = named("--hidden-dims (or --channels)", "hidden_dims (or channels)")
        raise VaelabError(f"the model's weights{kept} take {need / 2**30:.1f} GiB, more than "
                          f"this machine's {have / 2**30:.1f} GiB of memory; give {large}"
                          f"smaller {widths}")
    return build_model(config.model, image_shape, classes)


def _dense_bound(config: RunConfig, image_shape: tuple[int, ...], classes: int) -> int | None:
    """More weights than a dense model of these widths can have (None for other nets): each
    layer's (inputs + 1) x outputs is at most the square of every width summed."""
    m = config.model
    if m.arch != "mlp":
        return None
    pixels, hidden = math.prod(image_shape), sum(m.hidden_dims)
    widths = 3 * pixels + 2 * classes + 2 * hidden + 3 * m.latent_dims + 2 * len(m.hidden_dims)
    return (widths + 2) ** 2


def read_metrics(path: Path, quiet: bool = False) -> list[dict[str, Any]]:
    """The records of metrics.jsonl, one per finished epoch. A last line cut short (the file is
    written whole and renamed into place, but a copy or a full disk may cut it) is left out,
    and said unless ``quiet``; any other damage is an error that names the line."""
    records, cut = _records(Path(path) / METRICS)
    if cut and not quiet:
        _say_cut(Path(path) / METRICS)
    return records


def finished_epochs(path: Path) -> int | None:
    """The last finished epoch that a run's metrics.jsonl records; None where it records
    none, or where its last line is cut or a line is damaged (then it is not known)."""
    try:
        records, cut = _records(Path(path) / METRICS)
    except VaelabError:
        return None
    return None if cut or not records else records[-1]["epoch"]


def _say_cut(metrics_path: Path) -> None:
    log.warning("%s: its last line is not a whole record (cut short?); left out", metrics_path)


def _records(metrics_path: Path) -> tuple[list[dict[str, Any]], bool]:
    """metrics.jsonl's whole records, and whether a last line cut short was left out."""
    if not metrics_path.exists():
        return [], False
    try:
        text = read_capped(metrics_path, MOST_METRICS).decode("utf-8", errors="replace")
    except OSError as err:
        raise VaelabError(f"{metrics_path}: unreadable ({err.strerror})") from None
    except ValueError as err:
        raise VaelabError(f"{metrics_path}: {err}; it is not a run's metrics.jsonl") from None
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = parse_json(line)
        except ValueError:
            if number == len(lines):
                return records, True
            raise VaelabError(f"{metrics_path}: line {number} is not JSON") from None
        if not is_record(record):
            raise VaelabError(f"{metrics_path}: line {number} is not an epoch's record")
        records.append(record)
    return records, False


def metrics_file(metrics: list[dict[str, Any]]) -> bytes:
    """metrics.jsonl as vaelab writes it: one epoch's record a line."""
    return "".join(json.dumps(m) + "\n" for m in metrics).encode()


def write_metrics(path: Path, metrics: list[dict[str, Any]]) -> None:
    write_atomic(Path(path) / METRICS, metrics_file(metrics))


def _resumed(path: Path, data: DataConfig, data_dir: str | Path | None) -> str:
    """The command (from Python, the call) that goes on with the run at ``path`` of ``data``,
    its data in ``data_dir`` if given."""
    return go_on(path, data=data, flags=data_dir_flags(data_dir))


def _again(path: Path, what: str, data: DataConfig, data_dir: str | Path | None) -> str:
    """How a run's weights or metrics.jsonl, damaged, are written again: from its checkpoint,
    which holds both, where it is of a finished epoch (with the run's data in ``data_dir``,
    if given)."""
    try:
        with safe_open(path / CHECKPOINT, "pt") as f:
            finished = parse_json((f.metadata() or {}).get("metrics", "[]"))
    except FileNotFoundError:
        return ""
    except (SafetensorError, OSError, ValueError):
        return "; the run's checkpoint cannot be read either, so train the run again"
    if not finished:
        return ""
    return f"; {_resumed(path, data, data_dir)} writes {what} again from the run's checkpoint"


def load_run(path: str | Path | Run, device: str | torch.device = "cpu", *,
             data_dir: str | Path | None = None) -> Run:
    """Rebuild a run's model from its folder alone: config.json and model.safetensors (a Run
    given is loaded again from its folder). ``data_dir``, where the run's dataset is if not
    where vaelab looks by default, is named in the command that writes a damaged file of the
    run again."""
    path = as_path(path.folder if isinstance(path, Run) else path, "load_run takes a run's folder")
    config = RunConfig.load(check_run_folder(path) / CONFIG, whole=True)
    weights_path = path / WEIGHTS

    def again(what: str) -> str:
        return _again(path, what, config.data, data_dir)

    if not weights_path.exists():
        stopped = (f"; {_resumed(path, config.data, data_dir)} goes on with it"
                   if (path / CHECKPOINT).is_file() else "")
        raise VaelabError(f"{weights_path}: missing" + (
            again("it") or f"; the run has no finished epoch (it is still in its first, or it "
                           f"stopped there){stopped}"))
    with torch.random.fork_rng(devices=[]):  # the first weights, replaced: the caller's
        model = model_for(config, weights=weights_path)  # go on as if not loaded
    try:
        weights = load_file(weights_path)
        load_weights(model, weights, weights_path)
    except (SafetensorError, OSError) as err:
        raise VaelabError(why_unreadable(weights_path, err) + again("it")) from None
    except VaelabError as err:  # weights of another model, a header changed, or the config
        if checkpoint_fits(path / CHECKPOINT, model) is False:
            raise VaelabError(f"{err}, nor do its checkpoint's: config.json is not the one the "
                              f"run wrote; put that back, or train the run again") from None
        raise VaelabError(f"{err}{again('it')}") from None
    if not all(w.isfinite().all() for w in weights.values() if w.is_floating_point()):
        raise VaelabError(f"{weights_path}: holds weights that are not finite numbers (NaN or "
                          f"inf), which vaelab never saves, so the file was changed or "
                          f"damaged" + (again("it") or "; train the run again"))
    with safe_open(weights_path, "pt") as f:
        epoch = (f.metadata() or {}).get("epoch", "0")
    if not epoch.isdigit():
        raise VaelabError(f"{weights_path}: its epoch {epoch!r} is not a number; the file is "
                          f"damaged")
    epoch = int(epoch)
    model.to(select_device(device)).eval()
    try:  # the loss curves' alone: a damaged file leaves the rest of the run usable
        metrics, cut = _records(path / METRICS)
    except VaelabError as err:
        log.warning("%s; the loss curves are left out%s", err, again(METRICS))
        return Run(path, config, model, [], epoch)
    # A crash between two writes can leave metrics.jsonl an epoch ahead of the weights.
    metrics = [m for m in metrics if m["epoch"] <= epoch]
    if cut and len(metrics) >= epoch:  # beyond the weights' epoch: the run's record is whole
        _say_cut(path / METRICS)
    if len(metrics) < epoch:  # emptied, cut or removed: not the run's whole record
        held = (f"holds {len(metrics)} of the run's {epoch} epochs"
                + (" (its last line is cut short)" if cut else "")
                if (path / METRICS).exists() else "is missing")
        log.warning("%s %s; the loss curves are left out%s", path / METRICS, held,
                    again(METRICS))
        metrics = []
    return Run(path, config, model, metrics, epoch)


def opened(run: Run | str | Path, device: str | torch.device = "cpu", *,
           data_dir: str | Path | None = None, writes: str = "") -> Run:
    """A Run as given (its folder named whole, where a relative path would now name another:
    the working folder changed), or the run in a folder, loaded. Where the work writes into
    the run's folder (``writes``: the argument that does it without that), a Run whose folder
    is gone is refused: writing would make a stray one."""
    if not isinstance(run, Run):
        return load_run(run, device, data_dir=data_dir)
    if run.folder != run.path:
        run = replace(run, path=run.folder, given=None, where=None)
    if writes and not (run.path / CONFIG).is_file():
        raise VaelabError(f"{run.path}: the run is no longer there (no {CONFIG}), so nothing "
                          f"is written into its folder; load_run it again from where it is "
                          f"now, or give {writes}")
    return run



def check_each_once(runs: Sequence[Run], then: str) -> None:
    """Refuse one run given twice (by any path to its folder); ``then`` says what to do."""
    folders = [run.path.resolve() for run in runs]
    twice = next((run.path for run, folder in zip(runs, folders, strict=True)
                  if folders.count(folder) > 1), None)
    if twice is not None:
        raise VaelabError(f"{twice} is given twice; {then}")
