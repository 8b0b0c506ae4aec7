"""Stopping training without losing it: the first Ctrl-C (SIGINT) or SIGTERM (a pre-empted job,
a closing laptop) asks the loop to stop after the step it is in, which then writes a checkpoint
and says how to go on; a second one stops at once. That costs the unfinished step only: every
checkpoint is written to a temporary file and renamed into place, so none is ever half-written.

And when to write a checkpoint inside an epoch: every N steps or every M minutes.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vaelab.distributed import processes_in_env
from vaelab.errors import ConfigError, VaelabError, callers_traceback, named
from vaelab.files import command_flags, numbered, quoted, signals_to
from vaelab.training.datasets import given_as_data

if TYPE_CHECKING:
    from vaelab.config import DataConfig, TrainConfig
    from vaelab.training.epoch import EpochProgress

log = logging.getLogger("vaelab")

NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}
ECHO = 1.0  # seconds within which a second SIGTERM is the first sent twice, not another
TWIN = 0.02  # seconds within which the same signal again is the first passed on: no hand


class Interrupted(KeyboardInterrupt):
    """Training stopped by a signal; ``code`` is the exit status a shell expects (130 for
    Ctrl-C, 143 for SIGTERM). Each run has said where it stopped and how to go on before
    this reaches the command line, which therefore adds nothing."""

    told = True
    _render_traceback_ = callers_traceback  # in a notebook: the cell's line, not vaelab's

    def __init__(self, signal_number: int = signal.SIGINT, trained: Sequence[Path] = ()) -> None:
        super().__init__(NAMES.get(signal_number, f"signal {signal_number}"))
        self.code = 128 + signal_number
        self.trained = list(trained)  # runs whose last step was done when the signal came


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM set ``stop`` the first time and raise ``Interrupted``
    the second; yields the list of the signals received. The first signal again is that one
    passed on, not a second, within ``ECHO`` seconds for SIGTERM (a scheduler's to every
    process, then torchrun's) and ``TWIN`` for Ctrl-C (the terminal's to the whole group, then
    a launcher's such as timeout's, which passes on the one it got). Outside the main thread,
    where Python cannot take signals, it does nothing; a signal that is ignored is left so.
    The handler marks a signal as received before anything else: a second can run inside it,
    and the first's stop.set() is not to be entered twice (its lock would wait on itself)."""
    received: list[int] = []
    first = 0.0  # when the first came

    def handler(number: int, _frame: object) -> None:
        nonlocal first
        if received:
            since = time.monotonic() - first
            if number == received[0] and since < (ECHO if number == signal.SIGTERM else TWIN):
                return
            raise Interrupted(number)
        first = time.monotonic()
        received.append(number)
        stop.set()
        name = NAMES.get(number, f"signal {number}")
        if number == signal.SIGINT:  # from Python, perhaps a notebook's interrupt button
            name = named(name, "interrupted (Ctrl-C, or a notebook's stop)")
        log.warning("%s: stopping after this step, with a checkpoint (%s stops at once)",
                    name, named(f"{NAMES.get(number, 'the signal')} again", "again"))

    with signals_to(handler):
        yield received


def before_any_step(runs: Sequence[tuple[Path, str]], err: KeyboardInterrupt) -> Interrupted:
    """The stop of runs stopped as their folders were made, before any step (as torchrun's
    processes meet): each folder holds its settings alone, and each run says how to start it
    again (``runs``: its folder and that command; "" where the caller names one command for
    all of them, as the demo does)."""
    for run_dir, again in runs:
        log.warning("%s: stopped before its first step%s", run_dir,
                    f"; start it again with: {again}" if again else "")
    return err if isinstance(err, Interrupted) else Interrupted(getattr(err, "code", 130) - 128)


