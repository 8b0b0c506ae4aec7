"""The commands: each is a dataclass whose fields are its flags, mapped onto one API call.
tyro derives --help from the fields' types and docstrings; ``COMMANDS`` names them."""

from __future__ import annotations

import contextlib
import errno
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

import tyro

from vaelab.cli.browse import Explore
from vaelab.cli.demos import Demo
from vaelab.cli.measure import Classifier, Compare, Eval
from vaelab.cli.options import (
    OPTIONAL,
    RUN,
    Common,
    check_run_folder,
    flag,
    in_flags,
    main_process,
    say,
)
from vaelab.config import (
    ModelConfig,
    RunConfig,
)
from vaelab.config.checks import as_typed
from vaelab.errors import VaelabError
from vaelab.files import check_can_make, command_flags, quoted
from vaelab.pictures import DPI

if TYPE_CHECKING:
    from vaelab.training.runs import Run

Flat = tyro.conf.arg(name="")  # a nested config whose flags appear without a prefix


@dataclass(kw_only=True)
class Train(Common):
    """Train a model of the family (AE, VAE, CVAE; beta, IWAE, denoising, conv: the options
    below); writes a run folder with weights, metrics and figures. `torchrun --nproc-per-node
    N -m vaelab train ...` trains one run in N processes."""

    in_parallel: ClassVar[bool] = True  # torchrun may start it in several processes

    config: Annotated[RunConfig, Flat] = field(default_factory=RunConfig)
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="runs/<model>-<dataset>, "
                                                              "numbered if taken")] = None
    """Run folder to create (a new or empty folder)."""
    resume: Annotated[Path | None, flag(metavar="RUN", hint=OPTIONAL)] = None
    """Go on training this run from its last checkpoint (inside an epoch too), up to --epochs in
    total, not more; on the kind of device it was trained on, unless --device says."""
    settings: Annotated[Path | None, tyro.conf.arg(name="config", metavar="RUN|JSON",
                                                   help_behavior_hint=OPTIONAL)] = None
    """A saved run's settings (its folder or config.json) for a new run; other flags override."""
    no_plots: bool = False
    """Skip the figures and index.html (draw them later with vaelab plot)."""
    checkpoint_every: Annotated[str, flag(metavar="N|Ns|Nm|Nh|epoch")] = "10m"
    """Also write a checkpoint inside epochs: every N steps, Ns seconds, Nm (or Nmin) minutes,
    Nh hours, or 'epoch' or 0 (at the ends of epochs only)."""
    compile: bool = False
    """Compile each training step with torch.compile: faster on a GPU, after 15 s to a
    minute of compiling."""

    def saved_config(self) -> RunConfig:
        """The settings of --resume's run, or of --config's file or folder."""
        if self.resume is not None and self.settings is not None:
            raise VaelabError("--resume goes on with a run, --config starts a new one from its "
                              "settings; give one of them")
        if self.resume is not None:
            return RunConfig.load(check_run_folder(self.resume) / "config.json", whole=True)
        path = self.settings
        if not path.exists():
            raise VaelabError(f"{path}: no such file or folder; --config takes a run folder or "
                              f"its config.json")
        if path.is_dir():  # a run's own, as it wrote it; a file of one's own may leave some out
            return RunConfig.load(check_run_folder(path) / "config.json", whole=True)
        return RunConfig.load(path)

    def run(self) -> None:
        from vaelab.pictures.figures import plot_run
        from vaelab.training.stopping import Interrupted

        options = dict(data_dir=self.data_dir, progress=not self.quiet)
        try:
            run = self._trained(options)
        except Interrupted as err:  # its last step done when the signal came: only figures
            for path in err.trained if main_process() and not self.no_plots else ():
                say(f"draw its figures with: {self._plot(path)}")
            raise
        if not main_process():  # of several processes (torchrun), rank 0 draws and says
            return
        if self.no_plots:
            say(f"run folder: {run.path}")
        else:
            try:
                plot_run(run, **options)
            except KeyboardInterrupt as err:  # the run is whole; its figures are not
                say(f"{run.path} is trained; its figures were stopped: draw them with "
                    f"{self._plot(run.path)}")
                err.told = True  # type: ignore[attr-defined]
                raise
            except OSError as err:  # a full disk, say: the same, and --out is no way out
                room = " once there is room" if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
                raise VaelabError(f"{err.filename or run.path}: {err.strerror or err}; "
                                  f"{run.path} is trained: draw its figures with "
                                  f"{self._plot(run.path)}{room}, or elsewhere with its -o DIR"
                                  ) from None
            say(f"run folder: {run.path}  (open {quoted(run.path / 'index.html')})")
        if self.resume is not None:
            _of_a_demo(run.path)

    def _trained(self, options: dict) -> Run:
        """The run trained, or resumed, as the options say."""
        from vaelab.training.datasets import absolute
        from vaelab.training.loop import resume, train
        from vaelab.training.stopping import told_as

        every = dict(checkpoint_every=self.checkpoint_every, compile=self.compile)
        if self.resume is not None:
            if self.out is not None:
                raise VaelabError("--resume continues a run in its own folder; drop --out")
            saved = RunConfig.load(self.resume / "config.json", whole=True)
            changed = [f"{in_flags(key)} {as_typed(old)} -> {as_typed(new)}"
                       for _, key, old, new in saved.changes(self.config) if key != "epochs"
                       and not (key == "dataset" and absolute(old) == absolute(new))]
            if changed:
                raise VaelabError(f"--resume keeps the run's settings, only --epochs may change; "
                                  f"these differ from the run's: {', '.join(changed)}")
            with told_as(flags=self._own_flags()):
                return resume(self.resume, self.config.train.epochs, device=self.device,
                              **options, **every)
        model = self.config.model
        base = self.saved_config().model if self.settings is not None else ModelConfig()
        if model.arch != "conv" and model.channels != base.channels:  # given, not saved
            raise VaelabError(f"--channels sets the widths of a conv net's layers, and this is "
                              f"an {model.arch}; drop --channels or add --arch conv")
        with told_as(flags=self._own_flags()):
            return train(self.config, self.out, device=self.device or "auto", **options,
                         **every)

    def _plot(self, run: Path) -> str:
        """The command that draws a run's figures, on the data this one was given."""
        return f"vaelab plot {quoted(run)}{command_flags(('--data-dir', self.data_dir))}"

    def _own_flags(self) -> str:
        """The flags given that the run does not keep, for the commands that a stop names
        (vaelab train --resume RUN, or --config RUN -o NEW): they go on as this one went."""
        every = self.checkpoint_every  # the class keeps the default
        return command_flags(("--no-plots", self.no_plots), ("--compile", self.compile),
                             ("-q", self.quiet),
                             ("--checkpoint-every", every if every != Train.checkpoint_every
                              else None),
                             ("--device", self.device), ("--data-dir", self.data_dir))


