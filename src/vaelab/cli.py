"""The command line: each subcommand is a dataclass whose fields are its flags, mapped onto one
API call. tyro derives --help from the fields' types and docstrings."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from vaelab.config import DatasetName, RunConfig
from vaelab.errors import VaelabError

Flat = tyro.conf.arg(name="")  # a nested config whose flags appear without a prefix


@dataclass(kw_only=True)
class _Where:
    """Options of every command: where to compute, where the data is, how much to say."""

    device: str | None = None
    """cpu, cuda, cuda:N, mps or auto (CUDA, MPS, CPU); when absent, auto or the run's own."""
    data_dir: Path | None = None
    """Folder holding <dataset>/; when absent: $VAELAB_DATA, the user cache, /usr/share/datasets."""
    quiet: bool = False
    """No progress bars."""


@dataclass(kw_only=True)
class Train(_Where):
    """Train an AE or a VAE; writes a run folder with weights, metrics and figures."""

    config: Annotated[RunConfig, Flat] = field(default_factory=RunConfig)
    out: Path | None = None
    """Run folder to create; when absent, runs/<model>-<dataset>, numbered if taken."""
    resume: Path | None = None
    """Continue this run folder from its last finished epoch (with --epochs to go further)."""
    no_plots: bool = False
    """Skip the figures and index.html (draw them later with vaelab plot)."""

    def run(self) -> None:
        from vaelab.figures import plot_run
        from vaelab.trainer import resume, train

        options = dict(data_dir=self.data_dir, progress=not self.quiet)
        if self.resume is not None:
            if self.out is not None:
                raise VaelabError("--resume continues a run in its own folder; drop --out")
            saved = RunConfig.load(self.resume / "config.json")
            changed = [d for d in saved.differences(self.config)
                       if not d.startswith("train.epochs")]
            if changed:
                raise VaelabError(f"--resume keeps the run's settings, only --epochs may change; "
                                  f"these differ: {', '.join(changed)}")
            run = resume(self.resume, self.config.train.epochs, device=self.device, **options)
        else:
            run = train(self.config, self.out, device=self.device or "auto", **options)
        if self.no_plots:
            _say(f"run folder: {run.path}")
        else:
            plot_run(run, **options)
            _say(f"run folder: {run.path}  (open {run.path / 'index.html'})")


@dataclass(kw_only=True)
class Plot(_Where):
    """Draw (again) all figures of a run, and its index.html."""

    run_dir: Annotated[Path, tyro.conf.Positional, tyro.conf.arg(metavar="RUN")]
    """The run folder."""
    out: Path | None = None
    """Folder for the figures; when absent, the run's figures/."""
    format: Literal["png", "pdf", "svg"] = "png"
    """PNG, or PDF or SVG (text and lines as vectors) for print and slides."""

    def run(self) -> None:
        from vaelab.figures import plot_run
        from vaelab.runs import load_run

        run = load_run(self.run_dir, device=self.device or "auto")
        paths = plot_run(run, out_dir=self.out, fmt=self.format, data_dir=self.data_dir,
                         progress=not self.quiet)
        _say(f"{len(paths)} files in {self.out or run.path}")


@dataclass(kw_only=True)
class Demo(_Where):
    """Train the tutorial's AE and VAE, draw every figure and a side-by-side comparison, and
    write an index.html that shows them all."""

    epochs: int = 20
    """Epochs for each model."""
    out: Path | None = None
    """Folder to create; when absent, ./vaelab-demo, numbered if taken."""
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
        _say(f"done in {time.perf_counter() - started:.0f} s; open {page}")


def _say(message: str) -> None:
    print(f"vaelab: {message}", file=sys.stderr)


def _parse(argv: list[str]) -> Train | Plot | Demo:
    config = (tyro.conf.OmitArgPrefixes, tyro.conf.FlagCreatePairsOff)
    command = tyro.cli(_SUBCOMMANDS, args=argv, prog="vaelab", config=config,
                       description="Autoencoders and variational autoencoders on images.")
    if isinstance(command, Train) and command.resume is not None:
        # Parse again with the run's own settings as defaults, so that --resume RUN alone
        # continues the run as it was configured.
        saved = RunConfig.load(command.resume / "config.json")
        command = tyro.cli(Train, args=argv[1:], prog="vaelab train", config=config,
                           default=Train(config=saved))
    return command


_SUBCOMMANDS = (
    Annotated[Train, tyro.conf.subcommand("train")]
    | Annotated[Plot, tyro.conf.subcommand("plot")]
    | Annotated[Demo, tyro.conf.subcommand("demo")]
)


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time, which tests and notebooks replace."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _log_to_stderr(quiet: bool) -> None:
    """vaelab's warnings, and unless ``quiet`` its notes, go to stderr as 'vaelab: ...' lines."""
    log = logging.getLogger("vaelab")
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("vaelab: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vaelab`` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv in (["--version"], ["-V"]):
        from vaelab import __version__

        print(f"vaelab {__version__}")
        return 0
    try:
        command = _parse(argv)
        _log_to_stderr(command.quiet)
        command.run()
    except VaelabError as err:
        print(f"vaelab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaelab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, as in `vaelab train --help | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python flushes it at exit)
        return 0
    except OSError as err:  # a folder that cannot be written, a full disk
        where = f"{err.filename}: " if err.filename else ""
        print(f"vaelab: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        if type(err).__name__ != "OutOfMemoryError":
            raise
        print("vaelab: error: the device ran out of memory; try a smaller --batch-size or "
              "--device cpu", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
