"""Image files into arrays: what the worker processes run when a folder is read.

Only NumPy and Pillow here (no PyTorch), so that a worker process starts in a fraction of a
second. Every image comes out as uint8 (H, W, C), turned as its EXIF orientation says: C = 1
for grey modes and for a palette of greys, 3 for everything else. 16- and 32-bit integers come
down to 8 bits, floats in [0, 1] are scaled to 0-255, and a transparent part is black: what
lies under it is no part of the image.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vaelab.errors import VaelabError, named
from vaelab.memory import physical_memory

GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
DEEP = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})  # more than 8 bits a pixel
ORIENTATION = 0x0112  # the EXIF tag; 5 to 8 turn the image a quarter, so swap its sides
SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jfif", ".bmp", ".gif", ".webp", ".tif",
                      ".tiff"})
UNREAD = frozenset({".heic", ".heif", ".avif", ".jxl", ".jp2", ".psd", ".svg", ".raw", ".cr2",
                    ".nef", ".arw", ".dng"})  # images of formats that vaelab does not read


SIZES_DIFFER = "images of different sizes"  # a chunk's error, told with every size by the caller
MOST_SIZES_NAMED = 3
ENLARGED = 4  # an image scaled up more than this many times is mostly its scaling's blur
CROPPED = 1.5  # an image longer than this many times its width loses over a third to a square


@dataclass
class Chunk:
    """A run of decoded images: one array when they share a size, or why they could not."""

    images: np.ndarray | None  # (n, H, W, C) uint8, C = 3 if any image of the chunk is colour
    grey: int = 0  # how many were grey and made colour to match the others
    error: str | None = None  # SIZES_DIFFER, when the images are not all one size
    enlarged: list[str] = field(default_factory=list)  # scaled up more than ENLARGED times
    cropped: list[str] = field(default_factory=list)  # sides further apart than CROPPED
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, why) of each
    colour: str | None = None  # the first colour image, which made the grey ones colour
    grey_in_colour: int = 0  # colour images the same in all three channels
    stored_grey: str | None = None  # the first of them


def fit(image: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to ``size`` and cut the middle ``size`` x ``size`` square out."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    scale = size / min(width, height)
    scaled = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(scaled, Image.Resampling.LANCZOS if scale < 1
                         else Image.Resampling.BICUBIC)
    left, top = (scaled[0] - size) // 2, (scaled[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def to_array(image: Image.Image, size: int | None) -> np.ndarray:
    """A Pillow image as uint8 (H, W, C), brought to ``size`` x ``size`` when asked."""
    palette = image.mode in ("P", "PA")
    if palette or "A" in image.mode or "a" in image.mode or "transparency" in image.info:
        image = on_black(image)
    if image.mode in GREY_MODES and image.mode != "L":
        image = _eight_bits(image)
    elif image.mode not in GREY_MODES and image.mode != "RGB":
        image = image.convert("RGB")
    if size is not None:
        image = fit(image, size)
    array = np.asarray(image, dtype=np.uint8)
    if palette and (array[..., :1] == array).all():  # a palette of greys is a grey image
        return array[..., :1]
    return array[:, :, None] if array.ndim == 2 else array


def on_black(image: Image.Image) -> Image.Image:
    """An image as it shows over black: L for a grey one, RGB else."""
    key = image.info.get("transparency")
    if image.mode in DEEP or image.mode == "1":  # transparent where it holds one value
        grey = np.asarray(_eight_bits(image)).copy()
        if isinstance(key, int | float):
            grey[np.asarray(image) == key] = 0
        return Image.fromarray(grey)
    grey = image.mode in ("LA", "La", "L")
    rgba = image.convert("LA" if image.mode == "La" else image.mode).convert("RGBA")
    shown = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return shown.convert("L" if grey else "RGB")


def _eight_bits(image: Image.Image) -> Image.Image:
    """A grey image of any depth as mode L, each image by its own values: 16-bit ones by their
    high byte, 32-bit ones too where they reach past 255 (up to 65,535; beyond, clipped),
    floats in [0, 1] times 255 (others clipped to 0-255)."""
    if image.mode not in DEEP:
        return image.convert("L")
    values = np.nan_to_num(np.asarray(image, dtype=np.float64))
    if image.mode.startswith("I;16") or (image.mode == "I" and 255 < values.max() <= 65535):
        values = values / 256
    elif image.mode == "F" and values.max() <= 1:
        values = values * 255
    return Image.fromarray(np.clip(np.floor(values + 0.5 * (image.mode == "F")), 0, 255)
                           .astype(np.uint8))


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1: as stored), read where a file can hold it: a PNG's getexif
    decodes the whole image, which a header's size must not cost."""
    if image.format not in ("JPEG", "MPO", "TIFF", "WEBP") and "exif" not in image.info:
        return 1
    return image.getexif().get(ORIENTATION, 1) or 1


def upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says (a phone's portrait photo stands up)."""
    return image if _orientation(image) == 1 else ImageOps.exif_transpose(image)


def shown_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as the image is shown, its EXIF orientation followed."""
    width, height = image.size
    return (height, width) if _orientation(image) in (5, 6, 7, 8) else (width, height)


@contextmanager
def opened(path: str) -> Iterator[Image.Image]:
    """Pillow's image of ``path``, without its warning that an image of over 89 million pixels
    could be a decompression bomb: these are the user's own images, and Pillow refuses one
    of twice that (DecompressionBombError), which is named as unreadable."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            yield image


def read_image(path: str, size: int | None) -> tuple[np.ndarray, float, float]:
    """The image as ``to_array`` gives it, how many times it was scaled up (1 if not), and
    its longer side over its shorter, which ``size`` cuts to a square."""
    with opened(path) as image:
        image.load()
        image = upright(image)
        short = max(1, min(image.size))
        return (to_array(image, size), max(1.0, (size or 0) / short),
                max(image.size) / short if size else 1.0)


def decode_files(paths: list[str], size: int | None) -> Chunk:
    """Decode ``paths`` in order, noting each file that cannot be read and going on. Without
    ``size`` they must all share one size."""
    arrays, enlarged, cropped, unreadable, read = [], [], [], [], []
    for path in paths:
        try:
            array, scale, long = read_image(path, size)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as err:
            why = str(err).splitlines()[0] if str(err) else type(err).__name__
            unreadable.append((path, why))
            continue
        if arrays and array.shape[:2] != arrays[0].shape[:2]:
            return Chunk(None, error=SIZES_DIFFER, unreadable=unreadable)
        arrays.append(array)
        read.append(path)
        if scale > ENLARGED:
            enlarged.append(path)
        if long > CROPPED:
            cropped.append(path)
    chunk = stack(arrays, read) if arrays else Chunk(None)
    chunk.enlarged, chunk.cropped, chunk.unreadable = enlarged, cropped, unreadable
    return chunk


def checked(chunk: Chunk, paths: list[str], root: str | os.PathLike) -> Chunk:
    """The chunk, or, where its images are of several sizes, an error with all of ``paths``'
    sizes, not the chunk's alone."""
    if chunk.error == SIZES_DIFFER:
        raise VaelabError(different_sizes(paths, root, [path for path, _ in chunk.unreadable]))
    return chunk


def stack(arrays: list[np.ndarray], paths: list[str]) -> Chunk:
    """One array of images of one size; grey ones made colour where any is colour."""
    channels = max(a.shape[2] for a in arrays)
    grey = sum(a.shape[2] < channels for a in arrays)
    stored = [a.shape[2] == 3 and bool((a[..., :1] == a).all()) for a in arrays]
    colour = next((p for a, p, s in zip(arrays, paths, stored, strict=True)
                   if a.shape[2] == 3 and not s), None)
    if grey:
        arrays = [np.repeat(a, channels, axis=2) if a.shape[2] < channels else a
                  for a in arrays]
    return Chunk(np.stack(arrays), grey=grey, colour=colour, grey_in_colour=sum(stored),
                 stored_grey=next((p for p, s in zip(paths, stored, strict=True) if s), None))


def unread(files: Sequence[str]) -> str:
    """Of the files a folder holds beside its images, those of image formats that vaelab does
    not read, as a clause for the error that it holds no images: what to do with them."""
    counts = Counter(os.path.splitext(file)[1].lower() for file in files)
    found = [f"{counts[suffix]:,} {suffix}" for suffix in sorted(UNREAD) if counts[suffix]]
    many = sum(counts[suffix] for suffix in UNREAD) > 1
    return (f"; it holds {', '.join(found)} file{'s' * many}, which vaelab does not read: "
            f"convert {'them' if many else 'it'} to PNG or JPEG") if found else ""


def told(chunk: Chunk, root: os.PathLike, size: int | None, paths: Sequence[str]) -> list[str]:
    """What a folder's decoding says once, when it is read: grey images made colour, or grey
    ones stored as colour (three times the work), images scaled up into a blur, images that
    lose over a third to the square, and images of one flat colour (``paths``: the files of
    the chunk's images, in order)."""
    notes, n, name = [], len(chunk.images), lambda path: os.path.relpath(path, root)
    flat = chunk.images.reshape(n, -1, chunk.images.shape[-1])  # of one colour: each channel
    blank = np.flatnonzero((flat.min(axis=1) == flat.max(axis=1)).all(axis=1))
    if len(blank):  # black drawings on a transparent background, read as black on black
        which = ("every image is" if len(blank) == n else
                 f"{len(blank):,} of the {n:,} images {'is' if len(blank) == 1 else 'are'}")
        notes.append(f"{root}: {which} blank, one flat colour throughout (such as "
                     f"{name(paths[blank[0]])}), with nothing to learn; a transparent "
                     f"background is read as black, so drawings in black on one vanish: put "
                     f"them on white first")
    if chunk.grey_in_colour and chunk.grey + chunk.grey_in_colour == n:  # every one is grey
        stored = ("every image is" if chunk.grey_in_colour == n else
                  f"{chunk.grey_in_colour:,} of the {n:,} images are")
        notes.append(f"{root}: {stored} grey stored as colour (the same in all three "
                     f"channels, such as {name(chunk.stored_grey)}), so all train as colour, "
                     f"with three times the work of grey; save them as grey images to train "
                     f"on one channel")
    elif chunk.grey:
        were = "image was" if chunk.grey == 1 else "images were"
        notes.append(f"{root}: {chunk.grey:,} grey {were} made colour (grey in all three "
                     f"channels) to match colour images such as {name(chunk.colour)}")
    if chunk.enlarged:
        many = len(chunk.enlarged)
        them, were = ("them", "were") if many > 1 else ("it", "was")
        notes.append(f"{root}: {many} image{'s' * (many > 1)} with a side under {size / 4:g} "
                     f"pixels {were} scaled up more than four times to {size} x {size} (such "
                     f"as {name(chunk.enlarged[0])}), which blurs {them}; leave {them} out or "
                     f"give a smaller --image-size")
    if chunk.cropped:
        many = len(chunk.cropped)
        notes.append(f"{root}: {many} image{'s' * (many > 1)} more than {CROPPED:g} times as "
                     f"long as wide (such as {name(chunk.cropped[0])}) lost over a third to "
                     f"the middle {size} x {size} square; crop {'them' if many > 1 else 'it'} "
                     f"as wanted before, or leave {'them' if many > 1 else 'it'} out")
    return notes


def check_room(files: list[str], size: int | None, root: os.PathLike) -> None:
    """Refuse, before any is decoded, images that could not be trained on in this machine's
    memory at the size of the first (as its header says; or ``size``): a folder of photos,
    say, given without --image-size."""
    try:
        with opened(files[0]) as first:
            (width, height), grey = (size, size) if size else first.size, first.mode in GREY_MODES
    except (OSError, ValueError, Image.DecompressionBombError):
        return  # said in one line with the others that cannot be read
    # its bytes, three times over: the chunks, their concatenation, the cache's file
    need, have = 3 * (1 if grey else 3) * width * height * len(files), physical_memory()
    if have is None or need <= have:
        return
    option = named("--image-size", "image_size")
    way = (f"give a smaller {option}" if size else f"give {option} (64, say) to read them "
           f"smaller" if min(width, height) > 64 else "keep fewer of them in the folder")
    raise VaelabError(f"{root}: its {len(files):,} images of {width} x {height} pixels, such "
                      f"as {os.path.relpath(files[0], root)}, would take {need / 2**30:.1f} GiB "
                      f"to read, more than this machine's {have / 2**30:.1f} GiB of memory; "
                      f"{way}")


def different_sizes(paths: list[str], root: str | os.PathLike,
                    unreadable: Sequence[str] = ()) -> str:
    """Why the images under ``root`` need --image-size: how many there are of each size and
    an image of each (by its path in the folder; the most common size's too, since where
    every size is rare none is the rule). Reads the files' headers only (about 40
    microseconds a file). Files that cannot be read, whose header fails or that are among
    ``unreadable`` (found so by decoding), are counted too: one message tells all that the
    folder needs."""
    sizes: dict[tuple[int, int], list[str]] = {}
    failed = set(unreadable)
    for path in paths:
        try:
            if path in failed:
                continue
            with opened(path) as image:
                sizes.setdefault(shown_size(image), []).append(path)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            failed.add(path)
    unreadable = [os.path.relpath(path, root) for path in paths if path in failed]
    ranked = sorted(sizes.items(), key=lambda item: -len(item[1]))
    named = ranked if len(ranked) <= MOST_SIZES_NAMED + 1 else ranked[:MOST_SIZES_NAMED]
    parts = []  # one more size is named as it is, not as "1 other size"
    for (width, height), members in named:
        n, such = len(members), os.path.relpath(members[0], root)
        parts.append(f"{n:,} {'is' if n == 1 else 'are'} {width}x{height} (such as {such})")
    rest = sum(len(members) for _, members in ranked[len(named):])
    others = (f", and {len(ranked) - len(named)} other sizes ({rest:,} image"
              f"{'s' * (rest != 1)})" if rest else "")
    bad = len(unreadable)
    also = (f"; and {bad:,} file{'s' * (bad != 1)} cannot be read as images (such as "
            f"{unreadable[0]}): replace or remove {'them' if bad != 1 else 'it'}" if bad else "")
    return (f"{root}: the images are not all one size: {', '.join(parts)}{others}; give "
            f"--image-size N to bring every image to N x N{also}")


def resize_all(images: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, size, size, C), each image as ``fit`` brings it."""
    grey = images.shape[3] == 1
    out = [to_array(Image.fromarray(image[:, :, 0] if grey else image), size)
           for image in images]
    return np.stack(out)
