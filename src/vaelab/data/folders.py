"""A folder of images as a dataset: its layout read, its files decoded on every core, and the
result cached so that an unchanged folder loads in a fraction of a second.

    photos/cat/001.png photos/dog/002.jpg ...   labelled: one sub-folder per class (sorted)
    photos/001.png photos/002.png ...           unlabelled
    photos/train/... photos/test/...            either of the above, split already

Hidden files and folders are skipped; files that are not images are counted and named in a
note when the folder is read (and when it loads from the cache with other such files than it
had then). The cache is keyed by every image's path, size and modification time (a changed
file has a new one) and by the size asked for; what a run records is the fingerprint of the
decoded pixels (``fingerprint``), so moving or copying a folder keeps its runs valid.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaelab.data.cached import Decoded, cache_path, read_cache, write_cache
from vaelab.data.decoding import (
    SUFFIXES,
    Chunk,
    check_room,
    checked,
    decode_files,
    different_sizes,
    told,
    unread,
)
from vaelab.errors import VaelabError

log = logging.getLogger("vaelab")

CHUNK = 400  # images per task handed to a worker process
PARALLEL_FROM = 2_000  # fewer images than this are decoded in this process: no start-up cost
SPLITS = ("train", "test")
ENDINGS = tuple(SUFFIXES)
FORK = sys.platform == "linux"  # elsewhere forking is unsafe or missing: one core decodes


@dataclass
class Listing:
    """The image files of a folder, in order, with their labels and split where it gives them."""

    files: list[str]
    labels: np.ndarray | None  # (N,) int64 class index, None when the folder has no classes
    classes: tuple[str, ...]
    split: np.ndarray | None  # (N,) 0 train, 1 test; None when the folder is not split
    stats: list[tuple[str, int, int]]  # (relative path, bytes, mtime in ns) of each file
    skipped: list[str]  # files that are not images
    notes: list[str] = field(default_factory=list)  # said when the folder is decoded


def list_folder(root: Path) -> Listing:
    """Read a folder's layout. Raises one line when it holds no images or mixes layouts."""
    dirs = _entries(root)[0]
    splits, others = [n for n in SPLITS if n in dirs], [f"{n}/" for n in dirs if n not in SPLITS]
    # A split beside other folders, or half a split, whose names would be taken as classes;
    # a class of trains beside buses and cars holds images, not class folders of its own.
    halved = len(splits) == 2 or any(not _entries(root / n)[1] for n in splits) or not others
    if splits and set(dirs) != set(SPLITS) and halved:
        named = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        held = " and ".join([*(f"{n}/" for n in splits), *([named] if named else [])])
        lacks = "".join(f" but no {n}/" for n in SPLITS if n not in splits)
        if named:
            hint = f" (move {named} out)" if "test" in splits else \
                f" (rename a validation folder test/, or move {named} out)"
        else:
            hint = f", or give {root / 'train'} as the dataset (--test-fraction holds some " \
                f"of it out)" if "train" in splits else ""
        raise VaelabError(f"{root}: holds {held}{lacks}; a split folder holds train/ and test/ "
                          f"and nothing else{hint}")
    if set(dirs) == set(SPLITS):
        parts = [_list_split(root / name, root) for name in SPLITS]
        labelled = {part.labels is not None for part in parts}
        if len(labelled) > 1:
            raise VaelabError(f"{root}: train/ has class folders and test/ has none, or the "
                              f"other way round; give both the same layout")
        classes = tuple(sorted(set(parts[0].classes) | set(parts[1].classes)))
        untrained = sorted(set(parts[1].classes) - set(parts[0].classes))
        if untrained:
            one, names = len(untrained) == 1, ", ".join(f"test/{name}" for name in untrained)
            raise VaelabError(f"{root}: train/ has no images of {names}, so no model could learn "
                              f"{'it' if one else 'them'}; add {'some' if one else 'them'} to "
                              f"train/ or take {'it' if one else 'them'} out")
        untested = sorted(set(parts[0].classes) - set(parts[1].classes))
        notes = parts[0].notes + parts[1].notes
        if untested:
            one = len(untested) == 1
            notes.append(f"{root}: test/ has no images of {'class' if one else 'classes'} "
                         f"{', '.join(untested)}, so the measures on the test images leave "
                         f"{'it' if one else 'them'} out")
        labels = np.concatenate([np.array([classes.index(part.classes[i]) for i in part.labels],
                                          dtype=np.int64) for part in parts]) \
            if labelled == {True} else None
        split = np.concatenate([np.full(len(p.files), s, np.int8) for s, p in enumerate(parts)])
        return Listing(parts[0].files + parts[1].files, labels, classes, split,
                       parts[0].stats + parts[1].stats, parts[0].skipped + parts[1].skipped,
                       notes)
    return _list_split(root, root)


