"""Every number vaelab measures about a trained run, in one place: the likelihood bounds, the
latent codes' quality, and the quality of what the decoder draws; saved as the run's eval.json.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Literal

import torch
from tqdm.auto import tqdm

from vaelab.data import ImageData, load_dataset, prepare
from vaelab.errors import VaelabError
from vaelab.files import write_atomic
from vaelab.measuring.classifier import (
    Judge,
    class_entropy,
    confident_share,
    features,
    frechet_distance,
    load_judge,
    predict,
)
from vaelab.measuring.estimators import (
    CHUNK,
    elbo_per_image,
    iwae_log_px_of,
    likelihood_of,
    mean_and_error,
    unit_batches,
)
from vaelab.measuring.latent import encode_dataset, latent_picture, prior_manifold, untile
from vaelab.measuring.probes import active_units, knn_accuracy, linear_probe
from vaelab.measuring.scorecard import Score, Scorecard, eval_file
from vaelab.models import VAE
from vaelab.objectives import objective_per_image
from vaelab.training.runs import Run, load_run

log = logging.getLogger("vaelab")

K = 1000  # importance samples per image for the test NLL
SAMPLES = 10  # posterior draws per image for the ELBO's reconstruction term
NO_POSTERIOR = "an AE has no posterior or prior, so no likelihood"
NO_PRIOR = "an AE has no prior to sample from"
NO_JUDGE = "no classifier yet (vaelab classifier train)"
Split = Literal["train", "test"]


def evaluate_run(run: Run | str | Path, data: ImageData | None = None, *, k: int | None = None,
                 split: Split = "test", samples: int = SAMPLES, chunk: int = CHUNK,
                 seed: int = 0, judge: Judge | Literal["cached"] | None = "cached",
                 data_dir: str | Path | None = None, save: bool = True,
                 progress: bool = True) -> Scorecard:
    """Measure a run on a whole split, write <run>/eval.json (eval-train.json for the training
    split) unless ``save`` is False, and return the scorecard.

    ``k``: importance samples per image for the NLL (default 1000; a VAE only). ``samples``:
    posterior draws per image for the ELBO. ``chunk``: at most this many images go through
    the decoder at once, which bounds the memory. ``judge``: the classifier for the sample
    metrics; 'cached' takes the one in the user cache if there is one.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    model, config = run.model.eval(), run.config
    is_vae = isinstance(model, VAE)
    if k is not None and not is_vae:
        raise VaelabError(f"{run.path} is an AE: it defines no likelihood p(x), so there is no "
                          f"NLL to estimate; drop --k")
    k = (K if k is None else k) if is_vae else None
    for name, value in (("k", k), ("samples", samples), ("chunk", chunk)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise VaelabError(f"{name} must be a whole number of at least 1, got {value!r}")
    if split not in ("train", "test"):
        raise VaelabError(f"unknown split {split!r}; choose train or test")
    if data is None:
        data = load_dataset(config.data.dataset, data_dir, progress=progress)
    data = data.to(model.device)
    seen = prepare(data, config.data.binarize, config.data.binarize_seed)
    images = seen.test_images if split == "test" else seen.train_images
    likelihood = likelihood_of(config)
    if judge == "cached":
        judge = load_judge(config.data.dataset, model.device)
    metrics: dict[str, Score] = {}
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    objective = objective_per_image(model, images, config.train, seed=seed)
    metrics["loss"] = Score(objective["loss"])
    lap("objective")
    metrics.update(_bounds(model, images, likelihood, k, samples, chunk, seed, progress))
    lap("likelihood")
    metrics.update(_codes(model, seen, split, is_vae))
    lap("codes")
    metrics.update(_pictures(model, data, judge, seed, is_vae))
    lap("samples")
    card = Scorecard(
        run=str(run.path), model=config.model.model, latent_dims=config.model.latent_dims,
        epochs=run.epochs_done, split=split, images=len(images), k=k, samples=samples,
        seed=seed, likelihood={"name": likelihood.name, "description": likelihood.description,
                               "exact": likelihood.exact},
        classifier=(None if judge is None else
                    {"dataset": judge.dataset, "test_accuracy": judge.accuracy}),
        metrics=metrics, seconds=seconds)
    if save:
        write_atomic(run.path / eval_file(split), json.dumps(card.to_dict(), indent=2) + "\n")
    return card


@torch.inference_mode()
def _bounds(model, images, likelihood, k, samples, chunk, seed, progress) -> dict[str, Score]:
    """Reconstruction, KL, -ELBO and the IWAE NLL, each a mean over images with its error."""
    generator = torch.Generator(images.device).manual_seed(seed)
    if not isinstance(model, VAE):
        recon = torch.cat([-likelihood.log_prob(model.decode_logits(model.encode(x)), x)
                           for x in unit_batches(images, 2000)])
        na = Score(None, note=NO_POSTERIOR)
        return {"recon": Score(*mean_and_error(recon)), "neg_elbo": na, "kl": na, "nll": na,
                "bits_per_dim": na}
    recon, kl = map(torch.cat, zip(*(elbo_per_image(model, x, likelihood, samples, generator)
                                     for x in unit_batches(images, max(1, chunk // samples))),
                                   strict=True))
    scores = {"recon": Score(*mean_and_error(recon)), "kl": Score(*mean_and_error(kl)),
              "neg_elbo": Score(*mean_and_error(recon + kl))}
    if not likelihood.exact:
        na = Score(None, note=likelihood.why_not)
        return {**scores, "nll": na, "bits_per_dim": na}
    with tqdm(total=len(images), desc=f"NLL, k = {k}", unit="img", disable=not progress,
              leave=False, dynamic_ncols=True) as bar:
        nll = -iwae_log_px_of(model, images, likelihood, k, generator, chunk, bar.update)
    scores["nll"] = Score(*mean_and_error(nll))
    if likelihood.discrete:
        per_dim = math.prod(images.shape[1:]) * math.log(2)
        scores["bits_per_dim"] = Score(*mean_and_error(nll / per_dim))
    else:
        scores["bits_per_dim"] = Score(None, note="a density on [0, 1] pixels has no bits per "
                                                  "dimension of 8-bit images")
    return scores


def _codes(model, seen: ImageData, split: str, is_vae: bool) -> dict[str, Score]:
    """Active units on the split; probes fitted on the training codes, scored on the test's."""
    train_codes = encode_dataset(model, seen.train_images)
    test_codes = encode_dataset(model, seen.test_images)
    split_codes = test_codes if split == "test" else train_codes
    scores = {
        "linear_probe": Score(linear_probe(train_codes, seen.train_labels, test_codes,
                                           seen.test_labels)),
        "knn": Score(knn_accuracy(train_codes, seen.train_labels, test_codes,
                                  seen.test_labels)),
    }
    scores["active_units"] = (Score(active_units(split_codes)) if is_vae
                              else Score(None, note=NO_POSTERIOR))
    return scores


@torch.inference_mode()
def _pictures(model, data: ImageData, judge: Judge | None, seed: int,
              is_vae: bool) -> dict[str, Score]:
    """What the classifier makes of prior samples and of the plot command's manifold grids."""
    keys = ("sample_confidence", "sample_class_entropy", "sample_frechet", "grid_digits",
            "prior_grid_digits")
    if judge is None:
        return {key: Score(None, note=NO_JUDGE) for key in keys}
    height, width = data.image_shape[1:]
    seen = latent_picture(model, data)
    grid = untile(torch.from_numpy(seen.manifold.picture), height, width)
    scores = {"grid_digits": Score(confident_share(predict(judge.model, grid)))}
    if not is_vae:
        na = Score(None, note=NO_PRIOR)
        return {**scores, **{key: na for key in keys if key not in scores}}
    prior_grid = untile(torch.from_numpy(prior_manifold(model, seen.plane).picture), height,
                        width)
    scores["prior_grid_digits"] = Score(confident_share(predict(judge.model, prior_grid)))
    generator = torch.Generator(model.device).manual_seed(seed)
    n = len(data.test_images)
    samples = torch.cat([model.sample(min(2000, n - i), generator=generator)
                         for i in range(0, n, 2000)])
    probabilities = predict(judge.model, samples)
    scores["sample_confidence"] = Score(*mean_and_error(probabilities.max(dim=1).values))
    scores["sample_class_entropy"] = Score(class_entropy(probabilities))
    scores["sample_frechet"] = Score(frechet_distance(features(judge.model, samples),
                                                      features(judge.model, data.test_images)))
    return scores
