"""The commands: each is a dataclass whose fields are its flags, mapped onto one API call.
tyro derives --help from the fields' types and docstrings; ``COMMANDS`` names them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import tyro

from vaelab.cli.options import Common, check_run_folder, flag, say
from vaelab.config import DatasetName, RunConfig
from vaelab.errors import VaelabError

Flat = tyro.conf.arg(name="")  # a nested config whose flags appear without a prefix
RUN = tyro.conf.arg(metavar="RUN")  # a run folder, given by position
OPTIONAL = "(optional)"
Split = Literal["test", "train"]


@dataclass(kw_only=True)
class Train(Common):
    """Train an AE or a VAE; writes a run folder with weights, metrics and figures."""

    in_parallel: ClassVar[bool] = True  # torchrun may start it in several processes

    config: Annotated[RunConfig, Flat] = field(default_factory=RunConfig)
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="runs/<model>-<dataset>, "
                                                              "numbered if taken")] = None
    """Run folder to create (a new or empty folder)."""
    resume: Annotated[Path | None, flag(metavar="RUN", hint=OPTIONAL)] = None
    """Go on training this run from its last finished epoch, up to --epochs in total, not more."""
    settings: Annotated[Path | None, tyro.conf.arg(name="config", metavar="JSON",
                                                   help_behavior_hint=OPTIONAL)] = None
    """A saved run's settings (its folder or config.json) for a new run; other flags override."""
    no_plots: bool = False
    """Skip the figures and index.html (draw them later with vaelab plot)."""
    checkpoint_every: str = "10m"
    """Also write a checkpoint inside epochs: every N steps, Nm minutes, or 'epoch' (never)."""
    compile: bool = False
    """Compile each training step with torch.compile: faster on a GPU after a minute's wait."""

    def saved_config(self) -> RunConfig:
        """The settings of --resume's run, or of --config's file or folder."""
        if self.resume is not None and self.settings is not None:
            raise VaelabError("--resume goes on with a run, --config starts a new one from its "
                              "settings; give one of them")
        if self.resume is not None:
            return RunConfig.load(check_run_folder(self.resume) / "config.json")
        path = self.settings
        if not path.exists():
            raise VaelabError(f"{path}: no such file or folder; --config takes a run folder or "
                              f"its config.json")
        return RunConfig.load(check_run_folder(path) / "config.json" if path.is_dir() else path)

    def run(self) -> None:
        from vaelab.pictures.figures import plot_run
        from vaelab.training.loop import resume, train

        options = dict(data_dir=self.data_dir, progress=not self.quiet)
        every = dict(checkpoint_every=self.checkpoint_every, compile=self.compile)
        if self.resume is not None:
            if self.out is not None:
                raise VaelabError("--resume continues a run in its own folder; drop --out")
            saved = RunConfig.load(self.resume / "config.json")
            changed = [d for d in saved.differences(self.config)
                       if not d.startswith("train.epochs")]
            if changed:
                raise VaelabError(f"--resume keeps the run's settings, only --epochs may change; "
                                  f"these differ: {', '.join(changed)}")
            run = resume(self.resume, self.config.train.epochs, device=self.device, **options,
                         **every)
        else:
            run = train(self.config, self.out, device=self.device or "auto", **options,
                        **every)
        if not _main():  # of several processes (torchrun), rank 0 draws and says
            return
        if self.no_plots:
            say(f"run folder: {run.path}")
        else:
            plot_run(run, **options)
            say(f"run folder: {run.path}  (open {run.path / 'index.html'})")


@dataclass(kw_only=True)
class Plot(Common):
    """Draw (again) all figures of a run, and its index.html."""

    run_dir: Annotated[Path, tyro.conf.Positional, RUN]
    """The run folder."""
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="RUN/figures")] = None
    """Folder to write the figures into."""
    format: Literal["png", "pdf", "svg"] = "png"
    """PNG, or PDF or SVG (text and lines as vectors) for print and slides."""

    def run(self) -> None:
        from vaelab.pictures.figures import plot_run
        from vaelab.training.runs import load_run

        run = load_run(check_run_folder(self.run_dir), device=self.device or "auto")
        paths = plot_run(run, out_dir=self.out, fmt=self.format, data_dir=self.data_dir,
                         progress=not self.quiet)
        say(f"{len(paths)} files in {self.out or run.path}")


