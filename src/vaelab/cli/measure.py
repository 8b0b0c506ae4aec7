"""The commands that measure: eval (one run), compare (several), and the classifier that
judges generated images."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import tyro

from vaelab.cli.options import RUN, Common, check_run_folder, flag, main_process, say
from vaelab.errors import VaelabError
from vaelab.files import command_flags, quoted, writable

Split = Literal["test", "train"]


@dataclass(kw_only=True)
class Eval(Common):
    """Measure a run on a whole split: -ELBO and its terms, the importance-weighted NLL, active
    units, linear and nearest-neighbour probes, and with the classifier the quality of samples
    and of the manifold grids. Prints a table and writes eval.json into the run folder, or
    eval-train.json for --split train, and each image's bounds beside it (for compare's
    paired differences)."""

    in_parallel: ClassVar[bool] = True  # torchrun may start it in several processes

    run_dir: Annotated[Path, tyro.conf.Positional, RUN]
    """The run folder."""
    k: Annotated[int | None, flag("-k", metavar="INT", default="1000")] = None
    """Importance samples per image for the NLL (a model with a posterior only)."""
    split: Split = "test"
    """Images to measure on."""
    samples: int = 10
    """Posterior draws per image for the ELBO's reconstruction term."""
    chunk: int = 2048
    """At most this many codes go through the decoder at once: bounds the memory."""
    seed: int = 0
    """Seeds the posterior and prior draws."""

    def run(self) -> None:
        from vaelab.config.checks import check_seed
        from vaelab.measuring.evaluation import evaluate_run
        from vaelab.measuring.scorecard import eval_file
        from vaelab.pictures.report import write_run_page

        check_seed("--seed", self.seed)  # before the run is loaded
        run = self.load(self.run_dir, made="measures")
        if main_process() and not writable(run.path):  # before minutes of measuring
            raise VaelabError(f"{run.path}: cannot be written, and {eval_file(self.split)} "
                              f"goes there; measure a copy of the run in a folder you may "
                              f"write to")
        card = evaluate_run(run, k=self.k, split=self.split, samples=self.samples,
                            chunk=self.chunk, seed=self.seed, data_dir=self.data_dir,
                            progress=not self.quiet)
        if not main_process():
            return
        print(card.table())
        if (run.path / "index.html").exists() and self.split == "test":
            write_run_page(run)  # the run's page shows the new figures
        say(f"wrote {run.path / eval_file(self.split)}")


@dataclass(kw_only=True)
class Compare(Common):
    """Put the eval metrics of several runs side by side, as a table printed and written as
    compare.md and compare.csv, with a figure of their latent codes and manifolds
    (compare.png). A run's saved eval is used again where it is of the run's epochs and
    classifier and matches the -k, --samples and --seed given; otherwise the run is measured
    (what is not given as its saved eval had it), its eval.json replaced only if outdated."""

    runs: Annotated[list[Path], tyro.conf.Positional,
                    tyro.conf.arg(metavar="RUN [RUN ...]", help_behavior_hint="(required)")]
    """Two or more run folders."""
    out: Annotated[Path | None, flag("-o", metavar="DIR", default="./vaelab-compare, numbered "
                                                              "if taken")] = None
    """Folder to create for the table and the figure."""
    k: Annotated[int | None, flag("-k", metavar="INT", default="1000, or a saved eval's")] = None
    """Importance samples per image for the NLL (a smaller k bounds the cost)."""
    samples: Annotated[int | None, flag(metavar="INT", default="10, or a saved eval's")] = None
    """Posterior draws per image for the ELBO's reconstruction term."""
    split: Split = "test"
    """Images to measure on (and whose measures to compare)."""
    seed: Annotated[int | None, flag(metavar="INT", default="0, or a saved eval's")] = None
    """Seeds the posterior and prior draws."""
    chunk: int = 2048
    """At most this many codes go through the decoder at once, in the runs measured here:
    bounds the memory."""
    format: Literal["png", "pdf", "svg"] = "png"
    """The figure's file: compare.png, or compare.pdf or compare.svg for print and slides."""

    def run(self) -> None:
        from vaelab.measuring.evaluation import check_measuring
        from vaelab.pictures.comparison import compare_runs

        check_measuring(k=self.k, samples=self.samples, seed=self.seed)  # before any work

        runs = [check_run_folder(path) for path in self.runs]
        comparison, folder = compare_runs(runs, self.out, data_dir=self.data_dir,
                                          device=self.device or "auto",
                                          progress=not self.quiet, k=self.k,
                                          samples=self.samples, split=self.split,
                                          seed=self.seed, chunk=self.chunk, fmt=self.format)
        print(comparison.text())
        say(f"compare.md, compare.csv and compare.{self.format} in {quoted(folder)}")


