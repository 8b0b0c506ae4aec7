"""The checks behind the settings' dataclasses: each value in range and of the right kind,
or a ``ConfigError`` that names the setting; and how a field shows on the command line."""

from __future__ import annotations

import math
from typing import Any, get_args

from vaelab.errors import ConfigError, did_you_mean

NOISES = ("gaussian", "mask")  # --noise KIND:LEVEL


def alias(*names: str, **options: Any) -> Any:
    """Other spellings of a flag on the command line, and how --help shows it (tyro reads
    this; Python ignores it)."""
    try:
        import tyro
    except ImportError:  # pragma: no cover - tyro is a dependency
        return None
    return tyro.conf.arg(aliases=names or None, **options)


def recorded() -> Any:
    """A setting that vaelab fills in from the data, not a flag (tyro reads this)."""
    try:
        import tyro
    except ImportError:  # pragma: no cover - tyro is a dependency
        return None
    return tyro.conf.Suppress


def check_choice(name: str, value: str, kind: Any) -> None:
    choices = get_args(kind)
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}{did_you_mean(str(value), choices)}; "
                          f"choose one of: {', '.join(choices)}")


WIDEST = 2**16  # a width or a latent size beyond this is a damaged file, not a model
MOST = 2**31 - 1  # epochs, batch sizes, samples: beyond this, damage too


def check_count(name: str, value: int | None, least: int = 1, most: int = MOST,
                unset: bool = False) -> None:
    """That ``value`` is a whole number in [least, most]; or None, where ``unset`` allows it."""
    if unset and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ConfigError(f"{name} must be a whole number from {least} to {most:,}, "
                          f"got {value!r}")


def check_seed(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ConfigError(f"{name} must be a whole number from 0 to {2**63 - 1:,}, got {value!r}")


def as_typed(value: Any) -> str:
    """A setting's value as it is typed on the command line: '512 256' for a tuple, -1 for a
    whole float (not -1.0; 1e+300 for one of more than 16 digits), every other number with all
    its digits, 'unset' for None."""
    if isinstance(value, tuple | list):
        return " ".join(map(as_typed, value)) or "(none)"
    if value is None:
        return "unset"
    if type(value) is float and value.is_integer() and abs(value) < 1e16:  # else 1e+300
        return str(int(value))
    return str(value)


def _number(value: Any) -> str:
    """A number as typed; anything else quoted, so that '1e-3' read as text shows as text."""
    return as_typed(value) if isinstance(value, int | float) else repr(value)


def check_number(name: str, value: float, *, positive: bool = True) -> None:
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or (value <= 0 if positive else value < 0)):
        least = "positive" if positive else "zero or positive"
        raise ConfigError(f"{name} must be a finite {least} number, got {_number(value)}")


def widths(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or len(value) > 64:
        raise ConfigError(f"{name} must be a list of at most 64 widths, got {value!r}")
    for width in value:
        check_count(f"{name}: every width", width, most=WIDEST)
    return tuple(value)


def parse_noise(text: str) -> tuple[str, float] | None:
    """'gaussian:0.3' -> ('gaussian', 0.3); 'none' -> None. Raises ConfigError on anything else:
    a Gaussian's standard deviation must be positive, a mask's share of pixels below 1."""
    if text == "none":
        return None
    kind, _, level = text.partition(":") if isinstance(text, str) else ("", "", "")
    try:
        value = float(level)
    except ValueError:
        value = math.nan
    if kind not in NOISES:
        raise ConfigError(f"noise {text!r} is not one of: none, gaussian:STD (such as "
                          f"gaussian:0.3), mask:SHARE (such as mask:0.5, below 1)")
    if kind == "gaussian" and not (math.isfinite(value) and value > 0):
        raise ConfigError(f"noise {text!r}: the Gaussian's STD must be a positive number, "
                          f"such as gaussian:0.3")
    if kind == "mask" and not 0 < value < 1:
        raise ConfigError(f"noise {text!r}: the mask's SHARE of pixels must be above 0 and "
                          f"below 1, such as mask:0.5")
    return kind, value


def check_share(name: str, value: float) -> None:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not 0 < value < 1):
        raise ConfigError(f"{name} must be a number between 0 and 1, such as 0.1, got "
                          f"{_number(value)}")


def image_shape(shape: Any) -> tuple[int, int, int]:
    if not isinstance(shape, list | tuple) or len(shape) != 3 or shape[0] not in (1, 3):
        raise ConfigError(f"image_shape must be (channels, height, width) with 1 or 3 "
                          f"channels, got {shape!r}")
    for size in shape[1:]:
        check_count("every size in image_shape", size, most=WIDEST)
    return tuple(shape)


def class_names(names: Any, what: str = "classes") -> tuple[str, ...]:
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{what} must be a list of {'names' if what == 'classes' else 'texts'}"
                          f", got {names!r}")
    return tuple(names)


def check_hash(name: str, value: Any) -> None:
    if not (isinstance(value, str) and 0 < len(value) <= 128
            and all(c in "0123456789abcdef" for c in value)):
        raise ConfigError(f"{name} must be a hexadecimal hash, got {value!r}")
