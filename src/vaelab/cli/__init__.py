"""The command line: a thin map from command names to the API (the commands in commands.py,
read by parsing.py). Here the entry point, its one-line errors, and where vaelab's messages go."""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from vaelab.errors import (
    ConfigError,
    Relayed,
    SettingsFileError,
    VaelabError,
    spoken_on_the_command_line,
)
from vaelab.files import WriteError, exit_now

# The parser (tyro) and the rest are imported by _command, after the signal handlers are set:
# a Ctrl-C in their import is one line, not a traceback.


def _log_to_stderr(quiet: bool, main: bool = True) -> None:
    """vaelab's warnings, and unless ``quiet`` its notes, go to stderr as 'vaelab: ...' lines;
    of several processes, rank 0's (the ``main`` one) alone."""
    from vaelab.progress import Said

    log = logging.getLogger("vaelab")
    if not any(type(h) is Said for h in log.handlers):
        log.addHandler(Said())
        log.propagate = False
    log.setLevel(logging.ERROR if not main else logging.WARNING if quiet else logging.INFO)


def _warning_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: object = None, line: str | None = None) -> None:
    """A library's warning (matplotlib's of a character that its font lacks, say) as one
    'vaelab: ...' line, not Python's two with a line of its source; the font's once."""
    if "missing from font" in str(message):
        _missing_glyphs()
    else:
        logging.getLogger("vaelab").warning("%s: %s", category.__name__, message)


