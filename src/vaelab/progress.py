"""Progress on stderr: a live tqdm bar on a terminal, a few plain lines anywhere else.

Off a terminal (CI, nohup, a file, a notebook's captured stderr) a bar's carriage returns and
cursor escapes pile up by the hundred, so there a bar becomes ``Lines``: it counts, says what
it did in one line when it closes ("NLL, k = 1000: 10,000 images in 41 s"), and what the
caller writes above it (one line per epoch) goes out as plain lines. Work that lasts longer
than half a minute says where it stands then, and every ten minutes after ("NLL, k = 1000:
600 of 10,000 images after 30 s; about 7 min 50 s more"), so that a log is not silent for
the quarter of an hour that a large evaluation can take.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
import time
from typing import Any, Protocol

_LOCK = threading.Lock()  # two runs trained side by side write from two threads
FIRST_NOTE, NOTE_EVERY = 30.0, 600.0  # seconds: off a terminal, where long work stands


class Bar(Protocol):
    """What vaelab asks of a progress bar: tqdm's, or ``Lines``."""

    def update(self, n: float = 1) -> bool | None: ...
    def reset(self, total: float | None = None) -> None: ...
    def set_description(self, desc: str | None = None, refresh: bool = True) -> None: ...
    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None: ...
    def write(self, s: str, file: Any = None) -> None: ...


def on_terminal() -> bool:
    """Whether stderr, where progress goes, is an interactive terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced by an object without it, or closed
        return False


class Said(logging.Handler):
    """vaelab's messages as 'vaelab: ...' lines on whatever stderr is at the time (tests and
    notebooks replace it), each with ``say``: whole, and above any progress bars drawn."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            say(f"vaelab: {record.getMessage()}")
        except Exception:  # no stderr, a closed one, a broken pipe: as logging's own handlers
            self.handleError(record)


class NamedLastResort(Said):
    """Python's last resort, with vaelab's name before each line: where a program has set up
    no logging of its own (a script, a notebook), vaelab's warnings are said, not written
    bare; where it has (or the command line has), they go only there."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:  # the handlers that the record reaches besides this one
            if any(handler is not self for handler in logger.handlers):
                return
            logger = logger.parent if logger.propagate else None
        super().emit(record)


def say(line: str) -> None:
    """One plain line on stderr, written whole even when threads write at once, and above
    the progress bars where tqdm draws some, which are then drawn again below it."""
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    drawn = tqdm is not None and getattr(tqdm, "_instances", None)
    with _LOCK, tqdm.external_write_mode(file=sys.stderr) if drawn else contextlib.nullcontext():
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def progress_bar(total: float, *, desc: str = "", unit: str = "it", enabled: bool = True,
                 summary: bool = True, **tqdm_options: Any) -> Any:
    """A tqdm bar on a terminal, otherwise ``Lines`` (which, with ``summary``, ends with one
    line of what was done and how long it took). ``enabled=False`` shows nothing either way.
    Use it as a context manager."""
    if enabled and on_terminal():
        # "20.5k images/s", not tqdm's "20.5kimage/s"
        shown = unit if unit == "it" else f" {unit}{'' if unit.endswith('s') else 's'}"
        form = {"bar_format": BAR} if total else {}  # no total: tqdm's count and rate
        return _drawn_bar()(total=total, desc=desc, unit=shown, **form, **tqdm_options)
    return Lines(total, desc=desc, unit=unit, enabled=enabled, summary=summary)


BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"  # tqdm's


@functools.cache
def _drawn_bar() -> type:
    """tqdm's bar, with a count or a total under 1,000 written whole where it scales its
    numbers: "0/60.0k" and "128/60.0k" as an epoch begins, not "0.00/60.0k"; "8/60", not
    "8.00/60.0"."""
    from tqdm import tqdm

    class Drawn(tqdm):
        @property
        def format_dict(self) -> dict[str, Any]:
            shown = super().format_dict
            for count in ("n", "total") if shown["unit_scale"] is True else ():
                if shown[count] is not None and shown[count] < 1000:  # BAR's, not r_bar's
                    shown[f"{count}_fmt"] = f"{shown[count]:.0f}"
            return shown

    return Drawn


def restart(bar: Bar, total: float, desc: str) -> None:
    """Begin a bar's next pass (an epoch): its name, at 0 of ``total``, and no postfix, so that
    no loss of the pass before stands beside it."""
    bar.set_description(desc, refresh=False)
    bar.set_postfix_str("", refresh=False)
    bar.reset(total)


class Lines:
    """tqdm's interface, off a terminal: no redrawing, only whole lines."""

    def __init__(self, total: float, *, desc: str = "", unit: str = "it", enabled: bool = True,
                 summary: bool = True) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.enabled, self.summary = enabled, summary
        self.reset()

    def update(self, n: float = 1) -> bool:
        self.n += n
        if self.enabled and time.perf_counter() >= self.note_at:
            self._note()
        return False  # never redraws, so the caller never needs to sync for a postfix

    def reset(self, total: float | None = None) -> None:
        self.n = self.initial = 0  # initial: done before this start (a resumed epoch's)
        self.started = time.perf_counter()
        self.note_at = self.started + FIRST_NOTE
        if total is not None:
            self.total = total

    def _note(self) -> None:
        """Where long work stands, and how long the rest may take at the pace so far."""
        now = time.perf_counter()
        self.note_at, spent = now + NOTE_EVERY, now - self.started
        done = self.n - self.initial  # at this start's pace, not with what came before
        rest = (f"; about {duration(spent * (self.total - self.n) / done)} more"
                if self.total and done > 0 and self.n < self.total else "")
        of = f" of {self.total:,.0f}" if self.total else ""
        units = self.unit if self.unit.endswith("s") else f"{self.unit}s"
        say(f"{self.desc}: {self.n:,.0f}{of} {units} after {duration(spent)}{rest}")

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def write(self, s: str, file: Any = None) -> None:
        if self.enabled:
            say(s)

    def close(self) -> None:
        if self.enabled and self.summary and self.n:
            seconds = time.perf_counter() - self.started
            plural = "" if self.n == 1 or self.unit.endswith("s") else "s"
            say(f"{self.desc}: {self.n:,} {self.unit}{plural} in {duration(seconds)}")
        self.enabled = False  # a second close says nothing

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is not None:  # a failure or Ctrl-C: no line claims the work was done
            self.enabled = False
        self.close()


def loss_text(value: float, width: int = 7) -> str:
    """A loss for a progress line: two decimals as far as millions, beyond that (a run that is
    blowing up) a short exponent rather than thirty digits."""
    return f"{value:{width}.2f}" if abs(value) < 1e7 else f"{value:{width}.3g}"


def duration(seconds: float) -> str:
    """'0.4 s', '3.1 s', '41 s', '2 min 5 s'."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"
