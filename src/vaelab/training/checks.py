"""What is refused or said of a run's settings before any work: settings that its model cannot
use, labels that a conditional model lacks, a warm-up longer than the run, too few steps to
learn from, half precision on a CPU; a run going on in other processes or threads than it
trained in; and once it has trained, a posterior that collapsed onto the prior."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import torch

from vaelab.config import RunConfig, TrainConfig
from vaelab.config.checks import as_typed
from vaelab.data import ImageData, how_to_label
from vaelab.errors import ConfigError, VaelabError, named
from vaelab.models import Autoencoder, model_class
from vaelab.training.epoch import EpochProgress, added_part

log = logging.getLogger("vaelab")


# The settings of a KL or a bound, which check_fits refuses for a model without a posterior
POSTERIOR_ONLY = ("beta", "kl_warmup", "kl", "objective", "k")


def check_fits(config: RunConfig) -> None:
    """Refuse, before any work, settings that the model cannot use: asks the model's class
    what it can do."""
    kind = model_class(config.model.model)
    train = config.train
    settings = (("beta", train.beta != 1, 1),  # from flags, from --config or from Python
                ("kl_warmup", train.kl_warmup > 0, 0),
                ("kl", train.kl != "closed-form", "closed-form"),
                ("objective", train.objective == "iwae", "elbo"),
                ("k", train.draws > 1 and train.k is not None, 1))
    used = [(name, getattr(train, name), default) for name, weighs, default in settings if weighs]
    if not kind.has_posterior and used:
        flags = {"k": "-k"}
        given = named(", ".join(f"{flags.get(name, '--' + name.replace('_', '-'))} "
                                f"{as_typed(value)}" for name, value, _ in used),
                      ", ".join(f"{name}={value!r}" for name, value, _ in used))
        undone = named(" ".join(f"{flags.get(name, '--' + name.replace('_', '-'))} {default}"
                                for name, _, default in used),
                       ", ".join(f"{name}={default!r}" for name, _, default in used))
        defaults = "the defaults" if len(used) > 1 else "the default"
        raise ConfigError(f"the {config.model.model.upper()} model has no posterior, so no KL "
                          f"term, no IWAE bound and no draws: " + named(
                              f"drop {given} (where --config brings them, give {undone}), or "
                              f"choose --model vae", f"give {undone} ({defaults}), or choose "
                              f"model='vae'"))


def note_unused(config: RunConfig) -> None:
    """Say so when a setting does less than it seems: a KL warm-up longer than the run (a
    mistake, or a run to be resumed for more epochs, which goes on with it), a binarizing seed
    of images that are not binarized."""
    train, data = config.train, config.data
    if data.binarize_seed != 0 and data.binarize == "none":
        log.warning("%s %d is not used: the images are not binarized (%s)",
                    named("--binarize-seed", "binarize_seed"), data.binarize_seed,
                    named("--binarize none", "binarize='none'"))
    if train.kl_warmup > train.epochs and train.beta > 0:  # a KL weighted 0 is 0 throughout
        log.warning("the KL warm-up (%d epochs) outlasts the run (%d): the KL ends weighted "
                    "%.2g of its full weight; %s goes on with it", train.kl_warmup,
                    train.epochs, train.epochs / train.kl_warmup,
                    named("--resume with more --epochs", "resume() with more epochs"))


FEW_STEPS = 200  # steps of Adam in a whole run below which a model learns little


def note_few_steps(train: TrainConfig, images: int) -> None:
    """Say so when the run takes so few steps that its model learns little (a small folder of
    one's own at the tutorial's batch of 128: one step an epoch)."""
    each = math.ceil(images / train.batch_size)
    if each * train.epochs < FEW_STEPS:
        batch, epochs = named("--batch-size", "batch_size"), named("--epochs", "epochs")
        ways = f"a smaller {batch} or more {epochs}" if min(train.batch_size, images) > 1 \
            else f"more {epochs} or more images"
        log.warning("%d training image%s at batch %d make%s %d step%s an epoch, %d in all: too "
                    "few for the model to learn much; give %s", images, "s" * (images != 1),
                    train.batch_size, "s" * (images == 1), each, "s" * (each > 1),
                    each * train.epochs, ways)


def note_no_likelihood(model: Autoencoder, config: RunConfig) -> None:
    """Say so, before training, when the loss is no likelihood of the images it learns from
    (a Bernoulli of grey pixels): vaelab eval will say it again beside every bound."""
    why_not = model.likelihood.exactness(config.data.binarize != "none")
    if why_not is not None:
        log.warning("%s %s on %s images is %s", named("--loss", "likelihood"),
                    config.model.likelihood, model.likelihood.grey(), why_not)


def note_precision(train: TrainConfig, device: torch.device) -> None:
    """Say so when a CPU is to compute in half precision, which pays on GPUs."""
    if device.type == "cpu" and train.precision != "fp32":
        log.warning("%s %s on a CPU: most CPUs train slower in it than in fp32 (it pays on "
                    "GPUs)", named("--precision", "precision"), train.precision)


def check_labels(config: RunConfig, data: ImageData) -> None:
    """Refuse a conditional model on images without two classes or more to learn from."""
    if model_class(config.model.model).conditional and not data.apart:
        read = data.origin is not None  # from a file or folder, not given in memory
        how = ("give it two classes or more" if data.labelled
               else how_to_label(config.data.dataset) if read
               else "give the ImageData the classes' names and each image's label")
        raise VaelabError(f"a {config.model.model.upper()} learns from labels, and "
                          f"{config.data.dataset if read else data.name} has "
                          f"{'one class' if data.labelled else 'none'}; train a VAE instead, or "
                          f"{how}")


COLLAPSED = 0.1  # nats of test KL an image below which the codes say next to nothing


def collapsed_kl(metrics: list[dict[str, Any]]) -> float | None:
    """The last epoch's test KL per image where it is under COLLAPSED (the posterior collapsed
    onto the prior), else None."""
    kl = metrics[-1]["test"].get("kl") if metrics else None
    return kl if kl is not None and kl < COLLAPSED else None


def say_if_collapsed(path: Path, metrics: list[dict[str, Any]], train: TrainConfig) -> None:
    """A posterior that has collapsed onto the prior makes every figure one blurred mean
    image; a teacher should hear of it before putting them on a slide."""
    if (kl := collapsed_kl(metrics)) is not None:
        warm_up = ("a longer " if train.kl_warmup else "") + named("--kl-warmup", "kl_warmup")
        log.warning("%s: the test KL is %.2g nats an image, so the codes carry almost nothing "
                    "about the images (the posterior collapsed onto the prior) and the figures "
                    "show much the same image everywhere; train longer, or with %s%s",
                    path, kl, warm_up,
                    f" or a smaller {named('--beta', 'beta')}" if train.beta > 1 else "")


def note_other_threads(path: Path, metrics: list[dict[str, Any]], processes: int,
                       unfinished: EpochProgress | None = None) -> None:
    """Say where a run goes on in other processes, or with other threads each (as many as
    this one has), than it last trained in (the parts of its ``unfinished`` epoch, else its
    last epoch): its sums then add up in another order, and its weights come out other in
    their last bits than those of a run that was never stopped."""
    threads, parts = torch.get_num_threads(), unfinished.computed_in if unfinished else ()
    last = metrics[-1] if metrics else {}
    before = parts[-1] if parts else (last.get("processes"), last.get("threads"))
    if None in before or before == (processes, threads):  # or a run older than the record
        return
    log.warning("%s: %s trained in %s, and it goes on in %s: its weights may differ in their "
                "last bits from those of a run never stopped", path,
                "the part of its epoch so far" if parts else "its last epoch",
                _computing(*before), _computing(processes, threads))


def computed_in(parts: tuple[tuple[int, int], ...], processes: int, threads: int
                ) -> dict[str, Any]:
    """What an epoch's record says of the processes and threads (each process's) it trained
    in: those of its end, and where it was stopped and resumed in others, each part's."""
    every = added_part(parts, processes, threads)
    return {"processes": processes, "threads": threads,
            **({"computed_in": [list(part) for part in every]} if len(every) > 1 else {})}


def _computing(processes: int, threads: int) -> str:
    """'1 process of 2 threads', '2 processes of 1 thread each'."""
    return (f"{processes} process{'es' * (processes != 1)} of {threads} "
            f"thread{'s' * (threads != 1)}{' each' * (processes > 1)}")