@functools.cache  # once in a process, for all the characters
def _missing_glyphs() -> None:
    logging.getLogger("vaelab").warning("some characters in the figures are not in their "
                                        "font: they show as boxes")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vaelab`` command; returns the exit status. One of torchrun's
    processes ends here instead (``vaelab.distributed.end``: PyTorch's gloo threads can abort
    Python's teardown)."""
    try:
        status = _command(list(sys.argv[1:] if argv is None else argv))
    except BaseException:  # --help, or a fault with its traceback
        if _grouped():
            from vaelab.distributed import leave

            leave()
        raise
    if _grouped():
        from vaelab.distributed import end

        end(status)
    return status


def run() -> int:
    """The ``vaelab`` command: ``main``, and then the process ends at once with its status
    (``vaelab.files.exit_now``): every file a command writes is closed when it returns.
    Output that cannot be written (a full disk) is said in one line, with status 2. Returns
    the status instead, for Python's own ending, while a thread that is not a daemon still
    runs or torch.compile may have started its worker processes. A command that a Ctrl-C or
    SIGTERM ended (the second, in training) ends at once even with threads still running (a
    run being measured beside one stopped), torch.compile's workers aside: the files are
    written atomically, so the last checkpoint is whole."""
    if hasattr(sys.stdout, "reconfigure"):  # a table's − and β into a file of cp1252 (Windows)
        sys.stdout.reconfigure(errors="backslashreplace")
    status = main()
    others = [thread for thread in threading.enumerate()
              if thread is not threading.main_thread() and not thread.daemon]
    at_once = status in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    if (others and not at_once) or "torch._inductor.compile_worker.subproc_pool" in sys.modules:
        return status
    logging.shutdown()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away: as _command says, nothing lost
        pass
    except OSError as err:
        print(f"vaelab: error: could not write the output ({err.strerror or err})",
              file=sys.stderr)
        status = status or 2
    exit_now(status)  # from vaelab.files: a PyTorch whose import a Ctrl-C cut is not touched


def _grouped() -> bool:
    """Whether this process has started a process group (it is one of torchrun's)."""
    dist = sys.modules.get("torch.distributed")  # --help and errors of usage load no PyTorch
    try:
        return dist is not None and dist.is_available() and dist.is_initialized()
    except Exception:  # a Ctrl-C stopped PyTorch's import half way: it started nothing
        return False


def _command(argv: list[str]) -> int:
    """Run the command that ``argv`` names; its exit status."""
    if argv[:1] in (["--version"], ["-V"]):
        from vaelab import __version__

        if _rank() in (None, "rank 0"):  # once under torchrun, as --help
            print(f"vaelab {__version__}")
        return 0
    rank = _rank()
    error = f"vaelab ({rank}): error:" if rank else "vaelab: error:"
    restore, spoken = _stop_on_sigterm(), spoken_on_the_command_line(True)
    command, showwarning = None, warnings.showwarning
    try:
        from vaelab.cli.options import in_flags
        from vaelab.cli.parsing import parse
        from vaelab.memory import map_large_blocks

        with _quiet_unless(rank in (None, "rank 0")):  # --help, once
            command = parse(argv)
        if rank is not None and not getattr(command, "in_parallel", False):
            if rank != "rank 0":
                # The others leave quietly and as done: torchrun stops every process as soon
                # as one fails, and a failing rank 1 could stop rank 0 before its line.
                return 0
            raise VaelabError(f"vaelab {argv[0]} runs in one process; torchrun starts vaelab "
                              f"train and vaelab eval in several")
        _log_to_stderr(command.quiet, main=rank in (None, "rank 0"))
        warnings.showwarning = _warning_line
        map_large_blocks()  # freed tensors of megabytes go back to the system (vaelab.memory)
        with _signals_held():  # a Ctrl-C in PyTorch's import would leave it half loaded
            from vaelab.device import denormals_flushed  # PyTorch, as a command will use it

        with denormals_flushed():  # before PyTorch's threads start: they inherit it (vaelab.device)
            command.run()
    except VaelabError as err:
        flags = isinstance(err, ConfigError) and not isinstance(err, SettingsFileError)
        if rank not in (None, "rank 0"):
            # Each process finds what the others find (the same options, files and losses):
            # rank 0 says it, and torchrun stops the others while they wait.
            try:
                time.sleep(SAY_AFTER)
            except KeyboardInterrupt as stop:  # torchrun's SIGTERM: rank 0 has said it
                return getattr(stop, "code", 130)
            if isinstance(err, Relayed):  # rank 0's error, raised here to stop this process
                return 2  # too: rank 0 says it (not at once, as torchrun would stop it first)
        sys.stderr.write(f"{error} {in_flags(str(err)) if flags else err}\n")  # one write
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM while training (143)
        code = getattr(err, "code", 130)
        if rank in (None, "rank 0") and not getattr(err, "told", False):  # one line, once
            print("vaelab: interrupted" if code != 128 + signal.SIGTERM else
                  "vaelab: stopped by SIGTERM" + (" (torchrun sends it to every process when one "
                                                  "of them ends or is stopped: its report says "
                                                  "which)" if rank else ""), file=sys.stderr)
        return code
    except BrokenPipeError:  # the reader went away, as in `vaelab train --help | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (Python flushes it at exit)
        return 0
    except OSError as err:  # a folder that cannot be written, a full disk
        where = f"{err.filename}: " if err.filename else ""
        print(f"{error} {where}{err.strerror or err}"
              f"{_what_to_do(err, _can_write_elsewhere(command, err))}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        from vaelab.distributed import peer_gone

        if rank is not None and peer_gone(err):  # before a run's folder was made, or in eval
            print(f"{error} another of torchrun's processes stopped, and this one with it "
                  f"(its own lines say why); run the command again", file=sys.stderr)
            return 2
        said = out_of_memory(err, type(command).__name__.lower())
        if said is None:
            raise
        print(f"{error} {said}", file=sys.stderr)
        return 2
    finally:
        if restore is not None:
            signal.signal(signal.SIGTERM, restore)
        warnings.showwarning = showwarning  # as the caller had it (a notebook's, a test's)
        spoken_on_the_command_line(spoken)
    return 0


# What each command can make smaller, where memory ran out; the rest hold a run's model.
SMALLER = {"train": "try a new run with a smaller --batch-size, --hidden-dims or --latent-dims",
           "demo": "try a smaller --batch-size",
           "eval": "try a smaller --chunk",
           "compare": "try a smaller --chunk"}


def out_of_memory(err: RuntimeError, command: str) -> str | None:
    """What to do where memory ran out in ``command`` (its name): on a device (CUDA, MPS) or
    in this machine, whose allocator says how much one array asked for; None for any other
    error."""
    text = str(err)
    advice = SMALLER.get(command, "the run's model may be too large for it")
    if "DefaultCPUAllocator" in text:  # "can't allocate memory" (Linux), "not enough" (Windows)
        asked = re.search(r"allocate (\d+) bytes", text)
        size = f" (one array asked for {int(asked[1]) / 2**30:.1f} GiB)" if asked else ""
        return f"this machine ran out of memory{size}; {advice}"
    if type(err).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        asked = re.search(r"Tried to allocate ([\d.]+ [KMGT]iB)", text)  # CUDA's words
        size = f" (one array asked for {asked[1]})" if asked else ""
        return f"the device ran out of memory{size}; {advice}, or use --device cpu"
    return None


def _can_write_elsewhere(command: object, err: OSError) -> bool:
    """Whether the command writes where --out says (not a run resumed in its own folder) what
    failed: not the measures that compare writes into each run's own folder."""
    runs = [Path(run).resolve() for run in getattr(command, "runs", None) or ()]
    failed = Path(err.filename or "").resolve()
    if any(run == failed.parent for run in runs):
        return False
    return hasattr(command, "out") and getattr(command, "resume", None) is None


def _what_to_do(err: OSError, elsewhere: bool) -> str:
    """The way out of a full or read-only disk: more space, or (for a command that takes
    --out) another folder."""
    ways = ["free some space"] if err.errno == errno.ENOSPC else []
    # Refused or missing: a file being written, or a folder being made; not a file being read.
    refused = err.errno in (errno.EACCES, errno.EPERM, errno.ENOENT) and (
        isinstance(err, WriteError) or not os.path.isfile(err.filename or ""))
    if elsewhere and (err.errno in (errno.ENOSPC, errno.EROFS) or refused):
        ways.append("write elsewhere (--out)")
    return "; " + ", or ".join(ways) if ways else ""


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while inside, and taken when it ends: an import that a
    KeyboardInterrupt cuts can leave a compiled module loaded but its Python module missing,
    and anything that catches the interrupt (a finaliser does) imports it again and fails."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):  # not on Windows
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


SAY_AFTER = 3.0  # seconds that the other processes wait before their error, for rank 0's


@contextlib.contextmanager
def _quiet_unless(speaking: bool) -> Iterator[None]:
    """The standard output thrown away inside, unless ``speaking``."""
    if speaking:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def _stop_on_sigterm() -> object:
    """SIGTERM ends the command as Ctrl-C does, in one line with status 143 (training takes
    both signals over while it runs, to stop after a step with a checkpoint); one that the
    process was started ignoring stays ignored. The handler before it, to put back (None:
    nothing was changed)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
        return None
    return signal.signal(signal.SIGTERM, _terminated)


def _terminated(number: int, _frame: object) -> None:
    stop = KeyboardInterrupt("SIGTERM")
    stop.code = 128 + number  # type: ignore[attr-defined]
    raise stop


def _rank() -> str | None:
    """Which of torchrun's processes this is ('rank 1'), for its error lines, or None outside
    torchrun: every process says what went wrong with it, since any one may have failed."""
    size = os.environ.get("WORLD_SIZE", "1").strip()
    if not size.isdigit() or int(size) <= 1:  # not a number: said in one line, later
        return None
    return f"rank {os.environ.get('RANK', '?')}"


if __name__ == "__main__":
    sys.exit(main())