def _entries(folder: Path) -> tuple[list[str], list[os.DirEntry], list[str]]:
    """Sub-folders, image files and other files of one folder, hidden ones left out, sorted.
    An image's name on what is not a file (a broken link, a pipe) counts as another file."""
    dirs, images, others = [], [], []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        raise VaelabError(f"{folder}: cannot be read ({err.strerror}); repair it, or move it "
                          f"out of the images' folder") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.name.lower().endswith(ENDINGS):  # and its folders' names, in its path
            _check_name(entry.path)
        if entry.is_dir():
            dirs.append(entry.name)
        elif entry.name.lower().endswith(ENDINGS) and entry.is_file():
            images.append(entry)
        else:
            others.append(entry.path)
    return dirs, images, others


def _check_name(path: str) -> None:
    """Refuse, in one line, a folder or an image whose name is not UTF-8 text (from an archive
    made on another system, say), which no figure, page or config.json could name."""
    try:
        path.encode()
    except UnicodeEncodeError:
        parts = Path(path).parts  # the first of them that is not UTF-8, and those above it
        bad = next(k for k, part in enumerate(parts)  # bytes not UTF-8, as Python escapes them
                   if any("\udc80" <= c <= "\udcff" for c in part))
        shown = os.fsencode(Path(*parts[:bad + 1])).decode(errors="replace")
        raise VaelabError(f"{shown}: its name is not UTF-8 text (it was made on another "
                          f"system, say); rename it (convmv -f latin1 -t utf8 -r --notest "
                          f"FOLDER renames every name in a folder)") from None


def _walk(folder: Path, above: frozenset[str]) -> tuple[list[os.DirEntry], list[str]]:
    """Every image under ``folder``, at any depth, in a stable order; and the other files,
    among them a link back to ``folder`` or to one of the folders ``above`` it (a loop)."""
    above = above | {os.path.realpath(folder)}
    dirs, images, others = _entries(folder)
    for name in dirs:
        if os.path.realpath(folder / name) in above:
            others.append(str(folder / name))
            continue
        more, more_others = _walk(folder / name, above)
        images += more
        others += more_others
    return images, others


def _list_split(folder: Path, root: Path) -> Listing:
    dirs, top, skipped = _entries(folder)
    classes, files, labels, empty = [], [], [], []
    here = Path(os.path.realpath(folder))
    above = frozenset(map(str, [here, *here.parents]))
    for name in dirs:
        if os.path.realpath(folder / name) in above:  # a link back up: a loop, no class
            skipped.append(str(folder / name))
            continue
        images, others = _walk(folder / name, above)
        skipped += others
        if images:
            labels += [len(classes)] * len(images)
            classes.append(name)
            files += images
        else:
            empty.append(name)
    notes = []
    if len(classes) == 1 and not _entries(folder / classes[0])[1]:  # one level too high?
        notes.append(f"{folder}: its one class folder, {classes[0]}/, holds its images in "
                     f"folders of its own; to take those as the classes, give "
                     f"{folder / classes[0]} as the dataset")
    if classes and empty:  # a class forgotten when the images were copied, say
        one = len(empty) == 1
        notes.append(f"{folder}: {', '.join(f'{n}/' for n in empty)} "
                     f"{'holds' if one else 'hold'} no images, so {'it is' if one else 'they are'}"
                     f" no class")
    if classes and top:
        raise VaelabError(f"{folder}: holds class folders ({', '.join(classes[:3])}"
                          f"{', ...' if len(classes) > 3 else ''}) and {len(top)} "
                          f"{'images' if len(top) > 1 else 'image'} beside them, such as "
                          f"{top[0].name}; move {'those' if len(top) > 1 else 'it'} into a "
                          f"class folder")
    if not classes:
        files = top
    if not files:
        raise VaelabError(f"{folder}: holds no images (PNG, JPEG, BMP, GIF, WebP or TIFF "
                          f"files, in it or in one sub-folder per class){unread(skipped)}")
    start = len(str(root)) + 1
    stats = []
    for entry in files:
        st = entry.stat()
        stats.append((entry.path[start:], st.st_size, st.st_mtime_ns))
    return Listing([entry.path for entry in files],
                   np.array(labels, dtype=np.int64) if classes else None,
                   tuple(classes), None, stats, skipped, notes)


