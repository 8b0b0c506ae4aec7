"""Settings of a run: one frozen dataclass per concern, checked on construction, saved as JSON.

A run folder's ``config.json`` holds exactly ``RunConfig.to_dict()``; ``RunConfig.from_dict``
rebuilds it, so a model can be rebuilt from its folder alone. The names offered here are those
of the registries (models, nets, likelihoods); a test keeps the two in step. The checks
of each value are in ``vaelab.config.checks``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from vaelab.config.checks import (
    WIDEST,
    alias,
    check_choice,
    check_count,
    check_hash,
    check_number,
    check_seed,
    check_share,
    class_names,
    image_shape,
    parse_noise,
    recorded,
    widths,
)
from vaelab.config.documented import documented
from vaelab.config.formats import CONFIG_FORMAT, READABLE, check_whole, upgrade
from vaelab.errors import ConfigError, SettingsFileError, named
from vaelab.files import as_path, path_text, read_json, write_atomic

ModelName = Literal["ae", "vae", "cvae"]
ArchName = Literal["mlp", "conv"]
LikelihoodName = Literal["sse", "bce", "gaussian", "logistic"]
LIKELIHOOD_WORDS = {"sse": "squared error", "bce": "Bernoulli", "gaussian": "Gaussian of learned σ",
                    "logistic": "discretised logistic"}  # in a run's title and in tables
KLName = Literal["closed-form", "tutorial"]
ActivationName = Literal["relu", "tanh"]
BinarizeName = Literal["none", "dynamic", "static"]
ObjectiveName = Literal["elbo", "iwae"]
ScheduleName = Literal["constant", "cosine", "iwae"]
PrecisionName = Literal["fp32", "bf16", "fp16"]
OutputBiasName = Literal["default", "data-mean"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the model and its decoder's likelihood."""

    model: ModelName = "vae"
    """'ae' (a point per image), 'vae' (a Gaussian per image) or 'cvae' (a VAE given the label)."""
    latent_dims: int = 2
    """Size of the latent code z."""
    hidden_dims: tuple[int, ...] = (512,)
    """The encoder's dense hidden widths, mirrored by the decoder; a bare flag: none (linear)."""
    activation: ActivationName = "relu"
    """Nonlinearity between the layers: 'relu' (the tutorial's) or 'tanh' (the IWAE paper's)."""
    arch: ArchName = "mlp"
    """Encoder and decoder: 'mlp' (the tutorial's dense layers) or 'conv' (convolutions)."""
    channels: tuple[int, ...] = (32, 64)
    """conv only: channels of the stride-2 convolutions, each halving the image's size."""
    likelihood: Annotated[LikelihoodName, alias("--loss", metavar="NAME")] = "sse"
    """p(x|z): sse (squared error), bce (Bernoulli), gaussian (learned sd), logistic (discrete)."""

    def __post_init__(self) -> None:
        check_choice("model", self.model, ModelName)
        check_choice("arch", self.arch, ArchName)
        check_choice("activation", self.activation, ActivationName)
        check_choice("likelihood", self.likelihood, LikelihoodName)
        check_count("latent_dims", self.latent_dims, most=WIDEST)
        object.__setattr__(self, "hidden_dims", widths("hidden_dims", self.hidden_dims))
        object.__setattr__(self, "channels", widths("channels", self.channels))
        if self.arch == "conv" and not self.channels:
            raise ConfigError("channels: a conv net needs at least one width, such as 32 64")


