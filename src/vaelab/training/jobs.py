"""Runs being trained: each a ``Job`` (its folder, config, model, optimizer, generator and
metrics), fitted epoch by epoch, alone or side by side, with a checkpoint after every epoch
and, as ``Cadence`` says, inside epochs; stopped cleanly by a signal or by a failure of a run
beside it. No plotting here."""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from vaelab import optimizers
from vaelab.config import RunConfig
from vaelab.data import ImageData, prepare
from vaelab.device import denormals_flushed
from vaelab.distributed import SINGLE, World, lost_peer
from vaelab.errors import VaelabError
from vaelab.memory import hand_back_free_memory
from vaelab.models import Autoencoder
from vaelab.objectives import objective_per_image
from vaelab.progress import loss_text, progress_bar, restart
from vaelab.training.checkpoints import save_checkpoint, save_weights
from vaelab.training.checks import computed_in, note_other_threads, say_if_collapsed
from vaelab.training.datasets import learned_from, training_mean
from vaelab.training.epoch import Diverged, EpochProgress, Stopped, train_epoch
from vaelab.training.placement import Cores
from vaelab.training.runs import CHECKPOINT, WEIGHTS, Run, model_for, write_metrics
from vaelab.training.step import Step
from vaelab.training.stopping import (
    Cadence,
    Interrupted,
    diverged,
    go_on,
    peer_lost,
    start_again,
    stop_on_signals,
    stopped_after_step,
    stopped_at_once,
    where,
)

log = logging.getLogger("vaelab")


@dataclass
class Job:
    """A run being trained: its folder and config, and the state that the loop moves on."""

    run_dir: Path
    config: RunConfig
    model: Autoencoder
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    metrics: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch
    unfinished: EpochProgress | None = None  # where the epoch after them stands, if begun
    cadence: Cadence = field(default_factory=Cadence)
    saved_at: float = field(default_factory=time.monotonic)
    on_disk: str = ""  # where the last checkpoint written stands ('after epoch 3'); "": none
    world: World = SINGLE  # the processes that train it together
    compile: bool = False  # torch.compile the step
    cores: Cores = field(default_factory=Cores)  # the CPU threads shared with runs beside it
    go_on_with: str = ""  # the command that goes on after a stop, if not train --resume RUN
    flags: str = ""  # what the run does not keep, for the commands it names (stopping.told)
    _step: Step | None = None

    @property
    def step(self) -> Step:
        """How a step computes, made once: DDP's wrapper and fp16's scaler live across epochs."""
        if self._step is None:
            self._step = Step(self.model, self.optimizer, self.config.train, self.world,
                              self.compile)
        return self._step

    @property
    def go_on(self) -> str:  # the command that resumes the run
        return self.go_on_with or go_on(self.run_dir, self.world.size, self.config.data, self.flags)

    @property
    def again(self) -> str:  # the command that starts it again, where it has no checkpoint
        return self.go_on_with or self.anew

    @property
    def told(self) -> tuple[str, str]:  # go_on, again as a stop's lines name them: no command
        return ("", "") if self.go_on_with else (self.go_on, self.again)  # where one is for all

    @property
    def anew(self) -> str:  # vaelab train --config RUN -o NEW as it was started (not a demo)
        return start_again(self.run_dir, data=self.config.data, flags=self.flags)

    def diverged_at(self, epoch: int, loss: float) -> VaelabError:  # anew, with new settings
        return diverged(self.run_dir, epoch, loss, self.config.train, self.on_disk, self.anew)

    def mark_saved(self) -> None:  # where the checkpoint just written (or read) stands
        self.on_disk = (where(self.unfinished) if self.unfinished is not None
                        else f"after epoch {self.epoch}")

    @property
    def epoch(self) -> int:  # the last finished epoch
        return self.metrics[-1]["epoch"] if self.metrics else 0