def _of_a_demo(run: Path) -> None:
    """After a demo's run went on alone: say that the demo's page still shows it as it was,
    and which command sets the demo's runs side by side again."""
    from vaelab.training.folders import DEMO_PLAN

    demo = run.resolve().parent
    if not (demo / DEMO_PLAN).is_file() or not (demo / "index.html").is_file():
        return
    try:
        names = list(json.loads((demo / DEMO_PLAN).read_text())["runs"])
    except (OSError, ValueError, KeyError, TypeError):
        names = []
    runs = " ".join(quoted(run.parent / name) for name in names) or f"{quoted(run)} ..."
    say(f"{demo / 'index.html'} still shows {run.name} as the demo left it; vaelab compare "
        f"{runs} sets the demo's runs side by side again")


@dataclass(kw_only=True)
class Plot(Common):
    """Draw (again) a run's figures: all of them as PNGs into the run's figures folder, with
    its index.html; or into a folder of your own given by --out, those that --only names, in
    the --format and at the --dpi asked for."""

    run_dir: Annotated[Path, tyro.conf.Positional, RUN]
    """The run folder."""
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="RUN/figures")] = None
    """Folder to write the figures into."""
    format: Literal["png", "pdf", "svg"] = "png"
    """PNG, or PDF or SVG (text and lines as vectors) for print and slides."""
    label: Annotated[str | None, flag(metavar="LABEL", default="the first class")] = None
    """The class a CVAE's decoder grids are drawn as, by number or name."""
    between: Annotated[tuple[str, str] | None, flag(
        metavar="LABEL LABEL", default="the two classes whose codes lie farthest apart")] = None
    """The two classes whose first test images the interpolation joins, by number or name:
    the same pair in every run's figures."""
    only: Annotated[tuple[str, ...] | None, flag(metavar="NAME [NAME ...]", default="all")] = None
    """Draw only these figures (latent, manifold, reconstructions, denoising, manifold_prior,
    samples, interpolation, loss); it needs --out, a folder of your own."""
    dpi: int = DPI
    """Pixels per inch of a PNG (300 for print: the text stays 10 pt), and of the pictures inside
    a PDF or SVG where above their 300; any but the default needs --out."""

    def run(self) -> None:
        from vaelab.pictures.figures import plot_run

        if self.out is not None:
            check_can_make(self.out, "--out", folder=True)  # as plot_run does, before loading
        run = self.load(self.run_dir, made="figures")
        try:
            paths = plot_run(run, out_dir=self.out, fmt=self.format, data_dir=self.data_dir,
                             progress=not self.quiet, label=self.label, between=self.between,
                             only=self.only, dpi=self.dpi)
        except KeyboardInterrupt as err:  # some figures drawn anew, the others not yet
            again = command_flags(("--out", self.out), ("--data-dir", self.data_dir),
                                  ("--format", None if self.format == "png" else self.format),
                                  ("--label", self.label),
                                  ("--dpi", None if self.dpi == DPI else self.dpi))
            again += " --only " + " ".join(self.only) if self.only else ""
            between = " --between " + " ".join(map(quoted, self.between)) if self.between else ""
            say(f"stopped while drawing the figures in {quoted(self.out or run.figures_dir)}, "
                f"which are not all drawn anew; draw them{'' if self.only else ' all'} again "
                f"with vaelab plot "
                f"{quoted(run.path)}{again}{between}")
            err.told = True  # type: ignore[attr-defined]
            raise
        page = paths.pop("page", None)
        drawn = len(paths) - ("interpolation_gif" in paths)  # the strip and its animation: one
        say(f"{drawn} figure{'s' * (drawn != 1)} in {self.out or run.figures_dir}"
            + (" (the interpolation as a PNG and a GIF)" if "interpolation_gif" in paths else "")
            + (f"; open {quoted(page)}" if page is not None else ""))


