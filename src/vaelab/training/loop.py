"""Training: the loop, the per-epoch record and checkpoint, and resuming. No plotting here.

The training set sits on the device as one uint8 tensor; each epoch draws a permutation from
the run's seeded generator and takes batches as index slices of it. The same generator draws
the VAE's noise, and its state is saved with each checkpoint, so a resumed run continues the
exact random stream of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from vaelab.config import RunConfig, TrainConfig
from vaelab.data import ImageData, load_dataset, prepare, to_unit
from vaelab.device import select_device
from vaelab.errors import ConfigError, VaelabError
from vaelab.models import Autoencoder, model_class
from vaelab.objectives import corrupt, loss_terms, means_per_image, objective_per_image
from vaelab.progress import Bar, progress_bar
from vaelab.training.checkpoints import load_checkpoint, save_checkpoint, save_weights
from vaelab.training.runs import (
    CHECKPOINT,
    CONFIG,
    WEIGHTS,
    Run,
    check_new_run_dir,
    model_for,
    new_run_dir,
    write_metrics,
)
from vaelab.training.schedules import kl_weight, learning_rate

log = logging.getLogger("vaelab")


def train(config: RunConfig | None = None, out: str | Path | None = None, *,
          device: str | torch.device = "auto", data_dir: str | Path | None = None,
          data: ImageData | None = None, progress: bool = True) -> Run:
    """Train a model from scratch into a new run folder and return the finished run.

    ``out`` must be new or empty (default: runs/<model>-<dataset>, numbered if taken).
    ``data`` skips loading when the dataset is already in memory. Draw the run's figures
    with ``vaelab.plot_run(run)``.
    """
    return train_all([config or RunConfig()], [out], device=device, data_dir=data_dir,
                     data=data, progress=progress)[0]


def train_all(configs: Sequence[RunConfig], outs: Sequence[str | Path | None] | None = None, *,
              device: str | torch.device = "auto", data_dir: str | Path | None = None,
              data: ImageData | None = None, progress: bool = True) -> list[Run]:
    """Train several runs on one dataset at the same time, each in a thread of its own.

    Models of the tutorial's size keep one CPU core busy but gain little from a second, so on
    the CPU the cores are shared out between the runs instead of between the threads of each
    matrix product: two runs on two cores finish about a quarter sooner than one after the
    other. On a GPU the runs take turns.
    """
    outs = list(outs) if outs is not None else [None] * len(configs)
    if len(outs) != len(configs):
        raise VaelabError(f"{len(configs)} configs but {len(outs)} output folders")
    named = [Path(out).resolve() for out in outs if out is not None]
    if len(set(named)) < len(named):
        raise VaelabError("two runs cannot share an output folder")
    datasets = {config.data.dataset for config in configs}
    if len(datasets) > 1:
        raise VaelabError(f"train_all trains on one dataset, got {', '.join(sorted(datasets))}")
    for config in configs:
        check_fits(config)
    device = select_device(device)
    full = _load(configs[0], data, data_dir, progress)
    for config in configs:
        _check_subset(config, full)
    for out in outs:  # every folder is checked before any is made
        if out is not None:
            check_new_run_dir(out)
    full = full.to(device)
    jobs = []
    for config, out in zip(configs, outs, strict=True):
        run_dir = new_run_dir(out, config)
        config.save(run_dir / CONFIG)
        jobs.append(_Job(run_dir, config, *_initial_state(config, device)))
    return _fit_all(jobs, full, progress)


def resume(path: str | Path, epochs: int | None = None, *,
           device: str | torch.device | None = None, data_dir: str | Path | None = None,
           data: ImageData | None = None, progress: bool = True) -> Run:
    """Continue a run from its last finished epoch up to ``epochs`` (default: its own setting),
    on ``device`` (default: the kind of device it was trained on, if this machine has one).

    On the same kind of device, and on the CPU with as many threads, the weights come out
    bitwise equal to those of a run that was never interrupted.
    """
    path = Path(path)
    config = RunConfig.load(path / CONFIG)
    if epochs is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs))
    checkpoint = path / CHECKPOINT
    device = select_device(device or _trained_on(checkpoint))
    job = _Job(path, config, *_initial_state(config, device))
    restored = load_checkpoint(checkpoint, job.model, job.optimizer, job.generator)
    job.metrics = restored.metrics
    if restored.rng_device != device.type:
        job.generator.manual_seed(config.train.seed * 1_000_003 + restored.epoch)
        log.warning("%s was trained on %s and goes on on %s: its random numbers differ from "
                    "here on, so it will not match an uninterrupted run bit for bit",
                    path, restored.rng_device, device.type)
    if restored.epoch > config.train.epochs:
        raise VaelabError(f"{path} has already trained {restored.epoch} epochs; ask for more "
                          f"with --epochs N (N > {restored.epoch})")
    if restored.epoch == config.train.epochs:
        log.warning("%s already has %d epochs; nothing to train (--epochs N goes further)",
                    path, restored.epoch)
    full = _load(config, data, data_dir, progress)
    _check_subset(config, full)
    config.save(path / CONFIG)
    return _fit_all([job], full.to(device), progress)[0]


def train_epoch(model: Autoencoder, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                config: TrainConfig, generator: torch.Generator, bar: Bar | None = None,
                stop: threading.Event | None = None, binarize: bool = False,
                labels: torch.Tensor | None = None, epoch: int = 1) -> dict[str, float | None]:
    """One pass over ``images`` (N, C, H, W) uint8 (with their ``labels`` for a conditional
    model) in a random order, epoch ``epoch`` of the run's schedules; the objective's terms
    averaged over the images, as they were while the model learned. ``binarize`` draws each
    batch's pixels as black or white from ``generator`` (dynamic binarization). Raises
    KeyboardInterrupt between two steps once ``stop`` is set."""
    model.train()
    n = len(images)
    order = torch.randperm(n, generator=generator, device=images.device)
    totals = torch.zeros(3, device=images.device)  # (loss, recon, kl), summed over images
    has_kl = model.has_posterior
    for start in range(0, n, config.batch_size):
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        index = order[start:start + config.batch_size]
        x = to_unit(images[index])  # (B, C, H, W) in [0, 1]
        if binarize:
            x = torch.bernoulli(x, generator=generator)
        y = labels[index] if model.conditional else None
        done = start / n
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, epoch, done)
        terms = loss_terms(model, x, config, generator, y, corrupt(x, config.noise, generator))
        loss = terms.objective(kl_weight(config, epoch, done)).sum()  # summed over the batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        kl = terms.kl.detach().sum() if has_kl else totals.new_zeros(())
        totals += torch.stack([terms.loss.detach().sum(), terms.recon.detach().sum(), kl])
        if bar is not None and bar.update(len(x)):  # True when the bar redraws: sync only then
            bar.set_postfix_str(f"loss {totals[0].item() / (start + len(x)):.2f}",
                                refresh=False)
    return means_per_image(totals, n, has_kl)


def check_fits(config: RunConfig) -> None:
    """Refuse, before any work, settings that the model cannot use: asks the model's class
    what it can do."""
    kind = model_class(config.model.model)
    train = config.train
    if not kind.has_posterior and (train.weighs_kl or train.objective == "iwae"):
        raise ConfigError(f"the {config.model.model.upper()} model has no posterior, so no KL "
                          f"term and no IWAE bound: drop --beta, --kl-warmup, --kl and "
                          f"--objective, or choose --model vae")


# ---------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """A run being trained: its folder and config, and the state that the loop moves on."""

    run_dir: Path
    config: RunConfig
    model: Autoencoder
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    metrics: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch

    @property
    def epoch(self) -> int:
        """The last finished epoch."""
        return self.metrics[-1]["epoch"] if self.metrics else 0


def _load(config: RunConfig, data: ImageData | None, data_dir: str | Path | None,
          progress: bool) -> ImageData:
    if data is None:
        return load_dataset(config.data.dataset, data_dir, progress=progress)
    if data.name != config.data.dataset:
        raise VaelabError(
            f"the data given is {data.name}, the config asks for {config.data.dataset}")
    return data


def _check_subset(config: RunConfig, data: ImageData) -> None:
    wanted, have = config.data.train_subset, len(data.train_images)
    if wanted is not None and wanted > have:
        raise VaelabError(f"train_subset is {wanted}, but {data.name} has {have} training "
                          f"images; ask for at most {have}")


def _trained_on(checkpoint: Path) -> str:
    """The device type that a checkpoint's run was trained on, where this machine has it."""
    try:
        with safe_open(checkpoint, "pt") as f:
            kind = (f.metadata() or {}).get("rng_device", "auto")
        return str(select_device(kind))
    except (SafetensorError, OSError, VaelabError):
        return "auto"  # the checkpoint itself is checked, and named, when it is loaded


