"""Where dataset files are looked for, and their checked download.

In order: the explicit data folder, $VAELAB_DATA, the user cache, and /usr/share/datasets (where
Debian's dataset packages put them). Each root holds one folder per dataset:
<root>/mnist/train-images-idx3-ubyte.gz, the files gzipped or not.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vaelab.errors import VaelabError
from vaelab.files import writable

if TYPE_CHECKING:
    from vaelab.data.registry import IdxDataset

log = logging.getLogger("vaelab")

SYSTEM_ROOT = Path("/usr/share/datasets")  # where Debian's dataset packages put their files
UNREACHABLE = "could not connect"  # why a mirror failed, when there seems to be no network


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
    if env and _writable(Path(env).expanduser()):
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
    and only then renamed into place, so a failed download leaves nothing behind. A mirror
    that fails is named only once another has served the file; when none does, the error
    says why in a few words (offline: one line, no chatter before it).
    """
    import pooch
    import requests

    from vaelab.progress import on_terminal

    pooch.get_logger().setLevel(logging.WARNING)  # its own "Downloading data from ..." lines
    folder = root / spec.name
    for name in spec.file_names:
        if present(folder, name):
            continue
        failures: list[tuple[str, str]] = []  # (url, why)
        for mirror in spec.mirrors:
            url = mirror + name
            try:
                pooch.retrieve(url, known_hash=f"md5:{spec.md5[name]}", fname=name,
                               path=folder, progressbar=progress and on_terminal())
            except (requests.RequestException, ValueError, OSError) as err:
                failures.append((url, _short_reason(err)))
                continue
            for failed, why in failures:
                log.warning("%s failed (%s); %s served it instead", failed, why, url)
            log.info("downloaded %s", url)
            break
        else:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            raise VaelabError(_none_served(name, failures))
    return folder


def _none_served(name: str, failures: list[tuple[str, str]]) -> str:
    reasons = {why for _, why in failures}
    if reasons == {UNREACHABLE}:
        which = "its mirror" if len(failures) == 1 else f"any of its {len(failures)} mirrors"
        return f"no mirror served {name}: could not reach {which} (no network?)"
    return f"no mirror served {name} ({'; '.join(f'{url}: {why}' for url, why in failures)})"


def _short_reason(err: Exception) -> str:
    import requests

    if isinstance(err, requests.ConnectionError):  # no network, no such host, refused
        return UNREACHABLE
    if isinstance(err, requests.Timeout):
        return "timed out"
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if "hash" in text.lower() and "match" in text.lower():
        return "checksum mismatch, file rejected"
    return text.partition(" for url: ")[0][:160]  # requests' '404 Client Error: Not Found'