def initial_state(config: RunConfig, device: torch.device, data: ImageData | None = None
                  ) -> tuple[Autoencoder, torch.optim.Optimizer, torch.Generator]:
    """Model, optimizer and generator before the first step. The weights are drawn on the CPU
    from the run's seed, so every device starts from the same ones; with --output-bias
    data-mean the decoder's output bias starts at ``data``'s mean (of a new run)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.train.seed)
        model = model_for(config, 4 if device.type == "cpu" else 1)  # + gradients, Adam's state
    if data is not None and config.train.output_bias == "data-mean":
        model.decoder.start_at(model.likelihood.params_for(training_mean(config, data)))
    model.to(device)
    fused = device.type in ("cpu", "cuda")  # one kernel for the whole update, where supported
    optimizer = optimizers.Adam(model.parameters(), lr=config.train.lr,
                                eps=config.train.adam_eps, fused=fused)
    generator = torch.Generator(device).manual_seed(config.train.seed)
    return model, optimizer, generator


def fit_all(jobs: list[Job], data: ImageData, progress: bool,
            then: Callable[[Run], object] | None = None, among: int = 0) -> list[Run]:
    """Train the jobs, side by side on the CPU (an equal share of its threads each), else one
    after another, handing each finished run to ``then`` at once, in its thread. ``among``:
    the runs the threads were shared between when these began, if more (a demo that --resume
    finishes keeps its share). A first Ctrl-C or SIGTERM stops each run after its step, and
    checkpoints it."""
    stop = threading.Event()
    among = max(among, len(jobs))
    with stop_on_signals(stop) as received:
        try:
            alone = among == 1 or data.train_images.device.type != "cpu" or jobs[0].world.size > 1
            runs = ([_fit_then(then, job, data, progress, stop=stop) for job in jobs] if alone
                    else _side_by_side(jobs, data, progress, stop, then, among))
        except Stopped:
            raise Interrupted(received[0] if received else 2) from None
    heard = jobs[0].world.most(received[0] if received else 0)  # all stop if one heard
    if heard:  # after the last step: trained, but what was to follow is not done
        log.warning("%s: trained and saved; the signal came after its last step",
                    " and ".join(str(run.path) for run in runs))
        raise Interrupted(heard, trained=[run.path for run in runs])
    return runs


def _side_by_side(jobs: list[Job], data: ImageData, progress: bool, stop: threading.Event,
                  then: Callable[[Run], object] | None, among: int) -> list[Run]:
    cores = Cores(threads_before := torch.get_num_threads(), among)
    torch.set_num_threads(cores.share())  # the threads started now start with it
    for job in jobs:
        job.cores = cores
    pool = ThreadPoolExecutor(len(jobs), thread_name_prefix="vaelab-train")
    try:
        futures = [pool.submit(_fit_then, then, job, data, progress, i, stop)
                   for i, job in enumerate(jobs)]
        done: set = set()  # waited for in steps: Windows takes no Ctrl-C in a wait without end
        while len(done) < len(futures) and not any(f.exception() for f in done):
            done = wait(futures, 0.25, FIRST_EXCEPTION).done
        stop.set()  # a failure: the other runs end after their current step
        pool.shutdown()
    except KeyboardInterrupt:  # a second signal: no wait for a run being measured either
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        torch.set_num_threads(threads_before)
        hand_back_free_memory()  # what the training threads' heaps hold, unused, from now on
    failures = [f.exception() for f in futures if f.exception() is not None]
    if failures:  # the first real failure, not a run that was stopped because of it
        raise next((e for e in failures if not isinstance(e, Stopped | KeyboardInterrupt)),
                   failures[0])
    return [future.result() for future in futures]


def _fit_then(then: Callable[[Run], object] | None, job: Job, data: ImageData,
              progress: bool, position: int = 0, stop: threading.Event | None = None) -> Run:
    run = fit(job, data, progress, position, stop)
    if then is not None and not (stop is not None and stop.is_set()):  # not after a stop
        then(run)
    return run


def fit(job: Job, data: ImageData, progress: bool, position: int = 0,
        stop: threading.Event | None = None) -> Run:
    """Train a job to its last epoch, saving its state after every epoch, inside epochs as its
    cadence says, and where it stands when ``stop`` is set."""
    with denormals_flushed():  # Adam's subnormal state costs Intel CPUs dearly (vaelab.device)
        return _fit(job, data, progress, position, stop)


def _fit(job: Job, data: ImageData, progress: bool, position: int,
         stop: threading.Event | None) -> Run:
    config, name = job.config, job.run_dir.name
    progress = progress and job.world.main
    seen = prepare(data, config.data.binarize, config.data.binarize_seed)
    train_images, train_labels = learned_from(config, seen)
    seen = replace(seen, train_images=train_images, train_labels=train_labels)
    total = config.train.epochs
    if job.world.main and job.epoch < total and job.model.device.type == "cpu":
        note_other_threads(job.run_dir, job.metrics, job.world.size, job.unfinished)
    with progress_bar(len(train_images), unit="image", enabled=progress, summary=False,
                      unit_scale=True, position=position, leave=False, dynamic_ncols=True,
                      desc=f"{name} epoch {job.epoch + 1}/{total}") as bar:  # named at once
        try:
            for epoch in range(job.epoch + 1, total + 1):
                restart(bar, len(train_images), f"{name} epoch {epoch}/{total}")
                if job.unfinished is not None:
                    bar.initial = bar.n = job.unfinished.images_done(config.train.batch_size)
                record = _epoch(job, epoch, seen, bar, stop)
                job.metrics.append(record)
                save(job)
                if progress:  # above the bars, on their stream
                    bar.write(f"{name} epoch {epoch:>{len(str(total))}}/{total}  "
                              f"loss {loss_text(record['train']['loss'])}  "
                              f"test {loss_text(record['test']['loss'])}  "
                              f"({record['train_seconds']:.1f} s)", file=sys.stderr)
        except KeyboardInterrupt:  # at once (a second Ctrl-C): the last checkpoint is whole
            stopped_at_once(job.run_dir, job.on_disk, *job.told)
            raise
        except Stopped as stopped:
            job.unfinished = stopped.progress
            try:
                save(job)
            except KeyboardInterrupt:  # a second signal as it is written: the last is whole
                stopped_at_once(job.run_dir, job.on_disk, *job.told)
                raise
            stopped_after_step(job.run_dir, stopped.progress, job.told[0])
            raise
        except RuntimeError as err:
            if job.world.size == 1 or not lost_peer(err):
                raise
            raise peer_lost(job.run_dir, job.again, job.on_disk, job.go_on) from None
    if job.world.main:
        say_if_collapsed(job.run_dir, job.metrics, config.train)
    return Run(job.run_dir, config, job.model.eval(), job.metrics)


def _epoch(job: Job, epoch: int, seen: ImageData, bar: Any,
           stop: threading.Event | None) -> dict[str, Any]:
    """Train one epoch (or the rest of it) on the images the run learns from, and score its
    test set; the record that metrics.jsonl keeps."""
    train_config = job.config.train
    started = time.perf_counter()
    before, parts = ((job.unfinished.seconds, job.unfinished.computed_in)
                     if job.unfinished is not None else (0.0, ()))
    job.cores.take_share()  # the same share for every epoch: once an epoch is enough

    def due(state: EpochProgress) -> bool:  # asked between every two steps
        return job.cadence.due(state.steps, job.saved_at)

    def checkpoint(state: EpochProgress) -> None:
        state.seconds = before + time.perf_counter() - started
        job.unfinished = state
        save(job)

    try:
        train_terms = train_epoch(job.model, job.optimizer, seen.train_images,
                                  train_config, job.generator, bar, stop,
                                  binarize=job.config.data.binarize == "dynamic",
                                  labels=seen.train_labels, epoch=epoch,
                                  progress=job.unfinished, after_step=checkpoint, due=due,
                                  step=job.step)
    except Stopped as stopped:  # its time so far goes into the checkpoint with it
        stopped.progress.seconds = before + time.perf_counter() - started
        raise
    except Diverged as diverged:
        raise job.diverged_at(epoch, diverged.loss) from None
    trained, job.unfinished = time.perf_counter(), None
    test_terms = objective_per_image(job.model, seen.test_images, train_config,
                                     seen.test_labels, seed=train_config.seed, world=job.world)
    if not (math.isfinite(train_terms["loss"]) and math.isfinite(test_terms["loss"])):
        raise job.diverged_at(epoch, train_terms["loss"])
    return {
        "epoch": epoch,
        "train": train_terms,
        "test": test_terms,
        "train_seconds": round(before + trained - started, 6),
        "test_seconds": round(time.perf_counter() - trained, 6),
        "images": {"train": len(seen.train_images), "test": len(seen.test_images)},
        **computed_in(parts, job.world.size, torch.get_num_threads()),
    }


def save(job: Job) -> None:
    """The checkpoint first: it alone is what resuming reads, and it holds the metrics and
    the unfinished epoch too. The weights and metrics.jsonl follow, after a finished epoch, as
    copies that are easy to use. Weights that are not finite numbers are never saved, and a
    write that fails (a full disk) leaves the previous checkpoint whole. Of several
    processes, all add up an unfinished epoch's sums, and rank 0 alone writes."""
    unfinished = job.unfinished and job.unfinished.with_part(job.world.size)
    if unfinished is not None and job.world.size > 1:  # the sums of every process so far
        unfinished = replace(unfinished, totals=job.world.sum(unfinished.totals.clone()))
    if unfinished is not None and not bool(torch.isfinite(unfinished.totals).all()):
        raise job.diverged_at(unfinished.epoch, float("nan"))
    if not all(bool(torch.isfinite(p).all()) for p in job.model.parameters()):
        # a step whose loss was finite can still leave weights that are not (an infinite
        # gradient): the sums lag the weights by one step, so the weights are checked too
        raise job.diverged_at(job.epoch if unfinished is None else unfinished.epoch, float("nan"))
    job.saved_at = time.monotonic()
    try:
        if job.world.main:  # rank 0 writes it, and knows at once where what is on disk stands
            save_checkpoint(job.run_dir / CHECKPOINT, job.model, job.optimizer, job.generator,
                            job.metrics, unfinished, job.step.scaler_state())
            job.mark_saved()
    except OSError as err:
        kept = (f"the previous one ({job.on_disk}) is whole, and {job.go_on} goes on from it"
                if job.on_disk else f"there is none before it: {job.again} starts the run again")
        raise VaelabError(f"{job.run_dir}: could not write the checkpoint "
                          f"({err.strerror or err}); {kept}") from None
    # The others wait for it: one that outlives rank 0 names the checkpoint that is on disk
    job.world.sum(torch.zeros(1))
    job.mark_saved()
    if job.world.main and unfinished is None:
        try:
            # The records first: read between the two writes (a plot of a run still training)
            # or left so by a crash, they are an epoch ahead of the weights, which load_run
            # reads as the run of the weights' epoch; behind, they would read as damage.
            write_metrics(job.run_dir, job.metrics)
            save_weights(job.run_dir / WEIGHTS, job.model, job.epoch)
        except OSError as err:
            raise VaelabError(f"{err.filename or job.run_dir}: could not be written "
                              f"({err.strerror or err}); the checkpoint ({job.on_disk}) is "
                              f"whole, and {job.go_on} writes it again") from None
