"""Writing files so that a crash never leaves half of one, reading the JSON files that vaelab
writes without trusting them, and ending a process once its files are written. No PyTorch
here: a process whose import of PyTorch was interrupted still ends."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from itertools import count
from pathlib import Path
from typing import Any, NoReturn

from vaelab.errors import VaelabError


class WriteError(OSError):
    """An output file that could not be written, named by itself, not by its temporary."""


def check_can_make(path: str | Path, option: str, folder: bool = False,
                   example: str = "") -> Path:
    """Refuse, before any work, a file (or with ``folder``, a folder) ``path`` that cannot be
    made or written in: a folder where a file is meant or the other way round, one under a
    file, or in a folder that is not writable. The folders missing above it are made when it
    is written. Returns the nearest folder on the way that is there; ``option`` is what names
    the path, and ``example`` a file's name to suggest in a folder given for a file."""
    path = as_path(path, f"{option} names a {'folder' if folder else 'file'}")
    if folder and path.exists() and not path.is_dir():
        raise VaelabError(f"{path} is a file; {option} names a folder")
    if not folder and path.is_dir():
        such = f", such as {path / example}" if example else ""
        raise VaelabError(f"{path} is a folder; {option} names the file to write{such}")
    # A file or a dangling link in a folder's place cannot hold one.
    there = next((p for p in ((path,) if folder else ()) + tuple(path.parents)
                  if p.exists() or p.is_symlink()), Path("."))
    if not there.is_dir():
        raise VaelabError(f"{there} is not a folder, so {path} cannot be "
                          f"{'made' if folder else 'written'}; choose another {option}")
    if not writable(there):
        raise VaelabError(f"{there} is not writable; choose another {option}")
    return there


def writable(folder: str | Path) -> bool:
    """Whether a file can be made in ``folder``, found by making one: os.access says nothing of
    a folder on Windows (it reads the read-only flag, which folders do not honour)."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def write_atomic(path: str | Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it and a rename: readers see
    the old file or the new one, never a mix, and a failure leaves no temporary behind. The
    file, then its folder (where the system lets a folder be synced), reach the disk before
    this returns: after a power cut the new file is there, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, path)
        _sync_folder(path.parent)
    except OSError as err:  # named by the file being written, not its hidden temporary
        _remove(tmp)
        raise WriteError(err.errno, err.strerror, str(path)) from None
    except BaseException:
        _remove(tmp)
        raise


# On Windows another program (a virus scanner, an indexer, a synced folder's client) can hold
# a file open for a moment, and replacing it fails meanwhile: tried again for half a second.
REPLACE_WAITS = (0.05, 0.1, 0.15, 0.2) if os.name == "nt" else ()


def _replace(tmp: Path, path: Path) -> None:
    """os.replace, tried again after each of REPLACE_WAITS (seconds) that a file held
    elsewhere refuses it."""
    for wait in (*REPLACE_WAITS, None):
        try:
            return os.replace(tmp, path)
        except PermissionError:
            if wait is None:
                raise
            time.sleep(wait)


def _sync_folder(folder: Path) -> None:
    """The folder's entries on disk (its new name for the file), where a folder can be opened
    (not on Windows) and synced (not on every file system)."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _remove(tmp: Path) -> None:
    """A temporary gone, where it can be: on a read-only disk there is none to remove, and
    removing says so (EROFS) instead of that it is missing."""
    with contextlib.suppress(OSError):
        tmp.unlink()


def remove_left_behind(folder: Path, names: Sequence[str]) -> None:
    """The temporaries of the files ``names`` that a process killed while writing them
    (kill -9, a power cut) left in ``folder``: a checkpoint's takes as much room as the
    checkpoint. Those of other files, which another command may be writing, stay."""
    left = re.compile(rf"^\.({'|'.join(map(re.escape, names))})\.[0-9a-f]{{8}}\.tmp$")
    for entry in os.scandir(folder):
        if left.match(entry.name) and entry.is_file(follow_symlinks=False):
            _remove(Path(entry.path))