@dataclass(kw_only=True)
class Sample(Common):
    """Draw samples from a run's prior into one PNG. A conditional model (CVAE) draws the
    class --label names, or without it every class in turn, one row per class."""

    run_dir: Annotated[Path, tyro.conf.Positional, RUN]
    """The run folder."""
    n: Annotated[int | None, tyro.conf.arg(
        name="number", aliases=("-n",), metavar="INT",
        help_behavior_hint="(default: 64, or 8 of each class when a CVAE draws every class)")
    ] = None
    """How many samples in all (a CVAE drawing every class: a row per class, the last rows
    one shorter where the number is no multiple of the classes; a plain grid for fewer)."""
    label: Annotated[str | None, flag(metavar="LABEL", default="every class in turn, for a "
                                                              "CVAE")] = None
    """The class to draw, by number or name (a CVAE only)."""
    out: Annotated[Path | None, flag("-o", metavar="FILE", default="RUN/samples.png, or "
                                                               "samples-LABEL.png")] = None
    """PNG file to write."""
    seed: int = 0
    """Seeds the draws from the prior: fewer from one seed are the first of more (-n 8 draws
    the first 8 of -n 64)."""
    scale: Annotated[int, flag(metavar="INT")] = 3
    """Pixels a side for each of an image's pixels (3: a 28-pixel digit is 84 across); from 1
    to 16, square, never blurred."""

    def run(self) -> None:
        from vaelab.config.checks import check_count, check_seed
        from vaelab.pictures.samples import (
            MOST_SAMPLES,
            MOST_SCALE,
            a_row_per_class,
            how_many,
            write_samples,
        )
        from vaelab.training.datasets import class_names

        if self.n is not None:
            check_count("-n", self.n, most=MOST_SAMPLES)  # before the run is loaded
        check_seed("--seed", self.seed)
        check_count("--scale", self.scale, most=MOST_SCALE)
        if self.out is not None:
            check_can_make(self.out, "--out", example="samples.png")
        run = self.load(self.run_dir)
        path = write_samples(run, self.out or run.path / _samples_file(run, self.label), self.n,
                             self.label, self.seed, self.scale)
        n = how_many(run, self.n, self.label)
        what = ""
        if a_row_per_class(run, n, self.label):
            what = " (a row per class, named at its left)"
        elif run.model.conditional and self.label is None:  # fewer draws than classes
            names = class_names(run.config)
            what = (f" ({names[0]}{f' to {names[n - 1]}' if n > 1 else ''}, one each: -n {n} "
                    f"is fewer than the {len(names)} classes)")
        say(f"wrote {path}{what}")


COMMANDS = {"train": Train, "plot": Plot, "sample": Sample, "demo": Demo, "eval": Eval,
            "compare": Compare, "classifier": Classifier, "explore": Explore}


def _samples_file(run: Run, label: str | None) -> str:
    """samples.png, or for a class samples-NAME.png, its name as a file can be named: a class
    given by its number named as by its name ('7' of Fashion-MNIST: Sneaker), a slash or a
    space a dash ('T-shirt/top': samples-T-shirt-top.png)."""
    from vaelab.training.datasets import class_names, class_number

    if label is None:
        return "samples.png"
    with contextlib.suppress(VaelabError, IndexError):  # refused by write_samples, in its words
        label = class_names(run.config)[class_number(run.config, label)]
    named = re.sub(r"[^\w.-]+", "-", label).strip("-.") or "class"
    return f"samples-{named}.png"