@dataclass(kw_only=True)
class Sample(Common):
    """Draw samples from a run's prior into one PNG: of a chosen class (--label) for a
    conditional model, of every class in turn for it without one."""

    run_dir: Annotated[Path, tyro.conf.Positional, RUN]
    """The run folder."""
    n: Annotated[int, flag("-n")] = 64
    """How many samples."""
    label: Annotated[str | None, flag(metavar="LABEL", default="every class in turn")] = None
    """The class to draw, by number or name (a CVAE only)."""
    out: Annotated[Path | None, flag("-o", metavar="FILE", default="RUN/samples.png, or "
                                                               "samples-LABEL.png")] = None
    """PNG file to write."""
    seed: int = 0
    """Seeds the draws from the prior."""

    def run(self) -> None:
        from vaelab.pictures.samples import write_samples
        from vaelab.training.runs import load_run

        run = load_run(check_run_folder(self.run_dir), device=self.device or "auto")
        name = "samples.png" if self.label is None else f"samples-{self.label}.png"
        path = write_samples(run, self.out or run.path / name, self.n, self.label, self.seed)
        say(f"wrote {path}")


@dataclass(kw_only=True)
class Demo(Common):
    """Train the tutorial's AE and VAE, draw every figure and a side-by-side comparison, and
    write an index.html that shows them all."""

    epochs: int = 20
    """Epochs for each model."""
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="./vaelab-demo, numbered if "
                                                              "taken")] = None
    """Folder to create for the two runs, the comparison and the page."""
    seed: int = 0
    """Seeds weights, shuffling and noise."""
    dataset: DatasetName = "mnist"
    """Dataset to train on."""

    def run(self) -> None:
        import time

        from vaelab.config import TrainConfig
        from vaelab.demo import run_demo

        TrainConfig(epochs=self.epochs, seed=self.seed)  # check the numbers before any work
        started = time.perf_counter()
        page = run_demo(self.out, epochs=self.epochs, seed=self.seed, dataset=self.dataset,
                        device=self.device or "auto", data_dir=self.data_dir,
                        progress=not self.quiet)
        say(f"done in {time.perf_counter() - started:.0f} s; open {page}")


@dataclass(kw_only=True)
class Eval(Common):
    """Measure a run on a whole split: -ELBO and its terms, the importance-weighted NLL, active
    units, linear and nearest-neighbour probes, and with the classifier the quality of samples
    and of the manifold grids. Prints a table and writes eval.json into the run folder."""

    in_parallel: ClassVar[bool] = True

    run_dir: Annotated[Path, tyro.conf.Positional, RUN]
    """The run folder."""
    k: Annotated[int | None, flag("-k", metavar="INT", default="1000")] = None
    """Importance samples per image for the NLL (a model with a posterior only)."""
    split: Split = "test"
    """Images to measure on."""
    samples: int = 10
    """Posterior draws per image for the ELBO's reconstruction term."""
    chunk: int = 2048
    """At most this many codes go through the decoder at once: bounds the memory."""
    seed: int = 0
    """Seeds the posterior and prior draws."""

    def run(self) -> None:
        from vaelab.measuring.evaluation import evaluate_run
        from vaelab.measuring.scorecard import eval_file
        from vaelab.pictures.report import write_run_page
        from vaelab.training.runs import load_run

        run = load_run(check_run_folder(self.run_dir), device=self.device or "auto")
        card = evaluate_run(run, k=self.k, split=self.split, samples=self.samples,
                            chunk=self.chunk, seed=self.seed, data_dir=self.data_dir,
                            progress=not self.quiet)
        if not _main():
            return
        print(card.table())
        if (run.path / "index.html").exists() and self.split == "test":
            write_run_page(run)  # the run's page shows the new figures
        say(f"wrote {run.path / eval_file(self.split)}")


@dataclass(kw_only=True)
class Compare(Common):
    """Put the eval metrics of several runs side by side (evaluating those not yet measured,
    with --k, --samples and --split), as a table printed and written as compare.md and
    compare.csv, with a figure of their latent codes and manifolds (compare.png)."""

    runs: Annotated[list[Path], tyro.conf.Positional,
                    tyro.conf.arg(metavar="RUN [RUN ...]", help_behavior_hint="(required)")]
    """Two or more run folders."""
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="./vaelab-compare, numbered "
                                                              "if taken")] = None
    """Folder to create for the table and the figure."""
    k: Annotated[int | None, flag("-k", metavar="INT", default="1000")] = None
    """Importance samples per image for the NLL of runs not yet measured: bounds the cost."""
    samples: int = 10
    """Posterior draws per image for the ELBO's reconstruction term, for runs not yet measured."""
    split: Split = "test"
    """Images to measure on (and whose measures to compare)."""

    def run(self) -> None:
        from vaelab.pictures.comparison import compare_runs

        runs = [check_run_folder(path) for path in self.runs]
        comparison, folder = compare_runs(runs, self.out, data_dir=self.data_dir,
                                          progress=not self.quiet, k=self.k,
                                          samples=self.samples, split=self.split)
        print(comparison.text())
        say(f"compare.md, compare.csv and compare.png in {folder}")