def stopped_after_step(run_dir: Path, progress: EpochProgress, go_on: str = "") -> None:
    """Say where a run that a signal stopped after its step stands (all saved) and ``go_on``,
    the command that goes on; none where the caller names one for all its runs ("")."""
    log.warning("%s: stopped %s, all saved%s", run_dir, where(progress),
                f"; go on with: {go_on}" if go_on else "")


def stopped_at_once(run_dir: Path, on_disk: str | None, go_on: str = "", again: str = "") -> None:
    """Say where a run that a second signal stopped at once stands: its last checkpoint
    (``on_disk``, whole, as every checkpoint is) and ``go_on``, or ``again`` without one; no
    command where the caller names one for all its runs (""), as the demo does."""
    if on_disk:
        log.warning("%s: stopped; its last checkpoint (%s) is whole%s", run_dir, on_disk,
                    f"; go on with: {go_on}" if go_on else "")
    else:
        log.warning("%s: stopped before its first checkpoint%s", run_dir,
                    f"; start it again with: {again}" if again else "")


def where(progress: EpochProgress) -> str:
    """Where a stopped run stands, as the user counts: 'after epoch 3', or 'in epoch 4 after
    120 of its steps'."""
    if progress.steps == 0:
        return f"after epoch {progress.epoch - 1}" if progress.epoch > 1 else "before any step"
    return f"in epoch {progress.epoch} after {progress.steps} of its steps"


_TOLD = contextvars.ContextVar("vaelab_told", default=("", ""))


@contextmanager
def told_as(go_on: str = "", flags: str = "") -> Iterator[None]:
    """Inside, a stopped run's lines name ``go_on``, one command that goes on with every run
    (a demo's), where they would name vaelab train --resume RUN; or name that with ``flags``
    after it, the command's own that no run keeps (--no-plots). The command line says so; a
    script's runs name vaelab train --resume RUN alone."""
    token = _TOLD.set((go_on, flags))
    try:
        yield
    finally:
        _TOLD.reset(token)


def told(data_dir: str | Path | None = None) -> tuple[str, str]:
    """(go_on, flags) as ``told_as`` set them here; else, from Python, no command and the
    call's keywords that no run keeps (", data_dir='X'", as a command's flags hold
    --data-dir)."""
    go_on, flags = _TOLD.get()
    return go_on, flags or named("", data_dir_flags(data_dir))


def data_dir_flags(data_dir: str | Path | None) -> str:
    """The data folder as the command line (" --data-dir X") or a call (", data_dir='X'")
    gives it, after the command or the call's first argument; "" for none."""
    return named(command_flags(("--data-dir", data_dir)),
                 f", data_dir={str(data_dir)!r}" if data_dir is not None else "")


def go_on(run_dir: Path, processes: int = 1, data: DataConfig | None = None, flags: str = ""
          ) -> str:
    """The command that resumes a run, as it was started (torchrun's machines: as before),
    with ``flags`` after it; from Python, the call, with ``flags`` its keywords (', data_dir=
    ...'), and with the images again where the run's ``data`` were given as data= (no command
    can load them)."""
    command = f"{_launcher(processes)} train --resume {quoted(run_dir)}"
    if processes > 1:
        return command + named(flags, "")
    return named(command + flags, _call(f"vaelab.resume({str(run_dir)!r}", data, flags))


def start_again(run_dir: Path, processes: int | None = None, data: DataConfig | None = None,
                flags: str = "") -> str:
    """The command that starts a run that has no checkpoint again, with its settings, in the
    first free folder beside its own (RUN-2, RUN-3, ...: a new run never overwrites one), as
    it was started (default: as torchrun started this process, if it did); from Python, the
    call, as ``go_on``'s."""
    free = next(folder for folder in numbered(Path(run_dir)) if not folder.exists())
    if processes is None:
        processes = processes_in_env()
    command = f"{_launcher(processes)} train --config {quoted(run_dir)} -o {quoted(free)}"
    if processes > 1:
        return command + named(flags, "")
    return named(command + flags, _call(f"vaelab.train(vaelab.RunConfig.load({str(run_dir)!r}), "
                                        f"{str(free)!r}", data, flags))