def load_folder(root: Path, image_size: int | None, *, progress: bool = True,
                workers: int | None = None) -> Decoded:
    """The folder's images, from the cache when the folder has not changed since; their notes
    (files left out, images scaled up, ...) are said when the folder is read and kept in
    ``notes``, of paths below the folder, for the run that learns from them to record."""
    listing = list_folder(root)
    cached = cache_path(listing, image_size)
    left_out = tuple(os.path.relpath(path, root) for path in listing.skipped)
    decoded = read_cache(cached)
    notes = listing.notes
    if listing.skipped:
        what = "files that are not images" if len(listing.skipped) > 1 else \
            "file that is not an image"
        notes = [f"{root}: left out {len(listing.skipped)} {what}, such as "
                 f"{left_out[0]}{unread(listing.skipped)}", *notes]  # HEIC: what to do
        # Said when the folder is read, and again only if its other files are not those it
        # had then (a copy of the images with a README beside them loads from their cache).
        if decoded is not None and decoded.left_out not in (None, left_out):
            log.warning("%s", notes[0])
    if decoded is None:
        for note in notes:
            log.warning("%s", note)
        check_room(listing.files, image_size, root)
        chunk = decode_all(listing.files, image_size, progress=progress, workers=workers,
                           root=root)
        said = told(chunk, root, image_size, listing.files)
        for note in said:
            log.warning("%s", note)
        decoded = Decoded(chunk.images.transpose(0, 3, 1, 2).copy(), listing.labels,
                          listing.classes, listing.split, left_out,
                          tuple(_below(note, root) for note in said))  # a copy's too
        write_cache(cached, decoded)
    return dataclasses.replace(decoded, notes=(*(_below(note, root) for note in notes),
                                               *decoded.notes))


def _below(note: str, root: Path) -> str:
    """A note of the folder as a run records it, of paths below the folder (a run names the
    folder already, and may be read where it has moved): "train/: its one class ..."."""
    for folder, shown in ((root, ""), *((root / part, f"{part}/: ") for part in SPLITS)):
        if note.startswith(f"{folder}: "):
            return shown + note.removeprefix(f"{folder}: ")
    return note


def decode_all(paths: list[str], size: int | None, *, progress: bool = True,
               workers: int | None = None, root: Path) -> Chunk:
    """Decode every file of the folder ``root``, in chunks spread over the cores (on Linux),
    with a progress bar. Files that cannot be read are an error that names them after all are
    read; images of another size than the first (without ``size``) at once, and then the
    chunks not yet begun are dropped."""
    from vaelab.progress import progress_bar

    workers = workers or available_cores()
    parts = [paths[i:i + CHUNK] for i in range(0, len(paths), CHUNK)]
    chunks = []
    with progress_bar(len(paths), desc=f"reading {root.name}", unit="image",
                      enabled=progress, leave=False, dynamic_ncols=True) as bar:
        if workers == 1 or len(paths) < PARALLEL_FROM or not FORK:
            for part in parts:
                chunks.append(checked(decode_files(part, size), paths, root))
                bar.update(len(part))
        else:
            import multiprocessing

            # Forked workers start at once and never import the caller's script again (as
            # spawned ones would: a script without a __main__ guard would run twice); they
            # run Pillow and NumPy only, none of PyTorch's threads.
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(min(workers, len(parts)), mp_context=context) as pool:
                try:
                    for part, chunk in zip(parts, pool.map(decode_files, parts,
                                                           [size] * len(parts)), strict=True):
                        chunks.append(checked(chunk, paths, root))
                        bar.update(len(part))
                except VaelabError:  # the chunks not yet begun are not decoded in vain
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
        unreadable = [file for chunk in chunks for file in chunk.unreadable]
        decoded = [chunk for chunk in chunks if chunk.images is not None]
        if any(chunk.images.shape[1:3] != decoded[0].images.shape[1:3] for chunk in decoded):
            raise VaelabError(different_sizes(paths, root, [path for path, _ in unreadable]))
        if unreadable:  # in the bar: no line says the images of a folder that fails were read
            (path, why), more = unreadable[0], len(unreadable) - 1
            others = f", nor can {more:,} more (such as {unreadable[1][0]})" if more else ""
            them = "them" if more else "it"
            raise VaelabError(f"{path}: cannot be read as an image ({why}){others}; replace "
                              f"{them} or remove {them} from the folder")
    chunks = decoded
    grey = sum(chunk.grey for chunk in chunks)
    enlarged = [path for chunk in chunks for path in chunk.enlarged]
    cropped = [path for chunk in chunks for path in chunk.cropped]
    colour = next((chunk.colour for chunk in chunks if chunk.colour), None)
    stored_grey = next((chunk.stored_grey for chunk in chunks if chunk.stored_grey), None)
    stored = sum(chunk.grey_in_colour for chunk in chunks)  # before grey chunks are made colour
    if len({chunk.images.shape[3] for chunk in chunks}) > 1:  # grey chunks beside colour ones
        grey += sum(len(chunk.images) for chunk in chunks if chunk.images.shape[3] == 1)
        chunks = [Chunk(np.repeat(c.images, 3, axis=3) if c.images.shape[3] == 1 else c.images)
                  for c in chunks]
    return Chunk(np.concatenate([chunk.images for chunk in chunks]), grey=grey,
                 enlarged=enlarged, cropped=cropped, colour=colour, grey_in_colour=stored,
                 stored_grey=stored_grey)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
