"""What every command shares: the options of where to compute and how much to say, how a
field shows as a flag and a setting's name in a message as its flag, the check that a folder is
a run folder, and vaelab's notes on stderr.

The flags keep one meaning across commands: ``-o/--out`` is where the command writes what it
makes (a folder, or for sample and explore one file), ``-q/--quiet`` silences progress and
notes, a positional RUN is a folder that ``vaelab train`` wrote.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

import tyro

from vaelab.training.layout import check_run_folder

if TYPE_CHECKING:
    from vaelab.training.runs import Run

RUN = tyro.conf.arg(metavar="RUN")  # a run folder, given by position
OPTIONAL = "(optional)"  # the hint of a flag that may be left out


def flag(*aliases: str, metavar: str | None = None, default: str | None = None,
         hint: str | None = None) -> Any:
    """How a field shows on the command line: its other spellings, its placeholder, and
    the ``default`` that --help names where the field's own (None) means 'decided later'
    (or a whole ``hint`` such as '(optional)')."""
    hint = f"(default: {default})" if default is not None else hint
    return tyro.conf.arg(aliases=aliases or None, metavar=metavar, help_behavior_hint=hint)


DATA_DIRS = "$VAELAB_DATA, the user cache, /usr/share/datasets (on Linux)"


@dataclass(kw_only=True)
class Common:
    """Options of every command: where to compute, where the data is, how much to say."""

    device: Annotated[str | None, flag(metavar="DEVICE", default="auto")] = None
    """cpu, cuda, cuda:N, mps or auto (CUDA, then MPS, then the CPU)."""
    data_dir: Annotated[Path | None, flag(metavar="DIR", default=DATA_DIRS)] = None
    """Folder that holds one folder per dataset, as <DIR>/mnist/train-images-idx3-ubyte.gz."""
    quiet: Annotated[bool, flag("-q")] = False
    """No progress bars or lines and no notes along the way; results, warnings and errors stay."""

    def load(self, folder: Path, made: str = "") -> Run:
        """The run in ``folder``, on --device; one clear line if it is not a run folder, or
        damaged (naming the command that mends it, with --data-dir). Of a run that has not
        trained all its epochs, a note says that what the command makes (``made``: its
        figures, measures) are of the last epoch it finished."""
        from vaelab.training.runs import load_run

        run = load_run(check_run_folder(folder), device=self.device or "auto",
                       data_dir=self.data_dir)
        planned = run.config.train.epochs
        if made and run.epochs_done < planned and main_process():
            say(f"{run.path} has trained {run.epochs_done} of its {planned} epochs (it is "
                f"training still, or was stopped): these are the {made} of epoch "
                f"{run.epochs_done}")
        return run


def main_process() -> bool:
    """Whether this process writes and prints: the only one, or rank 0 of several (torchrun)."""
    from vaelab.distributed import join

    return join().main


def say(message: str) -> None:
    """A note for the user: on stderr, so that stdout keeps only results."""
    print(f"vaelab: {message}", file=sys.stderr)


def in_flags(message: str) -> str:
    """A settings error as the command line says it: each setting named in it as the flag that
    sets it ('hidden_dims: every width must be ...' -> '--hidden-dims: every width must
    be ...'). A setting whose name is a plain word (seed, beta, k) is taken for one only where
    it leads the message, and what is quoted (a value the user gave) is left as it is. What
    vaelab records from the data (the image shape, say) is no flag. (A settings file's errors
    name its settings as the file does: the command line does not pass them here.)"""
    settings = _flag_settings()

    def flag(found: re.Match) -> str:
        name = found[0]
        if name.startswith("'") or name not in settings or ("_" not in name and found.start()):
            return name
        return settings[name]

    return re.sub(r"'[^']*'|(?<![\w./\\-])[a-z](?:[a-z_]*[a-z])?(?![\w./\\-])", flag, message)


def _flag_settings() -> dict[str, str]:
    """The settings that flags set, each with the flag that --help names first."""
    from vaelab.config import DataConfig, ModelConfig, TrainConfig

    names = {name: spelling(None, name) for name in ("checkpoint_every", "samples", "chunk",
                                                      "label", "between")}
    for kind in (ModelConfig, DataConfig, TrainConfig):  # and the measuring commands' own
        for name, hint in get_type_hints(kind, include_extras=True).items():
            if tyro.conf.Suppress not in getattr(hint, "__metadata__", ()):
                names[name] = spelling(kind, name)
    return names


def spelling(kind: type | None, name: str) -> str:
    """The flag of ``kind``'s field ``name`` as --help names it first: its long alias where it
    has one (--loss for likelihood), else its own name (--hidden-dims, -k)."""
    hint = get_type_hints(kind, include_extras=True).get(name) if kind is not None else None
    for meta in getattr(hint, "__metadata__", ()):
        long = [alias for alias in getattr(meta, "aliases", None) or () if alias[:2] == "--"]
        if long:
            return long[0]
    return ("-" if len(name) == 1 else "--") + name.replace("_", "-")