def _call(head: str, data: DataConfig | None, keywords: str) -> str:
    """A call whose arguments begin with ``head`` and end with ``keywords``, with data= where
    the run's images were given so."""
    given = given_as_data(data) if data is not None else ""
    return (f"{head}{keywords}, data=...) with the data= it learnt from ({given})" if given
            else f"{head}{keywords})")


def diverged(run_dir: Path, epoch: int, loss: float, train: TrainConfig,
             on_disk: str, again: str) -> VaelabError:
    """The error of a run whose loss stopped being a number: the checkpoint it keeps, if it
    wrote one yet, and what to change (--lr, --grad-clip); ``again`` starts it again
    (vaelab train --config RUN into a new folder)."""
    grad_clip, lr = named("--grad-clip", "grad_clip"), named("--lr", "lr")
    clip = (f"a {grad_clip} (such as 1000)" if train.grad_clip is None
            else f"a smaller {grad_clip} than {train.grad_clip:g}")
    if not on_disk:
        return VaelabError(f"{run_dir}: training diverged in epoch {epoch} (the loss is {loss}) "
                           f"before its first checkpoint; start it again with {again} and a "
                           f"smaller {lr} than {train.lr:g}, or {clip}")
    return VaelabError(f"{run_dir}: training diverged in epoch {epoch} (the loss is {loss}); "
                       f"its last checkpoint before it ({on_disk}) is kept. Try a smaller {lr} "
                       f"than {train.lr:g}, or {clip}")


def peer_lost(run_dir: Path, again: str, on_disk: str | None = None,
              resume: str = "") -> VaelabError:
    """The error of a run whose other process went away (under torchrun): what is whole on
    disk, and the command that goes on (``resume``) or, with no checkpoint, starts it
    ``again``."""
    then = (f"; its last checkpoint ({on_disk}) is whole: go on with {resume}" if on_disk
            else f" before its first checkpoint; start it again with {again}")
    return VaelabError(f"{run_dir}: another process of the run stopped{then}")


def _launcher(processes: int) -> str:
    """'vaelab', or the torchrun command that starts it in as many processes as before."""
    if processes == 1:
        return "vaelab"
    one_machine = ("LOCAL_WORLD_SIZE" not in os.environ
                   or processes_in_env("LOCAL_WORLD_SIZE") == processes)
    launcher = f"torchrun --nproc-per-node {processes}" if one_machine else "torchrun ..."
    return f"{launcher} -m vaelab"


@dataclass(frozen=True)
class Cadence:
    """When to write a checkpoint inside an epoch: every ``steps`` steps, or every
    ``seconds`` of training; neither means at the end of each epoch only."""

    steps: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, text: str | int | None) -> Cadence:
        """'500' (steps), '30s', '10m' or '10min', '2h', or 'epoch', None or a count of 0 in
        any of them (the ends of epochs only)."""
        match = re.fullmatch(r"(\d+)\s*(s|m|min|h)?", str(text).strip())
        if text is None or str(text).strip() == "epoch" or (match and int(match[1]) == 0):
            return cls()
        if not match:
            raise ConfigError(f"checkpoint_every {text!r} is not one of: N (steps), Ns, Nm or "
                              f"Nmin, Nh (seconds, minutes, hours), epoch or 0 (the ends of "
                              f"epochs only)")
        number, unit = int(match[1]), match[2]
        if unit is None:
            return cls(steps=number)
        return cls(seconds=number * {"s": 1, "m": 60, "min": 60, "h": 3600}[unit])

    def due(self, steps: int, since: float) -> bool:
        """Whether a checkpoint is due after ``steps`` steps of the epoch, the last one having
        been written at ``since`` (time.monotonic())."""
        if self.steps is not None:
            return steps % self.steps == 0
        return self.seconds is not None and time.monotonic() - since >= self.seconds
