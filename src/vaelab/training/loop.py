"""Training, as the API offers it: train one run or several side by side, resume one. The
epoch is in ``epoch``, the runs being fitted and their checkpoints in ``jobs``.

Every checkpoint holds the run's random generator with the weights and Adam's state, and
where an unfinished epoch stands, so a resumed run continues the exact random stream of an
uninterrupted one: on the CPU with as many threads, its weights come out bitwise equal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from vaelab.config import RunConfig
from vaelab.data import ImageData
from vaelab.device import select_device
from vaelab.distributed import World, join, local_device, lost_peer
from vaelab.errors import VaelabError, named
from vaelab.files import as_path, remove_left_behind, write_atomic
from vaelab.training.checkpoints import instead_of_resuming, load_checkpoint, weights_file
from vaelab.training.checks import (
    check_fits,
    check_labels,
    note_few_steps,
    note_no_likelihood,
    note_precision,
    note_unused,
)
from vaelab.training.datasets import check_subset, data_key, learned_from, load_for, recorded
from vaelab.training.epoch import train_epoch
from vaelab.training.folders import check_new_run_dirs, check_writable, new_run_dir
from vaelab.training.jobs import Job, fit_all, initial_state
from vaelab.training.layout import check_run_folder
from vaelab.training.placement import place
from vaelab.training.runs import CHECKPOINT, CONFIG, METRICS, WEIGHTS, Run, load_run, metrics_file
from vaelab.training.schedules import say_if_the_rate_jumps
from vaelab.training.stopping import Cadence, before_any_step, peer_lost, start_again, told

log = logging.getLogger("vaelab")

CHECKPOINT_EVERY = "10m"  # inside an epoch: a large folder's epoch is not lost

__all__ = ["check_fits", "resume", "train", "train_all", "train_epoch"]


def train(config: RunConfig | None = None, out: str | Path | None = None, *,
          device: str | torch.device = "auto", data_dir: str | Path | None = None,
          data: ImageData | None = None, progress: bool = True,
          checkpoint_every: str | None = CHECKPOINT_EVERY, compile: bool = False) -> Run:
    """Train a model from scratch into a new run folder and return the finished run.

    ``out`` must be new or empty (default: runs/<model>-<dataset>, numbered if taken). ``data``
    skips loading when the dataset is already in memory. A checkpoint is written after every
    epoch and inside epochs every ``checkpoint_every``: 'N' steps, 'Nm' minutes or 'epoch'
    (none inside). Draw the run's figures with ``vaelab.plot_run(run)``. ``compile`` compiles
    each step with torch.compile (a GPU's gain, after a minute). The run's config is ``config``
    with what it learnt of its images filled in (image_shape, classes, fingerprint, and a
    folder's path made absolute), as ``run.config.changes(config)`` lists.

    Started by torchrun as one of several processes, it trains the run with them
    (``vaelab.distributed``): each takes its rows of every batch, and rank 0 writes the folder.
    """
    return train_all([config or RunConfig()], [out], device=device, data_dir=data_dir,
                     data=data, progress=progress, checkpoint_every=checkpoint_every,
                     compile=compile)[0]


def train_all(configs: Sequence[RunConfig] | RunConfig,
              outs: Sequence[str | Path | None] | str | Path | None = None, *,
              device: str | torch.device = "auto", data_dir: str | Path | None = None,
              data: ImageData | None = None, progress: bool = True,
              checkpoint_every: str | None = CHECKPOINT_EVERY, compile: bool = False,
              then: Callable[[Run], object] | None = None,
              ready: Callable[[], object] | None = None) -> list[Run]:
    """Train several runs on one dataset at the same time, each in a thread of its own, and
    hand each to ``then`` (if given) as soon as it is trained, in the thread that trained it,
    while the others may still train (a run that a signal or a failure stopped is not
    handed over). An exception from ``then`` stops the other runs as a failure of training
    would. ``ready`` is called once every setting has been checked against the data, before
    any run's folder is made. A Ctrl-C or SIGTERM stops every run after its step, with a
    checkpoint, and raises ``Interrupted`` (a KeyboardInterrupt), after the last step too; its
    lines name vaelab train --resume RUN, which goes on with each.

    Models of the tutorial's size keep one CPU core busy but gain little from a second, so on
    the CPU the cores are shared out between the runs instead of between the threads of each
    matrix product: two runs on two cores finish about a quarter sooner than one after the
    other. Each run keeps its share to its last step, so that its weights do not depend on
    when the others end. On a GPU, or in several processes, the runs take turns.
    """
    jobs, full = new_jobs(configs, outs, device=device, data_dir=data_dir, data=data,
                          progress=progress, checkpoint_every=checkpoint_every,
                          compile=compile, ready=ready)
    return fit_all(jobs, full, progress, then)


def new_jobs(configs: Sequence[RunConfig], outs: Sequence[str | Path | None] | None = None, *,
             device: str | torch.device = "auto", data_dir: str | Path | None = None,
             data: ImageData | None = None, progress: bool = True,
             checkpoint_every: str | None = CHECKPOINT_EVERY, compile: bool = False,
             ready: Callable[[], object] | None = None) -> tuple[list[Job], ImageData]:
    """The runs that ``train_all`` trains, each in its new folder, and their images on the
    device, ready for ``fit_all``; a stop's lines name the commands ``told_as`` says."""
    go_on, flags = told(data_dir)
    if isinstance(configs, RunConfig):  # one run, as train trains it
        configs, outs = [configs], [outs] if isinstance(outs, (str, Path)) else outs
    configs = list(configs)
    if not configs or isinstance(outs, (str, Path)):  # a folder's text is no list of them
        raise VaelabError("train_all takes a list of configs and a list of as many folders")
    for config in configs:
        if not isinstance(config, RunConfig):
            raise VaelabError(f"train takes a RunConfig, got {type(config).__name__}; a saved "
                              f"run's settings are RunConfig.load('RUN/config.json')")
    outs = [None if out is None else as_path(out, "train takes each run's new folder")
            for out in outs] if outs is not None else [None] * len(configs)
    if len(outs) != len(configs):
        raise VaelabError(f"{len(configs)} configs but {len(outs)} output folders")
    given = [out.resolve() for out in outs if out is not None]
    if len(set(given)) < len(given):
        raise VaelabError("two runs cannot share an output folder")
    if len({data_key(config) for config in configs}) > 1:
        raise VaelabError("train_all trains on one dataset: give every run the same " + named(
            "--dataset, --image-size, --test-fraction and --split-seed",
            "dataset, image_size, test_fraction and split_seed"))
    for config in configs:
        check_fits(config)
        note_unused(config)
    cadence = Cadence.parse(checkpoint_every)
    device, world = _device_and_world(device)
    progress = progress and world.main
    world.from_main(lambda: check_new_run_dirs(configs, outs))
    full = world.main_first(lambda: load_for(configs[0], data_dir, progress=progress, data=data,
                                             check=False))
    configs = [recorded(config, full) for config in configs]
    for config in configs:
        check_subset(config, full)
        check_labels(config, full)
    full = place(full, device)
    # Every model is built before any folder is made: one that does not fit the images (too
    # many convolutions for their size) leaves no folder behind.
    states = [initial_state(config, device, full) for config in configs]
    if ready is not None and world.main:
        ready()
    jobs: list[Job] = []
    made: list[Path] = []
    try:
        for config, out, state in zip(configs, outs, states, strict=True):
            run_dir = _new_run_everywhere(world, out, config, flags, made)
            jobs.append(Job(run_dir, config, *state, cadence=cadence, world=world,
                            compile=compile, go_on_with=go_on, flags=flags))
    except KeyboardInterrupt as err:  # the folders made so far hold their settings alone
        raise before_any_step([(d, "" if go_on else start_again(d, data=configs[0].data,
                                                                flags=flags)) for d in made],
                              err) from None
    if world.main:  # each note once for the runs it is true of, in a script under torchrun too
        for (*_, images), train in {(c.train.batch_size, c.train.epochs, c.data.train_subset or
                                     len(full.train_images)): c.train for c in configs}.items():
            note_few_steps(train, images)
        for train in {c.train.precision: c.train for c in configs}.values():
            note_precision(train, device)
    alike = {(job.config.model.likelihood, job.config.data.binarize): job for job in jobs}
    for job in alike.values() if world.main else ():  # once for runs alike
        note_no_likelihood(job.model, job.config)
    return jobs, full


def resume(path: Run | str | Path, epochs: int | None = None, *,
           device: str | torch.device | None = None, data_dir: str | Path | None = None,
           data: ImageData | None = None, progress: bool = True,
           checkpoint_every: str | None = CHECKPOINT_EVERY, compile: bool = False) -> Run:
    """Continue a run from its last checkpoint (the end of an epoch, or a step inside one) up
    to ``epochs`` in all (default: its own setting), on ``device`` (default: the kind of device
    it was trained on, if this machine has one).

    On the same kind of device, and on the CPU with as many threads, the weights come out
    bitwise equal to those of a run that was never interrupted.
    """
    job, full = resumed_job(path, epochs, device=device, data_dir=data_dir, data=data,
                            progress=progress, checkpoint_every=checkpoint_every,
                            compile=compile)
    return fit_all([job], full, progress)[0]


def resumed_job(path: Run | str | Path, epochs: int | None = None, *,
                device: str | torch.device | None = None, data_dir: str | Path | None = None,
                data: ImageData | None = None, progress: bool = True,
                checkpoint_every: str | None = CHECKPOINT_EVERY, compile: bool = False
                ) -> tuple[Job, ImageData]:
    """The run that ``resume`` continues, restored from its checkpoint, and its images on the
    device, ready for ``fit_all``."""
    cadence, (go_on, flags) = Cadence.parse(checkpoint_every), told(data_dir)
    path = as_path(path.folder if isinstance(path, Run) else path, "resume takes a run's folder")
    saved = config = RunConfig.load(check_run_folder(path) / CONFIG, whole=True)
    if epochs is not None:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs))
    checkpoint = path / CHECKPOINT
    device, world = _device_and_world(device or _trained_on(checkpoint))
    progress = progress and world.main
    job = Job(path, config, *initial_state(config, device), cadence=cadence, world=world,
              compile=compile, go_on_with=go_on, flags=flags)
    restored = load_checkpoint(checkpoint, job.model, job.optimizer, job.generator, job.anew)
    world.from_main(lambda: check_writable(path))  # said by rank 0, raised everywhere
    job.metrics, job.unfinished = restored.metrics, restored.unfinished
    job.mark_saved()
    if restored.scaler is not None and job.step.scaler is not None:
        job.step.scaler.load_state_dict(restored.scaler)
    if job.unfinished is not None and job.unfinished.epoch != restored.epoch + 1:
        job.unfinished = None  # begun again from its start
    if restored.rng_device != device.type:
        job.generator.manual_seed(config.train.seed * 1_000_003 + restored.epoch)
        log.warning("%s was trained on %s and goes on on %s: its random numbers differ from "
                    "here on, so it will not match an uninterrupted run bit for bit",
                    path, restored.rng_device, device.type)
    if job.unfinished is not None:
        job.unfinished.order = job.unfinished.order.to(device)
        job.unfinished.totals = job.unfinished.totals.to(device)
    if restored.epoch > config.train.epochs:
        raise VaelabError(f"{path} has already trained {restored.epoch} epochs; ask for more "
                          f"({named('--epochs N', 'epochs=N')} with N > {restored.epoch}, the "
                          f"total to reach)")
    if restored.epoch == config.train.epochs:
        rewritten = _write_again(path, job, restored.metrics) if world.main else []
        log.warning("%s already has %d epoch%s; nothing to train%s (%s goes further)",
                    path, restored.epoch, "s" * (restored.epoch != 1),
                    f", and {' and '.join(rewritten)} written again from its checkpoint"
                    if rewritten else "", named("--epochs N", "epochs=N"))
        if job.unfinished is not None:  # the checkpoint is inside the next epoch: the run
            _finished_weights(path, job)  # is its last finished epoch's weights, as saved
    say_if_the_rate_jumps(path, saved.train, config.train, restored.epoch)
    full = world.main_first(lambda: load_for(config, data_dir, progress=progress, data=data))
    check_subset(config, full)
    n = len(learned_from(config, full)[0])
    if job.unfinished is not None and not job.unfinished.fits(n, config.train.batch_size):
        raise VaelabError(f"{checkpoint}: its unfinished epoch does not fit the run's {n:,} "
                          f"training images (a damaged checkpoint, or images that changed); "
                          f"{instead_of_resuming(job.anew)}")
    if world.main:
        config.save(path / CONFIG)
        remove_left_behind(path, [CHECKPOINT, WEIGHTS, METRICS, CONFIG])  # by a killed write
    return job, place(full, device)


