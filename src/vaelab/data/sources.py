"""Where dataset files are looked for, and their checked download.

In order: the explicit data folder, $VAELAB_DATA, the user cache, and /usr/share/datasets (where
Debian's dataset packages put them). Each root holds one folder per dataset:
<root>/mnist/train-images-idx3-ubyte.gz, the files gzipped or not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaelab.errors import VaelabError, named
from vaelab.files import writable

if TYPE_CHECKING:
    from vaelab.data.registry import IdxDataset

log = logging.getLogger("vaelab")

SYSTEM_ROOT = Path("/usr/share/datasets")  # where Debian's dataset packages put their files
UNREACHABLE = "could not connect"  # why a mirror failed, when there seems to be no network
TIMED_OUT = "timed out"  # a mirror that connected, then sent nothing for TIMEOUT seconds
TIMEOUT = 30  # seconds a mirror may keep silent, connecting or while sending a file


def cache_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("vaelab", appauthor=False))


def search_roots(data_dir: str | Path | None = None) -> list[Path]:
    roots = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("VAELAB_DATA"):
        roots.append(Path(os.environ["VAELAB_DATA"]))
    roots += [cache_root(), *[SYSTEM_ROOT] * sys.platform.startswith("linux")]  # Debian's
    return [root.expanduser() for root in roots]


def download_root(data_dir: str | Path | None = None) -> Path:
    """Where downloads go: the folder given, else $VAELAB_DATA if it can be written to, else
    the user cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("VAELAB_DATA")
    if env and not Path(env).expanduser().is_file() and _writable(Path(env).expanduser()):
        return Path(env).expanduser()
    return cache_root()


def _writable(folder: Path) -> bool:
    """Whether files can be made in ``folder``, or in the nearest parent that exists."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return writable(folder)


def present(folder: Path, name: str) -> Path | None:
    """The file itself or its uncompressed twin, whichever exists."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find(spec: IdxDataset, data_dir: str | Path | None = None) -> Path | None:
    """The first folder, in search order, that holds all of a dataset's files."""
    for root in search_roots(data_dir):
        folder = root / spec.name
        if all(present(folder, name) for name in spec.file_names):
            return folder
    return None


def missing_message(spec: IdxDataset, data_dir: str | Path | None, why: str) -> str:
    looked = ", ".join(str(root / spec.name) for root in search_roots(data_dir))
    return (
        f"{spec.name} not found (looked in {looked}) and {why}. Put the four files "
        f"({', '.join(spec.file_names)}) in {download_root(data_dir) / spec.name}, "
        f"or set VAELAB_DATA to a folder that holds {spec.name}/"
    )


def fetch(spec: IdxDataset, root: Path, *, progress: bool = True) -> Path:
    """Download the files missing under ``root/<name>``, trying each mirror in turn.

    Each archive is streamed to a temporary file beside its destination, its MD5 checked,
    and only then renamed into place (readable as the user's other files are), so a failed
    download leaves nothing behind. A mirror that fails is named only once another has served
    the file; one that cannot be reached, or keeps silent, is not tried again for the other
    files. When no mirror serves a file, the error says why in a few words (offline: one
    line, no chatter before it). A folder that cannot be written is said first, not blamed
    on the mirrors.
    """
    import pooch
    import requests

    from vaelab.progress import on_terminal

    pooch.get_logger().setLevel(logging.WARNING)  # its own "Downloading data from ..." lines
    folder = root / spec.name
    if not _writable(folder):
        raise _unwritable(folder, spec, "permission denied")
    _remove_left_behind(folder)
    gone: dict[str, str] = {}  # mirrors not to try again, and why
    for name in spec.file_names:
        if present(folder, name):
            continue
        failures: list[tuple[str, str]] = []  # (url, why), of this file's tries
        for mirror in [mirror for mirror in spec.mirrors if mirror not in gone]:
            url, bar = mirror + name, _bar(name, progress and on_terminal())
            try:
                got = pooch.retrieve(url, known_hash=f"md5:{spec.md5[name]}", fname=name,
                                     path=folder, downloader=pooch.HTTPDownloader(
                                         progressbar=bar, timeout=TIMEOUT))
            except PermissionError as err:  # the folder's, not the mirror's
                raise _unwritable(folder, spec, err.strerror or "permission denied") from None
            except (requests.RequestException, ValueError, OSError) as err:
                failures.append((url, _short_reason(err)))
                if failures[-1][1] in (UNREACHABLE, TIMED_OUT):
                    gone[mirror] = failures[-1][1]
                continue
            finally:  # its line cleared, a stop's line or the next file's bar not after it
                if bar is not False:
                    bar.close()
            _as_umask_allows(Path(got))
            for failed, why in failures:  # a mirror gone before: said with its first file
                log.warning("%s failed (%s); %s served it instead", failed, why, url)
            log.info("downloaded %s", url)
            break
        else:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            given_up = [(mirror + name, why) for mirror, why in gone.items()
                        if (mirror + name, why) not in failures]
            raise VaelabError(_none_served(name, given_up + failures))
    return folder