def numbered(base: Path) -> Iterator[Path]:
    """The names that stand in for a taken ``base``: base-2, base-3, ..."""
    return (base.with_name(f"{base.name}-{n}") for n in count(2))


def read_json(path: str | Path, most: int = 1 << 20) -> Any:
    """The JSON value that the file ``path`` holds, read as ``read_capped`` reads; a
    ValueError that says why in a few words where it holds none."""
    return parse_json(read_capped(path, most))


def read_capped(path: str | Path, most: int) -> bytes:
    """The bytes of ``path``, read no further than ``most`` (a device or an endless file is
    not read to its end): a ValueError where there are more, OSError as ``open`` raises it."""
    with open(path, "rb") as file:
        data = file.read(most + 1)
    if len(data) > most:
        raise ValueError(f"over {most:,} bytes, more than vaelab ever writes there")
    return data


def parse_json(data: str | bytes) -> Any:
    """The JSON value of ``data``, or a ValueError that says why not in a few words."""
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise ValueError("not text") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg}: line {err.lineno}, column "
                         f"{err.colno})") from None
    except RecursionError:
        raise ValueError("not valid JSON (nested too deeply)") from None


def why_unreadable(path: str | Path, err: Exception) -> str:
    """Why a weights file that safetensors refused does not load, in one line: a pickle (as
    ``torch.save`` writes it, a zip of pickles, or a bare one) named as such, since vaelab
    never unpickles (loading a pickle can run any code in it); else the file is damaged."""
    if isinstance(err, OSError):
        return f"{path}: cannot be read ({err.strerror or err})"
    with open(path, "rb") as f:
        start = f.read(2)
    if start in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        return (f"{path}: a pickle (the torch.save format), which vaelab does not open, since "
                f"loading one can run code; vaelab reads weights in safetensors files only, "
                f"as vaelab train writes them")
    return f"{path}: unreadable ({err}); the file is damaged"


def as_path(value: object, what: str) -> Path:
    """``value``, a str or a path-like, as a Path; anything else refused in one line that
    begins with ``what``, such as "load_run takes a run's folder"."""
    if not isinstance(value, (str, os.PathLike)):
        raise VaelabError(f"{what} (a str or Path), not {type(value).__name__}")
    return Path(value)


def path_text(value: Any) -> Any:
    """A path given as a ``pathlib.Path`` (any ``os.PathLike``) as its text; else ``value``."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def quoted(path: object) -> str:
    """``path`` (or any value) as a command that vaelab prints names it: quoted where the
    shell would split or read it (a space, a quote), so that the command works as pasted."""
    if os.name == "nt":  # cmd, PowerShell and Git Bash all take "C:/a b/c" as one path
        text = str(path).replace("\\", "/")
        plain = text and not any(c in text for c in " \t&;,%'\"()^|<>=$`")
        return text if plain else f'"{text}"'
    return shlex.quote(str(path))


def command_flags(*given: tuple[str, object]) -> str:
    """The flags of a command that vaelab prints, as " NAME VALUE" each, in order, the value
    ``quoted``: a value of None or False leaves its flag out, and True gives the flag alone."""
    return "".join("" if value is None or value is False
                   else f" {name}" if value is True else f" {name} {quoted(value)}"
                   for name, value in given)


def exit_now(status: int = 0) -> NoReturn:
    """End this process with ``status`` at once, its output flushed, without Python's
    teardown (which frees PyTorch's modules one by one: 0.4 s or more, for nothing, after
    a command whose files are all written and closed)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(status)


@contextlib.contextmanager
def signals_to(handler: Any) -> Iterator[None]:
    """Ctrl-C (SIGINT) and SIGTERM go to ``handler`` (a function, or signal.SIG_DFL) while
    inside, and back to what they went to after. Only the main thread can set them; elsewhere
    nothing changes. A signal the process was started ignoring (SIGINT in a background job of
    a script, as `nohup cmd &` runs it) stays ignored, as the convention is, and one that C
    code set (Python sees no handler) is left to it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, handler)
                for number in (signal.SIGINT, signal.SIGTERM)
                if signal.getsignal(number) not in (signal.SIG_IGN, None)}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
