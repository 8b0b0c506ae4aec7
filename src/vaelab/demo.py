"""The demo: the tutorial's AE and VAE trained with its settings (or other models of the family,
side by side), every figure, their measures and one page."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import ImageData, dataset_title, load_dataset
from vaelab.device import select_device
from vaelab.errors import VaelabError, named
from vaelab.files import command_flags, quoted, write_atomic
from vaelab.measuring.classifier import judge_for
from vaelab.measuring.comparing import Comparison
from vaelab.measuring.evaluation import Measuring
from vaelab.measuring.latent import latent_picture
from vaelab.memory import hand_back_free_memory
from vaelab.models import MODELS
from vaelab.pictures.comparison import comparison_figure
from vaelab.pictures.figures import Choice, save_figure, write_run_figures
from vaelab.pictures.interpolation import interpolation_pair
from vaelab.pictures.report import collapse_note, write_report, write_run_page
from vaelab.training.datasets import absolute, load_for
from vaelab.training.folders import DEMO_PLAN, check_new_run_dir, unique_dir
from vaelab.training.jobs import fit_all
from vaelab.training.loop import new_jobs, resumed_job, train_all
from vaelab.training.runs import CHECKPOINT, CONFIG, Run, load_run, read_metrics
from vaelab.training.stopping import go_on, told_as

log = logging.getLogger("vaelab")

BINARIZED = {"none": "", "dynamic": ", images binarized anew for each batch",
             "static": ", images binarized once"}
DEMO_K = 50  # importance samples per image for the demo's NLL; vaelab eval takes 1000
PLAN = DEMO_PLAN  # the demo's runs in order, their settings and its device, for --resume


def run_demo(out: str | Path | None = None, *, epochs: int = 20, seed: int = 0,
             dataset: str = "mnist", image_size: int | None = None,
             device: str | torch.device = "auto",
             data_dir: str | Path | None = None, progress: bool = True,
             models: Sequence[str] = ("ae", "vae"), arch: str = "mlp",
             likelihood: str = "sse", binarize: str = "none", batch_size: int = 128,
             train_subset: int | None = None, data: ImageData | None = None) -> Path:
    """Train the tutorial's AE and VAE (latent 2, batch 128, Adam 1e-3, summed squared error)
    side by side and write both runs, their figures, a comparison and an index.html into one
    folder. They are measured as ``vaelab eval`` does (with k = 50), by the cached classifier
    of samples, which is trained first if there is none. ``models``, ``arch``,
    ``likelihood`` and ``binarize`` put other models of the family side by side in the same
    way (``binarize='dynamic'`` makes a Bernoulli likelihood exact, and so measurable); a
    small folder of one's own wants a smaller ``batch_size``; ``train_subset`` trains on that
    many training images drawn at random, for a quick look (the test set stays whole).

    ``out`` must be new or empty (default: ./vaelab-demo, numbered if taken); ``data`` skips
    loading when the dataset is in memory already. Returns the path of index.html.
    """
    twice = sorted({name for name in models if list(models).count(name) > 1})
    such = named("such as: ae vae", "such as: ('ae', 'vae')")
    if twice:
        raise VaelabError(f"{named('--models', 'models')} names {' and '.join(twice)} twice; "
                          f"the demo trains each model once, side by side ({such})")
    if len(models) < 1:
        raise VaelabError(f"the demo trains one or more {named('--models', 'models')}, {such}")
    configs = [RunConfig(ModelConfig(model=name, arch=arch, likelihood=likelihood),
                         DataConfig(dataset=absolute(dataset), image_size=image_size,
                                    binarize=binarize, train_subset=train_subset),  # a folder's
                         # name holds from anywhere
                         TrainConfig(epochs=epochs, seed=seed, batch_size=batch_size))
               for name in models]
    laps = Laps()
    device = select_device(device)
    if out is not None:
        check_new_run_dir(out, resume=(PLAN, "vaelab demo --resume"))
    data = (data or load_dataset(dataset, data_dir, progress=progress,
                                 image_size=image_size)).to(device)
    laps.lap("data")
    judge = judge_for(data, progress=progress)  # the shipped one, else trained once and cached
    laps.lap("classifier")
    measuring = Measuring(data, judge, progress, training=len(configs), k=DEMO_K)
    plan = {"device": device.type,
            "runs": {name: config.to_dict() for name, config in zip(models, configs, strict=True)}}
    folder = Path(out) if out is not None else unique_dir(Path("vaelab-demo"))
    go_on = _go_on(folder, data_dir, progress)
    with _resumable(folder, go_on, made=out is None):  # the plan follows the settings' checks
        runs = train_all(configs, [folder / name for name in models], device=device,
                         data=data, progress=progress, then=measuring.trained,
                         ready=lambda: _write_plan(folder, plan))
        laps.lap("training")
        return _finish(runs, folder, data, measuring, laps, device)


def finish_demo(folder: str | Path, *, device: str | torch.device | None = None,
                data_dir: str | Path | None = None, progress: bool = True,
                data: ImageData | None = None) -> Path:
    """Finish a demo that was stopped: each of its runs goes on from its checkpoint, or starts
    again where it has none, side by side as the demo began them, on the demo's device unless
    ``device`` names one, and the figures, the measures and the page follow as ``run_demo``
    writes them. A finished demo is left as it is. Returns the path of index.html."""
    folder = Path(folder)
    plan = _read_plan(folder, _flags(data_dir, progress, device))
    paths = [folder / name for name in plan["runs"]]
    if (folder / "index.html").exists() and all(map(_trained, paths)):
        log.info("%s: the demo is finished", folder)
        return folder / "index.html"
    laps, go_on = Laps(), _go_on(folder, data_dir, progress, device)
    try:
        device = select_device(plan["device"] if device is None else device)
    except VaelabError as err:
        raise VaelabError(f"{folder / PLAN}: {err}" if device is None else str(err)) from None
    planned = [RunConfig.from_dict(raw, str(folder / PLAN)) for raw in plan["runs"].values()]
    # moved since: found by their name in --data-dir or $VAELAB_DATA, as a run's images are
    data = load_for(planned[0], data_dir, progress=progress, data=data).to(device)
    laps.lap("data")
    judge = judge_for(data, progress=progress)
    laps.lap("classifier")
    with _resumable(folder, go_on):
        trained = {path: load_run(path, device, data_dir=data_dir) for path in paths
                   if _trained(path)}  # measured at the end, with the last run to train
        measuring = Measuring(data, judge, progress, training=len(paths) - len(trained),
                              k=DEMO_K)
        jobs, placed = [], data
        for path, config in zip(paths, planned, strict=True):
            if path in trained:
                continue
            if (path / CHECKPOINT).exists():
                job, placed = resumed_job(path, device=device, data=data, progress=progress)
            else:
                _clear_unstarted(path, go_on)
                [job], placed = new_jobs([config], [path], device=device, data=data,
                                         progress=progress)
            jobs.append(job)
        # side by side with the share of the threads that they began with, as run_demo
        # trained them: on the CPU their weights are then those of a demo never stopped
        fitted = iter(fit_all(jobs, placed, progress, measuring.trained, among=len(paths))
                      if jobs else [])
        runs = [trained[path] if path in trained else next(fitted) for path in paths]
        laps.lap("training")
        return _finish(runs, folder, data, measuring, laps, device, resumed=len(jobs))


def _write_plan(folder: Path, plan: dict) -> None:
    """demo.json, once every setting has been checked against the data: a demo that stops
    from here on is finished by vaelab demo --resume."""
    log.info("the demo goes into %s", folder)
    write_atomic(folder / PLAN, json.dumps(plan, indent=2) + "\n")


@contextmanager
def _resumable(folder: Path, go_on: str, made: bool = False) -> Iterator[None]:
    """Inside, a Ctrl-C (or a second one, in training) names ``go_on``, the command that
    finishes the demo; a stop before its plan is written leaves no folder behind that it
    ``made``."""
    try:
        with told_as(go_on=go_on):  # one command for every run
            yield
    except BaseException as err:
        if not (folder / PLAN).exists():  # stopped before the first run's folder was made
            with contextlib.suppress(OSError):  # the error that stopped it is the one to say
                if made and not any(folder.iterdir()):
                    folder.rmdir()
        elif isinstance(err, KeyboardInterrupt):
            log.warning("%s: the demo was stopped; finish it with: %s", folder, go_on)
            err.told = True  # type: ignore[attr-defined]  # nothing more to say of it
        raise


def _go_on(folder: Path, data_dir: str | Path | None, progress: bool,
           device: str | torch.device | None = None) -> str:
    """The command that finishes the demo, with ``_flags``."""
    return f"vaelab demo --resume {quoted(folder)}{_flags(data_dir, progress, device)}"


def _flags(data_dir: str | Path | None, progress: bool,
           device: str | torch.device | None = None) -> str:
    """The flags of a command that goes on with the demo: the data's folder, the device (where
    not the plan's) and quiet, as given."""
    return command_flags(("--data-dir", data_dir), ("--device", device), ("-q", not progress))