@dataclass(kw_only=True)
class Classifier(Common):
    """The CNN that judges generated images. 'train' fits it to a dataset (for MNIST, about a
    minute or two on two CPU cores) and keeps it in the user cache; 'show' says what is there.
    vaelab ships one for MNIST and one for Fashion-MNIST, so that no first run trains it."""

    action: Annotated[Literal["train", "show"], tyro.conf.Positional,
                      tyro.conf.arg(metavar="train|show", help_behavior_hint="(required)")]
    """train: fit it to --dataset and keep it in the user cache; show: name it and its accuracy."""
    dataset: Annotated[str, flag(metavar="NAME|PATH")] = "mnist"
    """mnist, fashion-mnist, or your own images: a folder of PNG/JPEG files (one sub-folder
    per class, if labelled) or a .npz/.npy file."""
    image_size: Annotated[int | None, flag(metavar="N", default="as they are")] = None
    """Bring every image to N x N pixels: the shorter side scaled to N, the middle cut out."""
    epochs: Annotated[int | None, flag(metavar="INT", default="5, or enough for 2,000 steps, "
                                                             "up to 50")] = None
    """train only: passes over the training set."""
    seed: int = 0
    """train only: seeds the weights and the shuffling."""
    force: bool = False
    """train only: train again even if the user cache holds one for the dataset already (the
    one that ships with vaelab does not count)."""

    def run(self) -> None:
        from vaelab.config import DataConfig, TrainConfig
        from vaelab.data import DATASETS, load_dataset
        from vaelab.device import select_device
        from vaelab.measuring import classifier

        training = command_flags(("--epochs", self.epochs), ("--seed", self.seed or None),
                                 ("--force", self.force))
        if self.action == "show" and training:  # else quietly ignored
            raise VaelabError(f"classifier show names the classifier there is, and trains "
                              f"none: drop{training} (for classifier train)")
        settings = DataConfig(dataset=self.dataset, image_size=self.image_size)  # checked
        TrainConfig(epochs=1 if self.epochs is None else self.epochs, seed=self.seed)  # too
        device = select_device(self.device or "auto")
        data = None
        if settings.dataset in DATASETS and settings.image_size is None:
            key = settings.dataset
        else:  # the user's own images are known by the fingerprint of their pixels
            data = load_dataset(settings.dataset, self.data_dir, progress=not self.quiet,
                                image_size=settings.image_size)
            key = classifier.judge_key(data)
        judge = classifier.load_judge(key, device)
        # train makes one here unless this machine made one before: the one that ships with
        # vaelab is what `train` reproduces, not a reason to skip it.
        trained_here = judge is not None and judge.path == classifier.classifier_path(key)
        if self.action == "show" or (trained_here and not self.force):
            if judge is None and data is not None and not data.apart:
                what = ("holds images of one class only", "a classifier needs two or more") \
                    if data.labelled else ("has no labels", "put them in one sub-folder per "
                                                            "class for one")
                raise VaelabError(f"{self.dataset} {what[0]}, so no classifier judges its "
                                  f"images ({what[1]})")
            if judge is None:
                given = command_flags(("--dataset", self.dataset),
                                      ("--image-size", self.image_size),
                                      ("--data-dir", self.data_dir))
                resized = ("" if self.image_size is not None or self.dataset in DATASETS else
                           "; a run that resized them with --image-size N has a classifier of "
                           "its own: add --image-size N")
                raise VaelabError(f"no classifier for {key} in the cache yet; train it with: "
                                  f"vaelab classifier train{given}{resized}")
            again = "" if self.action == "show" else " (trained here before; --force trains " \
                                                     "it again)"
            print(f"{judge.path}: test accuracy {judge.accuracy:.2%}{again}")  # its result
            return
        data = data or load_dataset(settings.dataset, self.data_dir, progress=not self.quiet)
        judge = classifier.train_judge(data.to(device), epochs=self.epochs, seed=self.seed,
                                       progress=not self.quiet)
        print(f"{judge.path}: test accuracy {judge.accuracy:.2%}")  # its result