def _finished_weights(path: Path, job: Job) -> None:
    """The job's model given its last finished epoch's weights (model.safetensors), where its
    checkpoint is inside the epoch after it, which is left on disk for a later --epochs N."""
    instead = (f"its checkpoint is inside epoch {job.epoch + 1}, whose weights are not the "
               f"finished epoch's: go on with {named('--epochs ', 'epochs=')}{job.epoch + 1} or "
               f"more")
    try:
        finished = load_run(path, job.model.device)
    except VaelabError:  # missing or damaged: it cannot be written again from the checkpoint
        raise VaelabError(f"{path / WEIGHTS}: missing or unreadable, and {instead}") from None
    if finished.epochs_done != job.epoch:
        raise VaelabError(f"{path / WEIGHTS}: holds epoch {finished.epochs_done}, not the "
                          f"{job.epoch} of its checkpoint; {instead}")
    job.model.load_state_dict(finished.model.state_dict())
    job.unfinished = None


def _write_again(path: Path, job: Job, metrics: list[dict]) -> list[str]:
    """A finished run's model.safetensors and metrics.jsonl, written again from its checkpoint
    (which holds both) where they are not the bytes it would write: missing, damaged, torn,
    changed, or of an earlier epoch (a write that failed). Weights are left as they are when
    the checkpoint is inside a later epoch, whose weights are not the finished epoch's. The
    names of those written."""
    written = []
    for name, expected in ((WEIGHTS, None if job.unfinished is not None
                            else weights_file(job.model, job.epoch)),
                           (METRICS, metrics_file(metrics))):
        try:
            whole = expected is None or (path / name).read_bytes() == expected
        except OSError:
            whole = False
        if not whole:
            write_atomic(path / name, expected)
            written.append(name)
    return written