def _read_plan(folder: Path, flags: str = "") -> dict:
    """The demo.json of a demo's folder, or one line that says what the folder is instead (a
    run's, gone on with by a command with ``flags``)."""
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise VaelabError(f"{folder}: {what}; " + named(
            "--resume names a demo's folder", "vaelab.demo.finish_demo takes a demo's folder"))
    if (folder / CONFIG).exists():
        raise VaelabError(f"{folder} is a run's folder, not a demo's; go on with it with: "
                          f"{go_on(folder, flags=named(flags, ''))}")
    try:
        plan = json.loads((folder / PLAN).read_text())
        if not (isinstance(plan["runs"], dict) and plan["runs"] and plan["device"]):
            raise ValueError("'runs' is not a mapping of models to their settings")
        others = sorted(set(plan["runs"]) - set(MODELS))  # the names are folders: models only
        if others:
            raise ValueError(f"'runs' names what is not a model: {', '.join(others)}")
    except FileNotFoundError:
        raise VaelabError(f"{folder}: not a demo's folder (no {PLAN}, which vaelab demo "
                          f"writes first)") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise VaelabError(f"{folder / PLAN}: unreadable ({err}); run the demo again") from None
    return plan


def _trained(path: Path) -> bool:
    """Whether a demo's run has a checkpoint of all its epochs."""
    if not (path / CHECKPOINT).exists():
        return False
    epochs = RunConfig.load(path / CONFIG, whole=True).train.epochs
    return len(read_metrics(path, quiet=True)) >= epochs


