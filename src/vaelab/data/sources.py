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
import urllib.parse
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
    the file; one that cannot be connected to, or keeps silent, is not tried again for the
    other files. When no mirror serves a file, the error says why in a few words (offline:
    one line, no chatter before it). A folder that cannot be written is said first, not
    blamed on the mirrors.
    """
    import pooch
    import requests

    from vaelab.progress import on_terminal

    pooch.get_logger().setLevel(logging.WARNING)  # its own "Downloading data from ..." lines
    folder = root / spec.name
    if not _writable(folder):
        raise _unwritable(folder, spec, "permission denied")
    _remove_left_behind(folder)
    mirrors = mirrors_of(spec)  # $VAELAB_MIRROR's first, read once for every file
    gone: dict[str, str] = {}  # mirrors not to try again, and why
    for name in spec.file_names:
        if present(folder, name):
            continue
        failures: dict[str, str] = {}  # mirror: why, of this file's tries
        for mirror in [mirror for mirror in mirrors if mirror not in gone]:
            url, bar = mirror + name, _bar(name, progress and on_terminal())
            try:
                got = pooch.retrieve(url, known_hash=f"md5:{spec.md5[name]}", fname=name,
                                     path=folder, downloader=pooch.HTTPDownloader(
                                         progressbar=bar, timeout=TIMEOUT))
            except PermissionError as err:  # the folder's, not the mirror's
                raise _unwritable(folder, spec, err.strerror or "permission denied") from None
            except (requests.RequestException, ValueError, OSError) as err:
                failures[mirror] = _short_reason(err)
                if _lasting(err):
                    gone[mirror] = failures[mirror]
                continue
            finally:  # its line cleared, a stop's line or the next file's bar not after it
                if bar is not False:
                    bar.close()
            _as_umask_allows(Path(got))
            for failed, why in failures.items():  # a mirror gone before: said with its file
                log.warning("%s failed (%s); %s served it instead", failed + name, why, url)
            log.info("downloaded %s", url)
            break
        else:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            raise VaelabError(_none_served(name, [  # in the mirrors' order
                (mirror + name, failures[mirror] if mirror in failures else
                 f"{gone[mirror]} for an earlier file, not tried again")
                for mirror in mirrors]))
    return folder


def mirrors_of(spec: IdxDataset) -> tuple[str, ...]:
    """The base URLs a dataset's files are fetched from, in order: first the user's own
    mirror, where $VAELAB_MIRROR names one (its files at <VAELAB_MIRROR>/<name>/<file>, as
    a data folder holds them), then the dataset's published ones."""
    own = os.environ.get("VAELAB_MIRROR", "").strip()
    return ((f"{own.rstrip('/')}/{spec.name}/",) if own else ()) + spec.mirrors


def _lasting(err: Exception) -> bool:
    """Whether a mirror's failure is its own, not one file's: it could not be connected to,
    or kept silent (a mirror that aborts one request, or fails one file's TLS, is tried
    again for the next file)."""
    import requests

    text = str(err)
    if isinstance(err, requests.Timeout) or "Read timed out" in text:
        return True
    return (isinstance(err, requests.ConnectionError)
            and not isinstance(err, requests.exceptions.SSLError)
            and any(sign in text for sign in ("NewConnectionError", "NameResolutionError",
                                              "Failed to establish", "Connection refused",
                                              "Failed to resolve")))


def _bar(name: str, shown: bool) -> Any:
    """A download's bar, named by its file, where one is shown (a terminal); else False."""
    if not shown:
        return False
    from tqdm import tqdm

    # a total, which pooch sets to the file's size: tqdm's truth is undefined without one
    return tqdm(desc=name, total=1, unit="B", unit_scale=True, unit_divisor=1024, leave=False)


LEFT_FOR = 3600  # seconds after which a download's temporary file is one a killed one left
POOCHS_TEMPORARY = re.compile(r"tmp[a-z0-9_]{8}")  # tempfile's names, as pooch makes them


def _remove_left_behind(folder: Path) -> None:
    """The temporary files of downloads into ``folder``, in vaelab's own cache, that were
    killed (kill -9, a crash) before they could remove them: pooch's, named tmp and eight
    letters, digits or _, files (not links) an hour or more untouched (a download going on
    beside this one writes to its own every few seconds). A folder of the user's, and
    anything else, are left as they are."""
    if folder.parent != cache_root() or not folder.is_dir():
        return
    now = time.time()
    for path in folder.iterdir():
        with contextlib.suppress(OSError):
            if (POOCHS_TEMPORARY.fullmatch(path.name) and not path.is_symlink()
                    and path.is_file() and now - path.stat().st_mtime > LEFT_FOR):
                path.unlink()


def _unwritable(folder: Path, spec: IdxDataset, why: str) -> VaelabError:
    return VaelabError(f"{folder}: cannot be written ({why}), so {spec.name} cannot be "
                       f"downloaded there; give {named('--data-dir', 'data_dir')} or "
                       f"VAELAB_DATA a folder that can, or put its files "
                       f"({', '.join(spec.file_names)}) in one")


def _as_umask_allows(path: Path) -> None:
    """A downloaded file readable as the user's new files are (the temporary file it was
    renamed from is the owner's alone), for a data folder that others share. One that
    cannot be changed (another user's, placed there by a download beside this one) stays
    as it is."""
    with contextlib.suppress(OSError):
        path.chmod(0o666 & ~_umask())


def _umask() -> int:
    """The process's umask, read without setting it where Linux says it (setting it, even
    for an instant, would give another thread's new files that mask)."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _none_served(name: str, failures: list[tuple[str, str]]) -> str:
    reasons = {why for _, why in failures}
    if reasons == {UNREACHABLE}:
        which = "its mirror" if len(failures) == 1 else f"any of its {len(failures)} mirrors"
        proxies = {_proxy(url) for url, _ in failures} - {None}
        return (f"no mirror served {name}: could not reach {which} "
                f"({f'through the proxy {min(proxies)}' if proxies else 'no network'}?)")
    return f"no mirror served {name} ({'; '.join(f'{url}: {why}' for url, why in failures)})"


def _proxy(url: str) -> str | None:
    """The proxy that requests goes through for ``url``, as the environment sets it (its
    NO_PROXY too), without the user name and password it may hold; None for none."""
    from requests.utils import get_environ_proxies, select_proxy

    proxy = select_proxy(url, get_environ_proxies(url))
    if not proxy:
        return None
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _short_reason(err: Exception) -> str:
    import requests

    if isinstance(err, requests.ConnectTimeout):
        return UNREACHABLE
    if isinstance(err, requests.Timeout) or "Read timed out" in str(err):  # while sending too
        return TIMED_OUT
    if isinstance(err, requests.exceptions.SSLError):
        return "its TLS handshake failed"
    if isinstance(err, requests.ConnectionError) and ("aborted" in str(err).lower()
                                                      or "RemoteDisconnected" in str(err)):
        return "it closed the connection"
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