def _bar(name: str, shown: bool) -> Any:
    """A download's bar, named by its file, where one is shown (a terminal); else False."""
    if not shown:
        return False
    from tqdm import tqdm

    # a total, which pooch sets to the file's size: tqdm's truth is undefined without one
    return tqdm(desc=name, total=1, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


LEFT_FOR = 3600  # seconds after which a download's temporary file is one a killed one left


def _remove_left_behind(folder: Path) -> None:
    """The temporary files of downloads into ``folder`` that were killed (kill -9, a crash)
    before they could remove them: pooch's tmpXXXXXXXX files, an hour or more untouched (a
    download going on beside this one writes to its own every few seconds)."""
    if not folder.is_dir():
        return
    now = time.time()
    for path in folder.glob("tmp*"):
        with contextlib.suppress(OSError):
            if path.is_file() and now - path.stat().st_mtime > LEFT_FOR:
                path.unlink()


def _unwritable(folder: Path, spec: IdxDataset, why: str) -> VaelabError:
    return VaelabError(f"{folder}: cannot be written ({why}), so {spec.name} cannot be "
                       f"downloaded there; give {named('--data-dir', 'data_dir')} or "
                       f"VAELAB_DATA a folder that can, or put its files "
                       f"({', '.join(spec.file_names)}) in one")


def _as_umask_allows(path: Path) -> None:
    """A downloaded file readable as the user's new files are (the temporary file it was
    renamed from is the owner's alone), for a data folder that others share."""
    mask = os.umask(0)
    os.umask(mask)
    path.chmod(0o666 & ~mask)


def _none_served(name: str, failures: list[tuple[str, str]]) -> str:
    reasons = {why for _, why in failures}
    if reasons == {UNREACHABLE}:
        which = "its mirror" if len(failures) == 1 else f"any of its {len(failures)} mirrors"
        proxy = next((address for scheme, address in urllib.request.getproxies().items()
                      if scheme in ("https", "http", "all")), None)  # what requests goes by
        return (f"no mirror served {name}: could not reach {which} "
                f"({f'through the proxy {proxy}' if proxy else 'no network'}?)")
    return f"no mirror served {name} ({'; '.join(f'{url}: {why}' for url, why in failures)})"


def _short_reason(err: Exception) -> str:
    import requests

    if isinstance(err, requests.ConnectTimeout):
        return UNREACHABLE
    if isinstance(err, requests.Timeout) or "Read timed out" in str(err):  # while sending too
        return TIMED_OUT
    if isinstance(err, requests.ConnectionError):  # no network, no such host, refused
        return UNREACHABLE
    cut = re.search(r"IncompleteRead\((\d+) bytes read, (\d+) more expected", str(err))
    if cut:  # the connection closed partway through the file
        done, more = int(cut[1]), int(cut[2])
        return (f"the connection closed after {done / 2**20:.1f} of "
                f"{(done + more) / 2**20:.1f} MB")
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "hash" in text.lower() and "match" in text.lower():
        return "checksum mismatch, file rejected"
    return text.partition(" for url: ")[0][:160]  # requests' '404 Client Error: Not Found'