def _clear_unstarted(path: Path, go_on: str) -> None:
    """Empty the folder of a run stopped before its first checkpoint, to start it again: it
    holds its config.json at most, and a checkpoint's temporary that a kill left. Else says
    to move it away and run ``go_on``, the command that finishes the demo, again."""
    if not path.exists():
        return
    left = [item for item in path.iterdir()
            if item.name != CONFIG and not (item.name.startswith(".") and item.suffix == ".tmp")]
    if left:
        raise VaelabError(f"{path} has no checkpoint but holds {left[0].name}; move {path} "
                          f"away and run {go_on} again")
    for item in path.iterdir():
        item.unlink()


def _finish(runs: list[Run], folder: Path, data: ImageData, measuring: Measuring, laps: Laps,
            device: torch.device, resumed: int | None = None) -> Path:
    """The trained runs' figures, the comparison, their measures and the page (of a demo
    finished by --resume, ``resumed`` the runs it trained)."""
    log.info("drawing the figures")
    pictures = [latent_picture(run.model, data) for run in runs]
    choice = Choice()  # every run's interpolation joins the same two classes: side by side,
    if data.labelled:  # the first run's farthest apart, not a pair of each run's own
        ends = interpolation_pair(pictures[0].points, pictures[0].labels)
        choice = Choice(between=tuple(int(pictures[0].labels[end]) for end in ends))
    for run, seen in zip(runs, pictures, strict=True):
        write_run_figures(run, data, seen=seen, choice=choice)
    figure = save_figure(comparison_figure(runs, pictures, data), folder / "comparison.png")
    laps.lap("figures")
    hand_back_free_memory()  # what drawing left in the heap, before measuring
    log.info("measuring them (vaelab eval)")
    evaluation = Comparison(measuring.scorecards(runs))
    for run in runs:  # each with its eval.json's table, which the last run has only now
        write_run_page(run)
    evaluation.save(folder)
    laps.lap("measuring")
    page = _page(runs, folder, figure, evaluation, [run.config for run in runs], laps,
                 device.type, resumed)
    laps.lap("page")
    write_atomic(folder / "timings.json", json.dumps(laps.seconds, indent=2) + "\n")
    return page


