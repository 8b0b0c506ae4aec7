"""Where runs go: a new run's folder (never one that holds anything), numbered where its name
is taken, and the check that a run's folder can be written before any work."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

from vaelab.config import RunConfig
from vaelab.data import DATASETS
from vaelab.data.paths import NoImagesThere, locate
from vaelab.errors import VaelabError, named
from vaelab.files import check_can_make, numbered, quoted, writable
from vaelab.training.runs import CHECKPOINT, CONFIG, FIGURES, finished_epochs

RUNS = Path("runs")  # where a new run goes without --out
DEMO_PLAN = "demo.json"  # in a demo's folder: its runs in order, their settings, its device


def check_not_anothers(path: str | Path, option: str) -> None:
    """Refuse, before any work, a file ``path`` that would overwrite what a run or a demo
    shows as its own: the page of a run's folder, a figure in its figures/, any file of a
    demo's folder (its page, its comparison) or of vaelab compare's. Beside a run's own files
    (samples.png) a file may be written again."""
    path = Path(path)
    if not path.is_file():
        return
    folder = path.resolve().parent
    run = folder.parent if folder.name == FIGURES else folder
    is_run, is_demo = (run / CONFIG).is_file(), (folder / DEMO_PLAN).is_file()
    compared = (folder / "compare.md").is_file()  # vaelab compare's folder
    if is_demo or compared or (is_run and (folder != run or path.name == "index.html")):
        whose = (f"the demo in {folder}" if is_demo else f"the comparison in {folder}"
                 if compared else f"the run {run}")
        raise VaelabError(f"{path} is a file of {whose}, which this would overwrite; choose "
                          f"another {option}")


def check_writable(path: Path) -> None:
    """Refuse, before any work, a run whose folder cannot be written (a read-only disk)."""
    if not writable(path):
        raise VaelabError(f"{path}: cannot be written, and its checkpoints go there; copy it "
                          f"to a folder you may write to, and go on there")


def check_new_run_dir(out: str | Path,
                      resume: tuple[str, str] | None = (CHECKPOINT, "--resume")) -> None:
    """Refuse a folder that holds anything (a new run never overwrites an old one), or one
    that cannot be made or written in. ``resume``: the file that marks a folder as one to go
    on with, and the option that does (None: nothing goes on in its folder)."""
    out = Path(out)
    if out.is_dir() and any(out.iterdir()):
        marker, option = resume or ("", "")
        python = "vaelab.resume" if option == "--resume" else "vaelab.demo.finish_demo"
        on = named(f"{option} {out}", f"{python}({str(out)!r})")
        hint = f" or continue it with {on}" if marker and (out / marker).exists() else ""
        if option == "--resume" and _finished(out):  # a notebook's cell run again, say
            raise VaelabError(
                f"{out} already holds a run that finished its epochs; choose another "
                f"{named('--out', 'out')}, " + named(
                    f"or train it further with --resume {quoted(out)} --epochs N",
                    f"open it with vaelab.load_run({str(out)!r}), or train it further with "
                    f"vaelab.resume({str(out)!r}, epochs=N)"))
        raise VaelabError(f"{out} already exists and is not empty; choose another "
                          f"{named('--out', 'out')}{hint}")
    check_can_make(out, named("--out", "out"), folder=True)


def _finished(run: Path) -> bool:
    """Whether ``run`` is a run's folder that has trained all the epochs it was set."""
    try:
        return finished_epochs(run) == RunConfig.load(run / CONFIG).train.epochs
    except VaelabError:  # damaged: not for this message to say
        return False


def check_new_run_dirs(configs: Sequence[RunConfig], outs: Sequence[Path | None]) -> None:
    """``check_new_run_dir`` for each run's folder named, and refuse one (or the default
    runs/) inside the image folder that the run trains on (where its --dataset names it, as
    a new run's images are read): every later command would read its figures and
    checkpoints there as images, of a class 'runs'."""
    for config, out in zip(configs, outs, strict=True):
        if out is not None:
            check_new_run_dir(out)
        images = config.data.dataset
        if images in DATASETS:
            continue
        try:
            folder = locate(images)  # "~/shapes" too
        except NoImagesThere:  # said in one line as the images are read
            continue
        run = RUNS if out is None else Path(out)
        if folder.is_dir() and run.resolve().is_relative_to(folder.resolve()):
            raise VaelabError(f"{run}: inside the image folder {images}, whose files are "
                              f"all read as images; give " + named(
                                  "--out a folder outside it", "the run a folder outside it"))


def new_run_dir(out: str | Path | None, config: RunConfig, parent: Path = RUNS) -> Path:
    """The folder for a new run: ``out`` if it is new or empty, else an error; with no ``out``,
    runs/<model>-<dataset>, numbered -2, -3, ... when taken."""
    if out is not None:
        check_new_run_dir(out)
        Path(out).mkdir(parents=True, exist_ok=True)
        return Path(out)
    dataset = config.data.dataset
    name = dataset if dataset in DATASETS else Path(dataset).stem  # mnist, or a folder's name
    return unique_dir(parent / f"{config.model.model}-{name}")


def unique_dir(base: Path) -> Path:
    """Create and return ``base``, or base-2, base-3, ... if it is taken."""
    for candidate in itertools.chain([base], numbered(base)):
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            continue
    raise AssertionError("numbered() never ends")