def _initial_state(config: RunConfig, device: torch.device
                   ) -> tuple[Autoencoder, torch.optim.Optimizer, torch.Generator]:
    """Model, optimizer and generator as they are before the first step. The weights are drawn
    on the CPU from the run's seed, so every device starts from the same ones."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        model = model_for(config)
    model.to(device)
    fused = device.type in ("cpu", "cuda")  # one kernel for the whole update, where supported
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, fused=fused)
    generator = torch.Generator(device).manual_seed(config.train.seed)
    return model, optimizer, generator


def _fit_all(jobs: list[_Job], data: ImageData, progress: bool) -> list[Run]:
    """Train the jobs, side by side on the CPU (one thread each), else one after another."""
    if len(jobs) == 1 or data.train_images.device.type != "cpu":
        return [_fit(job, data, progress) for job in jobs]
    stop = threading.Event()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(max(1, threads_before // len(jobs)))
    try:
        with ThreadPoolExecutor(len(jobs), thread_name_prefix="vaelab-train") as pool:
            futures = [pool.submit(_fit, job, data, progress, i, stop)
                       for i, job in enumerate(jobs)]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            finally:  # a failure or Ctrl-C: the other runs end after their current step
                stop.set()
    finally:
        torch.set_num_threads(threads_before)
    failures = [f.exception() for f in futures if f.exception() is not None]
    if failures:  # the first real failure, not a run that was stopped because of it
        raise next((e for e in failures if not isinstance(e, KeyboardInterrupt)), failures[0])
    return [future.result() for future in futures]


def _fit(job: _Job, data: ImageData, progress: bool, position: int = 0,
         stop: threading.Event | None = None) -> Run:
    """Train a job to its last epoch, saving its state after every epoch."""
    config, name = job.config, job.run_dir.name
    seen = prepare(data, config.data.binarize, config.data.binarize_seed)
    train_images = seen.train_images[:config.data.train_subset]
    total = config.train.epochs
    with progress_bar(len(train_images), unit="img", enabled=progress, summary=False,
                      unit_scale=True, position=position, leave=False, dynamic_ncols=True) as bar:
        try:
            for epoch in range(job.epoch + 1, total + 1):
                bar.reset(len(train_images))
                bar.set_description(f"{name} epoch {epoch}/{total}")
                record = _epoch(job, epoch, seen, bar, stop)
                job.metrics.append(record)
                _save(job)
                if progress:  # above the bars, on their stream
                    bar.write(f"{name} epoch {epoch:>{len(str(total))}}/{total}  "
                              f"loss {record['train']['loss']:7.2f}  "
                              f"test {record['test']['loss']:7.2f}  "
                              f"({record['train_seconds']:.1f} s)", file=sys.stderr)
        except KeyboardInterrupt:
            log.warning("%s: stopped; its %d finished epochs are saved, go on with: "
                        "vaelab train --resume %s", job.run_dir, job.epoch, job.run_dir)
            raise
    return Run(job.run_dir, config, job.model.eval(), job.metrics)


def _epoch(job: _Job, epoch: int, seen: ImageData, bar: Bar,
           stop: threading.Event | None) -> dict[str, Any]:
    """Train one epoch on the images the run learns from, and score its test set; the record
    that metrics.jsonl keeps."""
    train_config, subset = job.config.train, job.config.data.train_subset
    started = time.perf_counter()
    train_terms = train_epoch(job.model, job.optimizer, seen.train_images[:subset],
                              train_config, job.generator, bar, stop,
                              binarize=job.config.data.binarize == "dynamic",
                              labels=seen.train_labels[:subset], epoch=epoch)
    trained = time.perf_counter()
    test_terms = objective_per_image(job.model, seen.test_images, train_config,
                                     seen.test_labels, seed=train_config.seed)
    if not (math.isfinite(train_terms["loss"]) and math.isfinite(test_terms["loss"])):
        raise VaelabError(
            f"{job.run_dir}: training diverged in epoch {epoch} (the loss is "
            f"{train_terms['loss']}); epoch {epoch - 1} is the last one saved. Try a smaller "
            f"--lr than {train_config.lr}")
    return {
        "epoch": epoch,
        "train": train_terms,
        "test": test_terms,
        "train_seconds": round(trained - started, 6),
        "test_seconds": round(time.perf_counter() - trained, 6),
    }


def _save(job: _Job) -> None:
    """The checkpoint first: it alone is what resuming reads, and it holds the metrics too.
    The weights and metrics.jsonl follow as copies that are easy to use."""
    save_checkpoint(job.run_dir / CHECKPOINT, job.model, job.optimizer, job.generator,
                    job.metrics)
    save_weights(job.run_dir / WEIGHTS, job.model, job.epoch)
    write_metrics(job.run_dir, job.metrics)