class Laps:
    """Seconds spent in each stage, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = self._start = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._clock, 3)
        self._clock = now

    def total(self) -> float:
        return time.perf_counter() - self._start


def _page(runs, folder: Path, figure: Path, evaluation: Comparison, configs, laps: Laps,
          device: str, resumed: int | None = None) -> Path:
    """The demo's index.html: what was trained, how, and the command that does it again."""
    models = [config.model.model for config in configs]
    model, data, train = configs[0].model, configs[0].data, configs[0].train
    epochs, dataset = train.epochs, data.dataset
    tutorial = (tuple(models) == ("ae", "vae") and model.arch == "mlp"
                and model.likelihood == "sse" and data.binarize == "none")
    what = ("The tutorial's two models with its settings" if tutorial else
            ", ".join(config.title() for config in configs)  # titles name any other likelihood
            + (", the squared error" if model.likelihood == "sse" else "")
            + BINARIZED[data.binarize])
    again = "vaelab demo" + command_flags(("--epochs", epochs), ("--seed", train.seed),
                                          ("--dataset", dataset),
                                          ("--image-size", data.image_size))
    if not tutorial:
        again += f" --models {' '.join(models)} --arch {model.arch} --loss {model.likelihood}"
        again += f" --binarize {data.binarize}" if data.binarize != "none" else ""
    again += f" --batch-size {train.batch_size}" if train.batch_size != 128 else ""
    again += command_flags(("--train-subset", data.train_subset))
    made = (f"Stopped, and finished on {device} by vaelab demo --resume in "
            f"{laps.total():.0f} s" if resumed is not None else
            f"Made on {device} in {laps.total():.0f} s")
    return write_report(
        runs, folder / "index.html", top_figure=figure, evaluation=evaluation,
        title=f"{' vs '.join(config.title() for config in configs)} on "
              f"{dataset_title(dataset)}",
        lead=(f"{what}: latent size 2, {epochs} epoch{'s' * (epochs != 1)}"
              + (f" on {data.train_subset:,} training images drawn at random"
                 if data.train_subset else "") + ", batch "
              f"{train.batch_size}, Adam at 1e-3, the reconstruction term summed over pixels "
              f"and batch, seed {train.seed}. {made}: "
              + ", ".join(f"{stage} {laps.seconds[stage]:.0f} s"
                          for stage in ("training", "figures", "measuring"))
              + _how_trained(len(runs), device, resumed) + " (timings.json has every part)."
              + "".join(collapse_note(run, f"The {run.config.title()}'s") for run in runs)),
        commands=[again],
    )


def _how_trained(runs: int, device: str, resumed: int | None) -> str:
    """How the demo's training time was spent, where it trained several runs (of a demo
    finished by --resume, the ``resumed`` left: one trained before the stop is measured at
    the end)."""
    if runs == 1:
        return ""
    how = "side by side" if device == "cpu" else "one after the other"
    if resumed is not None:
        return {0: "; every run had trained before the stop",
                1: "; one run was left to train"}.get(resumed, f"; the runs left trained {how}")
    return f"; the runs trained {how}, and each but the last was measured as it ended"