def _device_and_world(device: str | torch.device) -> tuple[torch.device, World]:
    """The device to train on and the processes training together: one GPU per process."""
    device = select_device(device)
    world = join(device.type)
    device = local_device(device, world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device, world


def _new_run_everywhere(world: World, out: str | Path | None, config: RunConfig,
                        flags: str = "", made: list[Path] | None = None) -> Path:
    """The run's new folder, made by rank 0 and named to every process; rank 0 adds it to
    ``made`` at once (a signal may come before every process has heard its name). A process
    that goes away before it hears the name leaves rank 0 a folder with no checkpoint to name:
    it says how to start the run again, with the command's ``flags``."""
    made = [] if made is None else made
    before = len(made)

    def make() -> str:
        made.append(new_run_dir(out, config))
        config.save(made[-1] / CONFIG)
        return str(made[-1])

    try:
        return Path(world.from_main(make))
    except RuntimeError as err:
        if not (len(made) > before and lost_peer(err)):
            raise
        raise peer_lost(made[-1], start_again(made[-1], flags=flags)) from None


def _trained_on(checkpoint: Path) -> str:
    """The device type that a checkpoint's run was trained on, where this machine has it."""
    try:
        with safe_open(checkpoint, "pt") as f:
            kind = (f.metadata() or {}).get("rng_device", "auto")
        return str(select_device(kind))
    except (SafetensorError, OSError, VaelabError):
        return "auto"  # the checkpoint itself is checked, and named, when it is loaded
