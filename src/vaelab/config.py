"""Settings of a run: one frozen dataclass per concern, checked on construction, saved as JSON.

A run folder's ``config.json`` holds exactly ``RunConfig.to_dict()``; ``RunConfig.from_dict``
rebuilds it, so a model can be rebuilt from its folder alone.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from vaelab.errors import ConfigError
from vaelab.files import write_atomic

ModelName = Literal["ae", "vae"]
DatasetName = Literal["mnist", "fashion-mnist"]
LossName = Literal["sse", "bce"]
KLName = Literal["closed-form", "tutorial"]
ActivationName = Literal["relu", "tanh"]
BinarizeName = Literal["none", "dynamic", "static"]

CONFIG_FORMAT = 1


def _check_choice(name: str, value: str, kind: Any) -> None:
    choices = get_args(kind)
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")


def _check_seed(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ConfigError(f"{name} must be a whole number from 0 to 2**63 - 1, got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the model."""

    model: ModelName = "vae"
    """Which model: 'ae' (a point per image) or 'vae' (a Gaussian per image)."""
    latent_dims: int = 2
    """Size of the latent code z."""
    hidden_dims: tuple[int, ...] = (512,)
    """Widths of the hidden layers of the encoder (the decoder mirrors them)."""
    activation: ActivationName = "relu"
    """Nonlinearity between the layers: 'relu' (the tutorial's) or 'tanh' (the IWAE paper's)."""

    def __post_init__(self) -> None:
        _check_choice("model", self.model, ModelName)
        _check_choice("activation", self.activation, ActivationName)
        _check_count("latent_dims", self.latent_dims)
        if not isinstance(self.hidden_dims, list | tuple):
            raise ConfigError(f"hidden_dims must be a list of widths, got {self.hidden_dims!r}")
        object.__setattr__(self, "hidden_dims", tuple(self.hidden_dims))
        for width in self.hidden_dims:
            _check_count("every hidden width", width)


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on."""

    dataset: DatasetName = "mnist"
    """Dataset to train and test on."""
    train_subset: int | None = None
    """Train on the first N training images only (quick tries); the test set stays whole."""
    binarize: BinarizeName = "none"
    """Black-or-white pixels, grey = chance of white: drawn 'dynamic'ally per batch or 'static'."""
    binarize_seed: int = 0
    """Seeds the fixed draws: the 'static' training set, and the test set of either kind."""

    def __post_init__(self) -> None:
        _check_choice("dataset", self.dataset, DatasetName)
        _check_choice("binarize", self.binarize, BinarizeName)
        _check_seed("binarize_seed", self.binarize_seed)
        if self.train_subset is not None:
            _check_count("train_subset", self.train_subset)


@dataclass(frozen=True)
class TrainConfig:
    """The objective and the optimiser. Losses are summed over pixels and over the batch."""

    epochs: int = 20
    """Passes over the training set."""
    batch_size: int = 128
    """Images per optimiser step."""
    lr: float = 1e-3
    """Adam's learning rate."""
    seed: int = 0
    """Seeds the initial weights, the shuffling and the VAE's noise."""
    loss: LossName = "sse"
    """Reconstruction term: 'sse' (squared error, the tutorial's) or 'bce' (Bernoulli)."""
    kl: KLName = "closed-form"
    """VAE only. 'tutorial' reproduces the tutorial's wrong KL line, to study its effect."""

    def __post_init__(self) -> None:
        _check_count("epochs", self.epochs)
        _check_count("batch_size", self.batch_size)
        if isinstance(self.lr, bool) or not isinstance(self.lr, int | float) or not self.lr > 0:
            raise ConfigError(f"lr must be a positive number, got {self.lr!r}")
        _check_seed("seed", self.seed)
        _check_choice("loss", self.loss, LossName)
        _check_choice("kl", self.kl, KLName)


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as the run folder's config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.model.model == "ae" and self.train.kl != "closed-form":
            raise ConfigError("kl applies to a VAE only; an AE has no KL term")

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONFIG_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        """Rebuild a config. Unknown sections and keys are errors that name them; missing ones
        take their defaults."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: holds {type(raw).__name__}, not a mapping of settings")
        raw = dict(raw)
        if raw.pop("format", CONFIG_FORMAT) != CONFIG_FORMAT:
            raise ConfigError(f"{source}: written by a newer vaelab; upgrade vaelab to read it")
        parts = {}
        for name, section_class in _SECTIONS.items():
            section = raw.pop(name, {})
            if not isinstance(section, dict):
                raise ConfigError(f"{source}: '{name}' must be a mapping")
            known = {f.name for f in dataclasses.fields(section_class)}
            unknown = sorted(set(section) - known)
            if unknown:
                raise ConfigError(f"{source}: unknown setting {name}.{unknown[0]}")
            try:
                parts[name] = section_class(**section)
            except ConfigError as err:
                raise ConfigError(f"{source}: {err}") from None
        if raw:
            raise ConfigError(f"{source}: unknown section {sorted(raw)[0]!r}")
        return cls(**parts)

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> RunConfig:
        try:
            raw = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file; is this a vaelab run folder?") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
        return cls.from_dict(raw, source=str(path))

    def differences(self, other: RunConfig) -> list[str]:
        """Settings that differ, as 'section.key: old -> new'."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [
            f"{section}.{key}: {value!r} -> {theirs[section][key]!r}"
            for section, values in mine.items()
            for key, value in values.items()
            if theirs[section][key] != value
        ]


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}