@dataclass(kw_only=True)
class Classifier(Common):
    """The CNN that judges generated images. 'train' fits it to a dataset (about two minutes
    on two CPU cores) and keeps it in the user cache; 'show' says what is there."""

    action: Annotated[Literal["train", "show"], tyro.conf.Positional,
                      tyro.conf.arg(metavar="{train,show}", help_behavior_hint="(required)")]
    """train: fit it to --dataset and keep it in the user cache; show: name it and its accuracy."""
    dataset: DatasetName = "mnist"
    """Dataset to classify."""
    epochs: int = 5
    """Passes over the training set."""
    seed: int = 0
    """Seeds the weights and the shuffling."""
    force: bool = False
    """Train again even if a classifier for the dataset is in the cache."""

    def run(self) -> None:
        from vaelab.config import TrainConfig
        from vaelab.data import load_dataset
        from vaelab.device import select_device
        from vaelab.measuring.classifier import classifier_path, load_judge, train_judge

        device = select_device(self.device or "auto")
        judge = load_judge(self.dataset, device)
        if self.action == "show" or (judge is not None and not self.force):
            if judge is None:
                raise VaelabError(f"no classifier for {self.dataset} in the cache yet; train "
                                  f"it with: vaelab classifier train --dataset {self.dataset}")
            again = "" if self.action == "show" else " (--force trains it again)"
            say(f"{judge.path}: test accuracy {judge.accuracy:.2%}{again}")
            return
        TrainConfig(epochs=self.epochs, seed=self.seed)  # check the numbers before any work
        data = load_dataset(self.dataset, self.data_dir, progress=not self.quiet).to(device)
        judge = train_judge(data, epochs=self.epochs, seed=self.seed, progress=not self.quiet)
        say(f"{classifier_path(self.dataset)}: test accuracy {judge.accuracy:.2%}")


@dataclass(kw_only=True)
class Explore(Common):
    """Explore a run's latent space in the browser: hover to decode, click two places to
    interpolate, draw a digit to encode it; several runs side by side, one pointer driving
    them all. Serves the page on 127.0.0.1 until Ctrl-C, or writes it as one self-contained
    HTML file with --out."""

    run_dirs: Annotated[list[Path], tyro.conf.Positional,
                        tyro.conf.arg(metavar="RUN [RUN ...]", help_behavior_hint="(required)")]
    """The run folder, or several (one pointer drives them all)."""
    port: int = 8765
    """Port on 127.0.0.1 to serve the page from."""
    out: Annotated[Path | None, flag("-o", "--export", metavar="FILE", hint=OPTIONAL)] = None
    """Write the page to this HTML file (it works offline, from file://) instead of serving."""
    open: bool = False
    """Open the page in the default browser, if there is one."""

    def run(self) -> None:
        import webbrowser

        from vaelab.pictures.explore import check_export_path, export_explorer, serve_explorer
        from vaelab.training.runs import load_run

        if not self.run_dirs:
            raise VaelabError("name a run folder to explore (or several)")
        if self.out is not None:
            check_export_path(self.out)  # before the runs and the data are loaded
        runs = [load_run(check_run_folder(folder), device=self.device or "auto")
                for folder in self.run_dirs]
        options = dict(data_dir=self.data_dir, progress=not self.quiet)
        if self.out is not None:
            path = export_explorer(runs, self.out, **options)
            say(f"wrote {path}; it opens from any folder, offline")
            if self.open:
                webbrowser.open(path.resolve().as_uri())
            return

        def ready(url: str) -> None:
            say(f"the explorer is at {url} (Ctrl-C stops it)")
            if self.open and not webbrowser.open(url):
                say("no browser found here; open the address in one")

        try:
            serve_explorer(runs, self.port, on_ready=ready, **options)
        except KeyboardInterrupt:
            say("explorer stopped")


def _main() -> bool:
    """Whether this process writes and prints: the only one, or rank 0 of several."""
    from vaelab.distributed import join

    return join().main


COMMANDS = {"train": Train, "plot": Plot, "sample": Sample, "demo": Demo, "eval": Eval,
            "compare": Compare, "classifier": Classifier, "explore": Explore}