@dataclass(frozen=True)
class DataConfig:
    """Which images to train on."""

    dataset: Annotated[str, alias(metavar="NAME|PATH")] = "mnist"
    """mnist, fashion-mnist, a folder of PNG/JPEG files (a sub-folder per class) or a .npz/.npy."""
    image_size: Annotated[int | None, alias(metavar="N", help_behavior_hint="(default: as "
                                             "they are, if all share one size)")] = None
    """Bring every image to N x N pixels: the shorter side scaled to N, the middle cut out."""
    test_fraction: float = 0.1
    """Share of each class held out as test images, for data that comes without a test set."""
    split_seed: int = 0
    """Seeds the held-out test images (data without a test set) and the training subset's."""
    split_by_order: Annotated[bool, recorded()] = False
    """Whether the test images are drawn over the images' order, as older runs drew them (an
    image added moves most of them), not each class's lowest by a hash of their pixels."""
    train_subset: Annotated[int | None,
                            alias(metavar="N", help_behavior_hint="(default: all)")] = None
    """Train on N training images drawn at random with the split seed; the test set stays whole."""
    train_subset_first: Annotated[bool, recorded()] = False
    """Whether the subset is the first N images, as older runs took it: they resume on those."""
    binarize: BinarizeName = "none"
    """Black-or-white pixels (grey = chance of white): 'none', 'dynamic' (each batch), 'static'."""
    binarize_seed: int = 0
    """Seeds the fixed draws of the 'static' training set, of any test set and of an evaluation."""
    image_shape: Annotated[tuple[int, int, int] | None, recorded()] = None
    """(C, H, W) of the images, recorded when the run is trained."""
    classes: Annotated[tuple[str, ...] | None, recorded()] = None
    """The class names, () for unlabelled images; recorded when the run is trained."""
    fingerprint: Annotated[str | None, recorded()] = None
    """A hash of the images and labels the run was trained on, to find the same ones again."""
    notes: Annotated[tuple[str, ...] | None, recorded()] = None
    """What reading the images noticed (files left out, images scaled up): () for nothing."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", path_text(self.dataset))  # a pathlib.Path too
        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise ConfigError(f"dataset must be a name or a path, got {self.dataset!r}")
        check_choice("binarize", self.binarize, BinarizeName)
        check_seed("binarize_seed", self.binarize_seed)
        check_seed("split_seed", self.split_seed)
        check_count("image_size", self.image_size, most=WIDEST, unset=True)
        check_share("test_fraction", self.test_fraction)
        check_count("train_subset", self.train_subset, unset=True)
        for name, made in (("image_shape", image_shape), ("classes", class_names),
                           ("notes", lambda notes: class_names(notes, "notes"))):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, made(getattr(self, name)))
        if self.fingerprint is not None:
            check_hash("fingerprint", self.fingerprint)


@dataclass(frozen=True)
class TrainConfig:
    """The objective and the optimiser. Losses are summed over pixels and over the batch."""

    epochs: int = 20
    """Passes over the training set (resumed: the total to reach, not how many more)."""
    batch_size: int = 128
    """Images per optimiser step (under torchrun, of all its processes together)."""
    lr: float = 1e-3
    """Adam's learning rate (the schedule's first)."""
    adam_eps: float = 1e-8
    """Adam's epsilon, added to its step's denominator (the IWAE paper used 1e-4)."""
    seed: int = 0
    """Seeds the initial weights, the shuffling and the VAE's noise."""
    output_bias: OutputBiasName = "default"
    """Where the decoder's output bias starts: 'default' (random) or 'data-mean' (mean image)."""
    kl: KLName = "closed-form"
    """'tutorial' trains on the tutorial's wrong KL line; the KL and ELBO reported stay right."""
    beta: float = 1.0
    """Weight of the KL term (a beta-VAE for beta > 1); the reported ELBO is always beta = 1's."""
    kl_warmup: int = 0
    """Epochs over which the KL weight rises linearly from 0 to beta (0: none)."""
    objective: ObjectiveName = "elbo"
    """'elbo', or 'iwae': the importance-weighted bound of k draws (a model with a posterior)."""
    k: Annotated[int | None, alias("-k", metavar="INT",
                                   help_behavior_hint="(default: 1 for elbo, 5 for iwae)")] = None
    """Posterior draws per image in the objective: the ELBO averages its k estimates."""
    lr_schedule: ScheduleName = "constant"
    """'constant', 'cosine' (to 0 at the end), or 'iwae': lr*10^(-i/7) for 3^i epochs, i=0..7."""
    noise: Annotated[str, alias(metavar="none|gaussian:STD|mask:SHARE")] = "none"
    """Corrupt the inputs, not the targets (a denoising model): gaussian:STD or mask:SHARE."""
    grad_clip: Annotated[float | None, alias(metavar="NORM",
                                              help_behavior_hint="(default: no clipping)")] = None
    """Clip each step's gradient to this global norm (of the loss summed over the batch)."""
    precision: PrecisionName = "fp32"
    """Forward pass in fp32, or bf16 / fp16 under autocast (fp16 with a gradient scaler): GPUs."""

    def __post_init__(self) -> None:
        check_count("epochs", self.epochs)
        check_count("batch_size", self.batch_size)
        check_number("lr", self.lr)
        check_number("adam_eps", self.adam_eps)
        check_choice("lr_schedule", self.lr_schedule, ScheduleName)
        check_seed("seed", self.seed)
        check_choice("objective", self.objective, ObjectiveName)
        check_count("k", self.k, unset=True)
        check_number("beta", self.beta, positive=False)
        check_count("kl_warmup", self.kl_warmup, least=0)
        check_choice("kl", self.kl, KLName)
        check_choice("precision", self.precision, PrecisionName)
        check_choice("output_bias", self.output_bias, OutputBiasName)
        parse_noise(self.noise)
        if self.grad_clip is not None:
            check_number("grad_clip", self.grad_clip)
        if self.objective == "iwae" and (self.beta != 1 or self.kl_warmup or
                                         self.kl != "closed-form"):
            drop = named("--beta, --kl-warmup or --kl tutorial; drop them or use --objective elbo",
                         "beta, kl_warmup or kl='tutorial'; drop them or use objective='elbo'")
            raise ConfigError("the iwae objective is a bound on log p(x) for a model with a "
                              f"posterior (vae, cvae): it takes no {drop}")

    @property
    def draws(self) -> int:
        """Posterior draws per image in the objective: k, else 5 for the IWAE bound (the
        paper's smallest above 1) and 1 for the ELBO."""
        return self.k if self.k is not None else 5 if self.objective == "iwae" else 1

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

    def __post_init__(self) -> None:
        for name, kind in _SECTIONS.items():
            part = getattr(self, name)
            if not isinstance(part, kind):
                raise ConfigError(f"RunConfig's {name} must be a {kind.__name__}, got "
                                  f"{type(part).__name__}; name each part, as in "
                                  f"RunConfig(model=ModelConfig(...), train=TrainConfig(...))")

    def title(self, *more: str) -> str:
        """What the run is, in a few words for figures and tables: 'VAE', 'conv CVAE',
        'β-VAE (β = 4)', 'VAE (IWAE, k = 5)', 'denoising AE (mask 0.5)', 'VAE (Bernoulli)' (a
        likelihood not the tutorial's); ``more`` details go into the parentheses too."""
        model, train = self.model, self.train
        noise = parse_noise(train.noise)
        words = ["denoising"] if noise else []
        words += ["conv"] if model.arch == "conv" else []
        words.append(("β-" if train.beta != 1 else "") + model.model.upper())
        details = [LIKELIHOOD_WORDS[model.likelihood]] if model.likelihood != "sse" else []
        details += [word for word, said in ((f"β = {train.beta:g}", train.beta != 1),
                                            ("tutorial KL", train.kl == "tutorial")) if said]
        if train.objective == "iwae" or train.draws > 1:
            details.append(f"{train.objective.upper()}, k = {train.draws}")
        details += [f"{noise[0]} {noise[1]:g}"] if noise else []
        details += more
        return " ".join(words) + (f" ({', '.join(details)})" if details else "")

    def named(self) -> str:
        """The title with its article, for sentences: 'an AE', 'a conv VAE'."""
        return ("an " if (title := self.title()).startswith("AE") else "a ") + title

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONFIG_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config", whole: bool = False
                  ) -> RunConfig:
        """Rebuild a config. Unknown sections and keys are errors that name them; missing
        ones take their defaults, but in a run's own (``whole``) of today's format."""
        if not isinstance(raw, dict):
            raise SettingsFileError(f"{source}: holds {type(raw).__name__}, not a mapping of "
                                    f"settings (a JSON object of {', '.join(_SECTIONS)})")
        if raw and not set(raw) & {"format", *_SECTIONS}:
            raise SettingsFileError(f"{source}: not a vaelab config (it has none of the "
                                    f"sections {', '.join(_SECTIONS)})")
        raw, whole = dict(raw), whole and raw.get("format") == CONFIG_FORMAT
        version = raw.pop("format", CONFIG_FORMAT)
        if type(version) is int and version > CONFIG_FORMAT:  # true is no format, nor 1
            raise SettingsFileError(f"{source}: written by a newer vaelab: upgrade vaelab")
        if version not in READABLE or isinstance(version, bool):
            raise SettingsFileError(f"{source}: its format {version!r} is none that vaelab "
                                    f"wrote ({', '.join(map(str, READABLE))})")
        raw = upgrade(raw, version)
        unknown = sorted(set(raw) - set(_SECTIONS))
        if unknown:
            raise SettingsFileError(f"{source}: unknown section {unknown[0]!r}: a config has "
                                    f"only {', '.join(_SECTIONS)}; is it a run's config.json?")
        parts = {}
        for name, section_class in _SECTIONS.items():
            section = raw.pop(name, {})
            if not isinstance(section, dict):
                raise SettingsFileError(f"{source}: '{name}' must be a mapping")
            known = {f.name for f in dataclasses.fields(section_class)}
            if whole:
                check_whole(source, name, section, known)
            unknown = sorted(set(section) - known)
            if unknown:
                shown = f"{name}.{unknown[0]}"  # quoted where it holds a line break
                raise SettingsFileError(f"{source}: unknown setting "
                                        f"{shown if shown.isprintable() else repr(shown)}")
            try:
                parts[name] = section_class(**section)
            except ConfigError as err:
                raise SettingsFileError(f"{source}: {err}") from None
        try:
            return cls(**parts)
        except ConfigError as err:
            raise SettingsFileError(f"{source}: {err}") from None

    def save(self, path: Path) -> None:
        """As config.json; a file that holds it already is left as it is (on a read-only
        disk too)."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if Path(path).read_text(encoding="utf-8") == text:
                return
        write_atomic(path, text)

    @classmethod
    def load(cls, path: str | Path, whole: bool = False) -> RunConfig:
        path = as_path(path, "RunConfig.load takes a run's folder or its config.json")
        path = path / "config.json" if path.is_dir() else path  # a run's folder: its file
        try:
            raw = read_json(path)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file; is this a vaelab run folder?") from None
        except ValueError as err:  # a run's, damaged (the only record of it), or another file
            advice = ("mend the file, or put a copy of it back" if path.name == "config.json"
                      else "give a run folder or the config.json in one")
            raise ConfigError(f"{path}: {err}; {advice}") from None
        return cls.from_dict(raw, source=str(path), whole=whole)

    def changes(self, other: RunConfig) -> list[tuple[str, str, Any, Any]]:
        """(section, key, mine, theirs) of every setting that differs. k is compared as the
        draws it means: no k and the objective's default are the same setting."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        mine["train"]["k"], theirs["train"]["k"] = self.train.draws, other.train.draws
        return [(section, key, value, theirs[section][key])
                for section, values in mine.items()
                for key, value in values.items()
                if theirs[section][key] != value]


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}

documented(ModelConfig, DataConfig, TrainConfig)  # help() in Python names each field
