"""Settings of a run: one frozen dataclass per concern, checked on construction, saved as JSON.

A run folder's ``config.json`` holds exactly ``RunConfig.to_dict()``; ``RunConfig.from_dict``
rebuilds it, so a model can be rebuilt from its folder alone. The names offered here are those
of the registries (models, nets, likelihoods, datasets); a test keeps the two in step.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from vaelab.errors import ConfigError
from vaelab.files import write_atomic

ModelName = Literal["ae", "vae", "cvae"]
ArchName = Literal["mlp", "conv"]
LikelihoodName = Literal["sse", "bce", "gaussian", "logistic"]
DatasetName = Literal["mnist", "fashion-mnist"]
KLName = Literal["closed-form", "tutorial"]
ActivationName = Literal["relu", "tanh"]
BinarizeName = Literal["none", "dynamic", "static"]
ObjectiveName = Literal["elbo", "iwae"]
ScheduleName = Literal["constant", "cosine", "iwae"]
PrecisionName = Literal["fp32", "bf16", "fp16"]
NOISES = ("gaussian", "mask")  # --noise KIND:LEVEL

CONFIG_FORMAT = 2  # format 1 kept the likelihood as train.loss


def _alias(*names: str, **options: Any) -> Any:
    """Other spellings of a flag on the command line, and how --help shows it (tyro reads
    this; Python ignores it)."""
    try:
        import tyro
    except ImportError:  # pragma: no cover - tyro is a dependency
        return None
    return tyro.conf.arg(aliases=names or None, **options)


def _check_choice(name: str, value: str, kind: Any) -> None:
    choices = get_args(kind)
    if value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(choices)}")


WIDEST = 2**16  # a width or a latent size beyond this is a damaged file, not a model
MOST = 2**31  # epochs, batch sizes, samples: beyond this, damage too


def _check_count(name: str, value: int, least: int = 1, most: int = MOST) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
        raise ConfigError(f"{name} must be a whole number from {least} to {most:,}, "
                          f"got {value!r}")


def _check_seed(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise ConfigError(f"{name} must be a whole number from 0 to 2**63 - 1, got {value!r}")


def _check_number(name: str, value: float, *, positive: bool = True) -> None:
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or (value <= 0 if positive else value < 0)):
        least = "positive" if positive else "zero or positive"
        raise ConfigError(f"{name} must be a {least} number, got {value!r}")


def _widths(name: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or len(value) > 64:
        raise ConfigError(f"{name} must be a list of at most 64 widths, got {value!r}")
    for width in value:
        _check_count(f"every width in {name}", width, most=WIDEST)
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
    if kind not in NOISES or not math.isfinite(value) or value <= 0 or (
            kind == "mask" and value >= 1):
        raise ConfigError(f"noise {text!r} is not one of: none, gaussian:STD (such as "
                          f"gaussian:0.3), mask:SHARE (such as mask:0.5, below 1)")
    return kind, value


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the model and its decoder's likelihood."""

    model: ModelName = "vae"
    """'ae' (a point per image), 'vae' (a Gaussian per image) or 'cvae' (a VAE given the label)."""
    latent_dims: int = 2
    """Size of the latent code z."""
    hidden_dims: tuple[int, ...] = (512,)
    """Widths of the dense hidden layers of the encoder (the decoder mirrors them)."""
    activation: ActivationName = "relu"
    """Nonlinearity between the layers: 'relu' (the tutorial's) or 'tanh' (the IWAE paper's)."""
    arch: ArchName = "mlp"
    """Encoder and decoder: 'mlp' (the tutorial's dense layers) or 'conv' (convolutions)."""
    channels: tuple[int, ...] = (32, 64)
    """conv only: channels of the stride-2 convolutions, each halving the image's size."""
    likelihood: Annotated[LikelihoodName, _alias("--loss")] = "sse"
    """p(x|z): sse (squared error), bce (Bernoulli), gaussian (learned variance), logistic."""

    def __post_init__(self) -> None:
        _check_choice("model", self.model, ModelName)
        _check_choice("arch", self.arch, ArchName)
        _check_choice("activation", self.activation, ActivationName)
        _check_choice("likelihood", self.likelihood, LikelihoodName)
        _check_count("latent_dims", self.latent_dims, most=WIDEST)
        object.__setattr__(self, "hidden_dims", _widths("hidden_dims", self.hidden_dims))
        object.__setattr__(self, "channels", _widths("channels", self.channels))
        if self.arch == "conv" and not self.channels:
            raise ConfigError("a conv net needs at least one width in channels")


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on."""

    dataset: DatasetName = "mnist"
    """Dataset to train and test on."""
    train_subset: Annotated[int | None,
                            _alias(metavar="N", help_behavior_hint="(default: all)")] = None
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
    """Passes over the training set (with --resume: the total to reach, not how many more)."""
    batch_size: int = 128
    """Images per optimiser step."""
    lr: float = 1e-3
    """Adam's learning rate (the schedule's first)."""
    seed: int = 0
    """Seeds the initial weights, the shuffling and the VAE's noise."""
    kl: KLName = "closed-form"
    """'tutorial' reproduces the tutorial's wrong KL line, to study its effect."""
    beta: float = 1.0
    """Weight of the KL term (a beta-VAE for beta > 1); the reported ELBO is always beta = 1's."""
    kl_warmup: int = 0
    """Epochs over which the KL weight rises linearly from 0 to beta (0: none)."""
    objective: ObjectiveName = "elbo"
    """'elbo', or 'iwae': the importance-weighted bound of k samples (a model with a posterior)."""
    k: int = 5
    """Importance samples per image for the 'iwae' objective."""
    lr_schedule: ScheduleName = "constant"
    """'constant', 'cosine' (to 0 at the last epoch), or the IWAE paper's 'iwae' (see README)."""
    noise: str = "none"
    """Corrupt the inputs, not the targets (a denoising model): gaussian:STD or mask:SHARE."""
    grad_clip: Annotated[float | None, _alias(metavar="NORM",
                                              help_behavior_hint="(default: no clipping)")] = None
    """Clip each step's gradient to this global norm (of the loss summed over the batch)."""
    precision: PrecisionName = "fp32"
    """Forward pass in fp32, or bf16 / fp16 under autocast (fp16 with a gradient scaler): GPUs."""

    def __post_init__(self) -> None:
        _check_count("epochs", self.epochs)
        _check_count("batch_size", self.batch_size)
        _check_number("lr", self.lr)
        _check_choice("lr_schedule", self.lr_schedule, ScheduleName)
        _check_seed("seed", self.seed)
        _check_choice("objective", self.objective, ObjectiveName)
        _check_count("k", self.k)
        _check_number("beta", self.beta, positive=False)
        _check_count("kl_warmup", self.kl_warmup, least=0)
        _check_choice("kl", self.kl, KLName)
        _check_choice("precision", self.precision, PrecisionName)
        parse_noise(self.noise)
        if self.grad_clip is not None:
            _check_number("grad_clip", self.grad_clip)
        if self.objective == "iwae" and (self.beta != 1 or self.kl_warmup or
                                         self.kl != "closed-form"):
            raise ConfigError("the iwae objective is a bound on log p(x): it takes no beta, "
                              "kl_warmup or tutorial kl; drop them or use --objective elbo")

    @property
    def weighs_kl(self) -> bool:
        """Whether the settings touch the KL term at all (beta, warm-up, the tutorial's line)."""
        return self.beta != 1 or self.kl_warmup > 0 or self.kl != "closed-form"


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as the run folder's config.json."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def title(self, *more: str) -> str:
        """What the run is, in a few words for figures and tables: 'VAE', 'conv CVAE',
        'β-VAE (β = 4)', 'VAE (IWAE, k = 5)', 'denoising AE (mask 0.5)'; ``more`` details go
        into the parentheses too."""
        model, train = self.model, self.train
        noise = parse_noise(train.noise)
        words = ["denoising"] if noise else []
        words += ["conv"] if model.arch == "conv" else []
        words.append(("β-" if train.beta != 1 else "") + model.model.upper())
        details = [f"β = {train.beta:g}"] if train.beta != 1 else []
        details += [f"IWAE, k = {train.k}"] if train.objective == "iwae" else []
        details += [f"{noise[0]} {noise[1]:g}"] if noise else []
        details += more
        return " ".join(words) + (f" ({', '.join(details)})" if details else "")

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONFIG_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        """Rebuild a config. Unknown sections and keys are errors that name them; missing ones
        take their defaults."""
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: holds {type(raw).__name__}, not a mapping of settings")
        raw = dict(raw)
        version = raw.pop("format", CONFIG_FORMAT)
        if version not in (1, CONFIG_FORMAT):
            raise ConfigError(f"{source}: written by a newer vaelab; upgrade vaelab to read it")
        if version == 1:
            raw = _from_format_1(raw)
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
            raw = json.loads(Path(path).read_bytes().decode("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file; is this a vaelab run folder?") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: a folder, not a config file") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not text; the file is damaged") from None
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


def _from_format_1(raw: dict[str, Any]) -> dict[str, Any]:
    """Format 1 kept the likelihood as train.loss; it is model.likelihood now."""
    train = dict(raw.get("train") or {})
    model = dict(raw.get("model") or {})
    if "loss" in train:
        model["likelihood"] = train.pop("loss")
    return {**raw, "model": model, "train": train}
