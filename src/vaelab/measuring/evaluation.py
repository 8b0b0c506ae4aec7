"""Every number vaelab measures about a trained run, in one place: the likelihood bounds, the
latent codes' quality, and the quality of what the decoder draws; saved as the run's eval.json."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch

from vaelab.config.checks import MOST, check_count, check_seed
from vaelab.data import ImageData, prepare
from vaelab.distributed import SINGLE, World, join, local_device
from vaelab.errors import VaelabError, named
from vaelab.files import write_atomic
from vaelab.measuring.caveats import (
    ONE_CLASS,
    SPREAD,
    classifier_record,
    each_class,
    few_for_frechet,
    images_measured,
    likelihood_record,
    with_caveats,
)
from vaelab.measuring.classifier import (
    Judge,
    class_entropy,
    features,
    frechet_distance,
    judge_for,
    one_class,
    predict,
    predict_with_features,
    sure_of,
)
from vaelab.measuring.estimators import (
    CHUNK,
    elbo_of,
    iwae_log_px_of,
    mean_and_error,
    share_and_error,
    unit_batches,
)
from vaelab.measuring.latent import encode_dataset, grids_of, latent_picture
from vaelab.measuring.probes import active_units, knn_accuracy, linear_probe
from vaelab.measuring.scorecard import (
    Score,
    Scorecard,
    check_split,
    eval_file,
    per_image_file,
    say_if_tighter,
)
from vaelab.models import DRAW_BLOCK, Autoencoder, in_float32, leaves_modes, prepared_pixels
from vaelab.objectives import objective_per_image
from vaelab.progress import progress_bar
from vaelab.training.datasets import check_data, learned_from, load_for
from vaelab.training.runs import Run, opened

log = logging.getLogger("vaelab")

K = 1000  # importance samples per image for the test NLL
SAMPLES = 10  # posterior draws per image for the ELBO's reconstruction term
NO_POSTERIOR = "an AE has no posterior or prior, so no likelihood"
NO_PRIOR = "an AE has no prior to sample from"
NO_JUDGE = "no classifier yet (vaelab classifier train)"
NO_LABELS = "the images have no labels, so there is no class to probe for or judge by"
NOT_CONDITIONAL = "only a conditional model (cvae) is asked for a class"
Split = Literal["train", "test"]


@leaves_modes
def evaluate_run(run: Run | str | Path, data: ImageData | None = None, *, k: int | None = None,
                 split: Split = "test", samples: int = SAMPLES, chunk: int = CHUNK,
                 seed: int = 0, judge: Judge | Literal["cached"] | None = "cached",
                 data_dir: str | Path | None = None, save: bool = True,
                 progress: bool = True) -> Scorecard:
    """Measure a run on a whole split, write <run>/eval.json (eval-train.json for the training
    split) unless ``save`` is False, and return the scorecard. The training split, and the
    images the probes are fitted on, are those the run learnt from (its --train-subset).

    ``k``: importance samples per image for the NLL (default 1000; a VAE only). ``samples``:
    posterior draws per image for the ELBO. ``chunk``: at most this many codes (k per image)
    go through the decoder at once, which bounds the memory. ``judge``: the classifier for
    the sample metrics; 'cached' takes the one in the user cache if there is one.
    """
    # Every argument is checked before any work (an NLL of k = 1000 takes minutes).
    check_measuring(k=k, samples=samples, chunk=chunk, seed=seed)
    check_split(split)
    check_data(data)
    if not (judge is None or judge == "cached" or isinstance(judge, Judge)):
        raise VaelabError(f"judge must be 'cached', None or a classifier (a Judge, from "
                          f"vaelab.measuring.classifier), got {judge!r}")
    run = opened(run, data_dir=data_dir, writes="save=False to measure it there" if save else "")
    model, config = in_float32(run.model).eval(), run.config
    if k is not None and not model.has_posterior:  # `vaelab eval $run -k 50` goes on past it
        log.warning("%s is %s: with no posterior it has no likelihood to bound, so %s is not "
                    "used", run.path, config.named(), named("k (-k)", "k"))
    k = (K if k is None else k) if model.has_posterior else None
    world = join(model.device.type)  # started by torchrun: each process measures its share
    model.to(local_device(model.device, world))
    progress = progress and world.main
    data = world.main_first(lambda: load_for(config, data_dir, progress=progress, data=data))
    data = data.to(model.device)
    if save and k is not None:  # once its images are found: else nothing is measured
        say_if_tighter(run.path, split, k)
    # Every measure of a binarized run is of binarized images (a draw of the training set
    # for a 'dynamic' run), the ones its likelihood is exact for; what the decoder draws is
    # each pixel's mean, a grey level, and is judged against the real, grey, test images.
    seen = prepare(data, config.data.binarize, config.data.binarize_seed, measuring=True)
    train_images, train_labels = learned_from(config, seen)  # what the run learnt from
    seen = dataclasses.replace(seen, train_images=train_images, train_labels=train_labels)
    images = seen.test_images if split == "test" else seen.train_images
    labels = seen.test_labels if split == "test" else seen.train_labels
    if judge == "cached":
        judge = world.main_first(lambda: judge_for(data, progress=progress))  # trained once
    metrics: dict[str, Score] = {}
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name], clock = round(now - clock, 3), now

    objective = objective_per_image(model, images, config.train, labels, seed=seed, world=world)
    metrics["loss"] = Score(objective["loss"])
    lap("objective")
    binarized = config.data.binarize != "none"
    bounds, per_image = _bounds(model, images, labels, binarized, k, samples, chunk, seed,
                                progress, world)
    metrics.update(bounds)
    lap("likelihood")
    metrics.update(_codes(model, seen, split))
    lap("codes")
    metrics.update(_pictures(model, data, seen, judge, seed))
    lap("samples")
    card = with_caveats(Scorecard(
        run=str(run.path), model=config.model.model, latent_dims=config.model.latent_dims,
        epochs=run.epochs_done, split=split, images=len(images), k=k, samples=samples,
        seed=seed, likelihood={**likelihood_record(model.likelihood, config.model.likelihood,
                                                   binarized),
                               "images": images_measured(config, split, len(data.train_images))},
        classifier=classifier_record(judge),
        metrics=metrics, seconds=seconds, title=config.title(), chunk=chunk,
        config=config.to_dict(), per_image=per_image), model, config)
    if save and world.main:  # each image's bounds first: an eval.json stopped before its
        # write stays beside bounds that say they are not its own (load_scorecard checks)
        write_atomic(run.path / per_image_file(split), card.per_image_file())
        write_atomic(run.path / eval_file(split), json.dumps(card.to_dict(), indent=2) + "\n")
    return card


MOST_DRAWS = 100_000  # k or samples per image: 10^9 decodes of the test set, hours on a CPU


def check_measuring(**options: int | None) -> None:
    """Refuse, before any work, a k, samples (at most MOST_DRAWS) or chunk that is not a
    whole number of at least 1, or a seed out of range (None: not given)."""
    for name, value in options.items():
        if name == "seed" and value is not None:
            check_seed("seed", value)
        elif value is not None:
            check_count(name, value, most=MOST_DRAWS if name in ("k", "samples") else MOST)


class Measuring:
    """Runs measured as ``evaluate_run`` does (with ``k`` importance samples) as they come out
    of ``vaelab.train_all``, whose ``then`` is ``trained``. A run that is trained while others
    still train is measured at once, in the thread and on the core that trained it (a failure
    there is told and the run measured again later, so that the others' training goes on);
    the last one is measured when ``scorecards`` asks for it, with every thread."""

    def __init__(self, data: ImageData, judge: Judge | None, progress: bool,
                 training: int, k: int | None = None) -> None:
        self.data, self.judge, self.progress, self.k = data, judge, progress, k
        self.training = training  # runs not yet trained
        self.cards: dict[Path, Scorecard] = {}
        self._lock = threading.Lock()

    def trained(self, run: Run) -> None:
        """Told that ``run`` is trained (from the thread that trained it): measure it now if
        others still train."""
        with self._lock:
            self.training -= 1
            if self.training == 0:  # the last: measured with every thread, after
                return
        try:
            self.cards[run.path] = self._measure(run)
        except Exception as err:  # the others' training goes on; it is tried again after
            log.warning("%s: measuring it failed (%s); it is measured again after training",
                        run.path, err)

    def scorecards(self, runs: Sequence[Run]) -> list[Scorecard]:
        """The runs' scorecards (each saved as its eval.json), measuring those not yet measured."""
        return [self.cards.get(run.path) or self._measure(run) for run in runs]

    def _measure(self, run: Run) -> Scorecard:
        return evaluate_run(run, self.data, k=self.k if run.model.has_posterior else None,
                            judge=self.judge, progress=self.progress)


@torch.inference_mode()
@prepared_pixels()  # vaelab's own images
def _bounds(model: Autoencoder, images: torch.Tensor, labels: torch.Tensor, binarized: bool,
            k: int | None, samples: int, chunk: int, seed: int, progress: bool,
            world: World = SINGLE) -> tuple[dict[str, Score], dict[str, torch.Tensor]]:
    """Reconstruction, KL, -ELBO and the IWAE NLL, each a mean over images with its error,
    and each image's -ELBO and NLL (N,) float64 (none of an AE); of several processes, each
    computes its share of the images' bounds."""
    generator = torch.Generator(images.device).manual_seed(seed)
    likelihood, given = model.likelihood, labels if model.conditional else None
    if not model.has_posterior:
        recon = torch.cat([-likelihood.log_prob(model.decode_params(model.encode(x, y), y), x)
                           for x, y in _labelled_batches(images, given, 2000)])
        na = Score(None, note=NO_POSTERIOR)
        return {"recon": Score(*mean_and_error(recon)), "neg_elbo": na, "kl": na, "nll": na,
                "bits_per_dim": na}, {}
    recon, kl = elbo_of(model, images, given, samples, generator, max(1, chunk // samples), world)
    scores = {"recon": Score(*mean_and_error(recon)), "kl": Score(*mean_and_error(kl)),
              "neg_elbo": Score(*mean_and_error(recon + kl))}
    per_image = {"neg_elbo": (recon + kl).cpu().double()}  # MPS has no float64
    why_not = likelihood.exactness(binarized)
    if why_not is not None:
        na = Score(None, note=why_not)
        return {**scores, "nll": na, "bits_per_dim": na}, per_image
    with progress_bar(len(images), desc=f"NLL, k = {k}", unit="image", enabled=progress,
                      leave=False, dynamic_ncols=True) as bar:
        counted = 0  # this process's images, once for each process (their shares are alike)

        def done(n: int) -> None:
            nonlocal counted
            step = min(n * world.size, len(images) - counted)
            counted += step
            bar.update(step)

        nll = -iwae_log_px_of(model, images, given, k, generator, chunk, done, world)
        bar.update(len(images) - counted)  # all of them measured: not 9,996 of 10,000
    scores["nll"] = Score(*mean_and_error(nll))
    per_image["nll"] = nll.cpu().double()
    if likelihood.discrete:
        per_dim = math.prod(images.shape[1:]) * math.log(2)
        scores["bits_per_dim"] = Score(*mean_and_error(nll / per_dim))
    else:
        scores["bits_per_dim"] = Score(None, note="a density at the pixel values has no bits "
                                                  "per dimension of 8-bit images")
    return scores, per_image


def _labelled_batches(images: torch.Tensor, labels: torch.Tensor | None, size: int):
    """(x, y) batches: images in [0, 1] with their labels, or None for the labels."""
    for start, x in zip(range(0, len(images), size), unit_batches(images, size), strict=True):
        yield x, None if labels is None else labels[start:start + size]


def _codes(model: Autoencoder, seen: ImageData, split: str) -> dict[str, Score]:
    """Active units on the split; probes fitted on the training codes, scored on the test's.
    A conditional model's codes are those of each image given its own label."""
    train_codes = encode_dataset(model, seen.train_images, seen.train_labels)
    test_codes = encode_dataset(model, seen.test_images, seen.test_labels)
    split_codes = test_codes if split == "test" else train_codes
    if seen.apart:
        n = len(test_codes)
        scores = {key: Score(*share_and_error(probe(train_codes, seen.train_labels, test_codes,
                                                    seen.test_labels), n))
                  for key, probe in (("linear_probe", linear_probe), ("knn", knn_accuracy))}
    else:
        scores = dict.fromkeys(("linear_probe", "knn"),
                               Score(None, note=ONE_CLASS if seen.labelled else NO_LABELS))
    if not model.has_posterior:
        scores["active_units"] = Score(None, note=NO_POSTERIOR)
    elif len(split_codes) < 2:
        scores["active_units"] = Score(None, note=SPREAD)
    else:
        scores["active_units"] = Score(active_units(split_codes))
    return scores


@torch.inference_mode()
def _pictures(model: Autoencoder, data: ImageData, seen: ImageData, judge: Judge | None,
              seed: int) -> dict[str, Score]:
    """What the classifier makes of prior samples and of the plot command's manifold grids
    (over the region of the codes of ``seen``, the images the run learns from); for a
    conditional model, also how often a sample is the class it was asked for. Samples are
    compared with the real test images of ``data``."""
    keys = ("sample_confidence", "sample_class_entropy", "sample_frechet", "sample_asked",
            "grid_digits", "prior_grid_digits")
    if judge is None:
        why = NO_JUDGE if data.apart else ONE_CLASS if data.labelled else NO_LABELS
        # Of a model without a prior, what needs one is missing whatever the classifier.
        return {key: Score(None, note=why if model.has_prior or key == "grid_digits"
                           else NO_PRIOR) for key in keys}
    grid, prior_grid = grids_of(model, latent_picture(model, seen), *data.image_shape[1:])
    each = "" if not model.conditional else each_class(model.classes)  # not as class 0 alone
    usual = data.test_labels if not model.conditional else torch.arange(model.classes)  # asked
    sure = functools.partial(sure_of, classes=data.classes, labels=usual, note=each)
    scores = {"grid_digits": Score(*sure(predict(judge.model, grid)))}
    if prior_grid is None:
        return {**scores, **{key: Score(None, note=NO_PRIOR) for key in keys if key not in scores}}
    scores["prior_grid_digits"] = Score(*sure(predict(judge.model, prior_grid)))
    generator = torch.Generator(model.device).manual_seed(seed)
    n = len(data.test_images)
    asked = torch.arange(n, device=model.device) % len(data.classes)  # every class in turn
    judged = []  # each batch of samples judged as it is drawn: 10,000 images are 31 MB
    for i in range(0, n, DRAW_BLOCK):
        samples = model.sample(min(DRAW_BLOCK, n - i), generator=generator,
                               y=asked[i:i + DRAW_BLOCK] if model.conditional else None)
        judged.append(predict_with_features(judge.model, samples))
    probabilities, drawn = (torch.cat(parts) for parts in zip(*judged, strict=True))
    scores["sample_confidence"] = Score(*mean_and_error(probabilities.max(dim=1).values),
                                        note=one_class(probabilities, data.classes, usual))
    most = f"at most ln {len(data.classes)} = {math.log(len(data.classes)):.3f}"
    scores["sample_class_entropy"] = Score(class_entropy(probabilities), note=f"{most}, reached "
                                           f"when every class is drawn equally often")
    real = features(judge.model, data.test_images)  # (n, f): a spread needs two images
    scores["sample_frechet"] = (Score(frechet_distance(drawn, real), note=few_for_frechet(n))
                                if n > 1 else Score(None, note=SPREAD))
    hits = (probabilities.argmax(dim=1).cpu() == asked.cpu()).double()
    scores["sample_asked"] = (Score(*mean_and_error(hits)) if model.conditional
                              else Score(None, note=NOT_CONDITIONAL))
    return scores
