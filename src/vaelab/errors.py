"""The one exception type vaelab raises for bad input; the CLI prints it as a single line."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable


def callers_traceback(error: BaseException) -> list[str]:
    """``error`` as IPython and Jupyter show it (their ``_render_traceback_``): the frames of
    the caller's own code and its one line, without the dozens of vaelab's own frames under
    them, which say nothing that the line does not, nor IPython's own; after the error it
    came from, if any, shown so too."""
    import traceback

    def ours(filename: str) -> bool:  # vaelab's or IPython's; "<ipython-input-3>" is a cell
        return not filename.startswith("<") and os.path.abspath(filename).startswith(hidden)

    hidden = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep
                   for module in (sys.modules[__name__.split(".")[0]], sys.modules.get("IPython"))
                   if module is not None and getattr(module, "__file__", None))
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not ours(frame.filename)]
    lines = "".join(traceback.format_list(frames)).rstrip("\n").splitlines()
    head = ["Traceback (most recent call last; vaelab's own calls left out):"] if lines else []
    before: list[str] = []
    if error.__cause__ is not None:
        before = [*callers_traceback(error.__cause__), "", "The above exception was the direct "
                  "cause of the following exception:", ""]
    elif error.__context__ is not None and not error.__suppress_context__:
        before = [*callers_traceback(error.__context__), "", "During handling of the above "
                  "exception, another exception occurred:", ""]
    return [*before, *head, *lines, f"{type(error).__name__}: {error}"]


class VaelabError(Exception):
    """A problem with the user's input, files or settings, with a message that says what to do."""

    _render_traceback_ = callers_traceback


class Relayed(VaelabError):
    """Another process's error (under torchrun, rank 0's), raised in this one too so that it
    stops with it; that process says it."""


class ConfigError(VaelabError):
    """A setting that is out of range or inconsistent with the others."""


class SettingsFileError(ConfigError):
    """A settings file (a run's config.json) that does not hold valid settings: the message
    names the file, and each setting as the file spells it."""


_VOICE = {"cli": False}  # whether the command line is speaking: set by vaelab.cli for a command


def named(flag: str, argument: str) -> str:
    """An option as its caller gives it, for a message to name: ``flag`` where the command
    line speaks ('--out'), ``argument`` from Python ('out_dir'). A process-wide setting, not
    a context variable: the lines of threads that a command starts speak as it does."""
    return flag if _VOICE["cli"] else argument


def spoken_on_the_command_line(on: bool) -> bool:
    """Make the messages name options as the command line spells them (or, with ``on``
    false, as Python does again); returns the setting before."""
    before, _VOICE["cli"] = _VOICE["cli"], on
    return before


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' naming the choice nearest to ``given``, whatever its case, or ''
    where none is near: for an error's first clause."""
    by_folded = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(given.casefold(), by_folded, n=1, cutoff=0.6)
    return f" (did you mean {by_folded[close[0]]}?)" if close else ""
