"""What a bare figure of an evaluation would not say: the notes that go with figures that are
there but are not what their row's name says of every model, or that few images limit."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vaelab.config import RunConfig, TrainConfig, parse_noise
from vaelab.distributions import Likelihood, SquaredError
from vaelab.errors import VaelabError
from vaelab.errors import named as spelt
from vaelab.files import quoted
from vaelab.measuring.classifier import AND
from vaelab.measuring.estimators import share_and_error
from vaelab.measuring.eval_json import MEASURE_AGAIN
from vaelab.measuring.latent import judged_classes
from vaelab.measuring.scorecard import Score, Scorecard, load_scorecard
from vaelab.models import Autoencoder, model_class
from vaelab.training.checks import POSTERIOR_ONLY

if TYPE_CHECKING:
    from vaelab.measuring.classifier import Judge
    from vaelab.training.runs import Run

log = logging.getLogger("vaelab")

AS_CLASS_0 = ("of the grids drawn as class 0 alone, as an older vaelab measured it; vaelab eval "
              "measures it again over every class")
FRECHET_FEW = 2000  # fewer test images (and samples) than this make a rough Fréchet distance
SPREAD = "a spread over images needs two or more"  # the note of a covariance of one image
ONE_CLASS = "the images are all of one class, so there is no class to probe for or judge by"
WEAK_JUDGE = 0.9  # a classifier below this test accuracy says little of what it judges
JUDGED = ("sample_confidence", "sample_class_entropy", "sample_frechet", "sample_asked",
          "grid_digits", "prior_grid_digits")


def images_measured(config: RunConfig, split: str = "test", available: int = 0) -> str:
    """Which images a run's bounds are of: grey or colour, or a binarized draw and its seed,
    and on the training split which of the ``available`` ones the run learnt from (runs
    measured on other images do not compare)."""
    data = config.data
    kind = (f"binarized (seed {data.binarize_seed})" if data.binarize != "none"
            else "colour" if (data.image_shape or (1,))[0] > 1 else "grey")
    learnt = training_images(config, available)
    if split != "train" or learnt == "all":
        return kind
    return f"{kind}; of the training images, {learnt}"


def training_images(config: RunConfig, available: int = 0, seed: str = "--split-seed") -> str:
    """Which of the ``available`` training images a run learnt from: 'all', 'the first 6,000'
    or '6,000 drawn with --split-seed 1' (vaelab.training.datasets.learned_from draws them;
    ``seed`` names its setting, as the files say it by default)."""
    data = config.data
    if data.train_subset is None or (available and data.train_subset >= available):
        return "all"
    if data.train_subset_first:
        return f"the first {data.train_subset:,}"
    return f"{data.train_subset:,} drawn with {seed} {data.split_seed}"


def kl_weighting(train: TrainConfig, epochs_done: int) -> str:
    """How the KL was weighted in the last of ``epochs_done`` epochs, if not as in the ELBO:
    "β = 4", "β warming up to 4", "the KL warming up"; "" where it was as in the ELBO."""
    warming = epochs_done < train.kl_warmup
    return (f"β {'warming up to' if warming else '='} {train.beta:g}" if train.beta != 1
            else "the KL warming up" if warming else "")


def caveats(model: Autoencoder, config: RunConfig, split: str,
            judge_accuracy: float | None = None, active: float | None = None,
            epochs: int = 0) -> dict[str, str]:
    """Notes on figures that are there but are not what their row's name says of every model,
    by key: the loss of an IWAE run, at β = 1 or without the squared error's constant, or of
    corrupted inputs (a denoising run), a conditional model's bounds and samples (given the
    labels), a Bernoulli bound of grey pixels (a cross-entropy), probes of codes with no
    ``active`` unit, on the training split what is measured on the test images anyway, and
    what a classifier of ``judge_accuracy`` below WEAK_JUDGE judged (of a run of ``epochs``)."""
    notes: dict[str, str] = {}

    def add(keys: tuple[str, ...], note: str) -> None:  # beside the notes already there
        for key in keys:
            notes[key] = f"{notes[key]}{AND}{note}" if key in notes else note

    train = config.train
    if train.objective == "iwae":
        add(("loss",), f"the −IWAE bound of k = {train.draws} draws, as the run trains; not a "
                       f"−ELBO")
    elif model.has_posterior and (weight := kl_weighting(train, epochs)):
        add(("loss",), f"with the KL at its full weight (β = 1), not as the run's last epoch "
                       f"weighted it ({weight})")  # a cross-entropy or corrupted inputs' too
    if model.likelihood.left_out():  # a squared error's constant; an IWAE run's bound too
        which = ", which −ELBO and NLL include" if model.has_posterior else ""
        add(("loss",), f"without the squared error's Gaussian constant{which} "
                       f"({SquaredError.constant_said(model.image_shape)})")
    why_not = model.likelihood.exactness(config.data.binarize != "none")
    if why_not is not None:  # a cross-entropy of grey pixels, on each row it stands in
        add(("loss", "neg_elbo", "recon") if model.has_posterior else ("loss", "recon"), why_not)
    if not model.has_posterior:  # its code is a point, so there is no expectation
        add(("recon",), "at each image's code: an AE's encoder gives one point, not a "
                        "distribution q(z|x)")
    if model.conditional:
        add(("loss", "neg_elbo", "recon", "nll", "bits_per_dim"),
            "of p(x|y), each image given its own label: not comparable with an "
            "unconditional model's p(x)")
        add(("kl",), "of q(z|x,y), each image's code given its own label, to the prior p(z)")
        add(("sample_confidence", "sample_class_entropy", "sample_frechet"),
            "drawn given a class, every class in turn")
        add(("linear_probe", "knn"),
            f"of codes of each image given its label, which the encoder sees: a high accuracy "
            f"may be the label read back from the code, not the class kept in it; near chance "
            f"(1 in {model.classes}) says that the code leaves the class to the label, as a "
            f"CVAE's should")
    if model.has_posterior and active == 0:
        add(("linear_probe", "knn"), "no coordinate of the code is active (the posterior "
                                     "collapsed): the probes read what differs far below its "
                                     "spread, not what the code keeps")
    if (bits := model.likelihood.bits_note(config.data.binarize != "none")) is not None:
        add(("bits_per_dim",), bits)
    noise = parse_noise(train.noise)
    if noise:
        add(("loss",), f"of inputs corrupted with --noise {train.noise}; every other row "
                       f"encodes the clean images")
    if split == "train":
        add(("linear_probe", "knn"),
            "fitted on the training codes and scored on the test codes, on either split")
        add(("sample_frechet",), "samples against the test images, on either split")
        add(("grid_digits",), "the grid over the test codes' region, on either split")
    if judge_accuracy is not None and judge_accuracy < WEAK_JUDGE:  # its confidence says little
        add(JUDGED, f"judged by a classifier that is right on only {judge_accuracy:.1%} of the "
                    f"test images: weak evidence")
    return notes


def few_for_frechet(n: int) -> str:
    """What limits a Fréchet distance between n samples and n test images: with fewer than
    FRECHET_FEW, their covariances are rough (10,000 is the usual count), the distance is
    biased upward, and it compares only with runs measured on the same images."""
    if n >= FRECHET_FEW:
        return ""
    return (f"from {n:,} samples and test images only: rough and biased upward; compare it "
            f"only with runs measured on these images")


def each_class(classes: int) -> str:
    """How a conditional model's grids were judged: as which of its classes."""
    judged = len(judged_classes(classes))
    return ("decoded as each class in turn" if judged == classes else
            f"decoded as {judged} of its {classes} classes in turn, evenly spaced")


def with_caveats(card: Scorecard, model: Autoencoder, config: RunConfig) -> Scorecard:
    """``card`` with ``caveats``' notes on its figures, beside a note of the figure's own
    (the entropy's maximum, a few images' Fréchet distance), each once, the probes' errors,
    and the run's title as it is now: at measuring, and again when a saved one is read,
    since an eval.json of an older vaelab holds fewer (or none). The caveats it was saved
    with give way to today's, so that a caveat worded anew is not read in both wordings."""
    metrics = dict(card.metrics)
    for key, saved in card.caveats.items():  # as worded when measured: today's replace them
        score = metrics.get(key)
        if score is not None and score.note:
            own = [part for part in score.note.split(AND) if part not in saved.split(AND)]
            metrics[key] = Score(score.value, score.error, AND.join(own))
    if model.conditional:  # an older vaelab judged a CVAE's grids as class 0 alone
        for key in ("grid_digits", "prior_grid_digits"):
            score = metrics.get(key)
            parts = score.note.split(AND) if score is not None and score.note else []
            if (score is not None and score.value is not None
                    and not {each_class(model.classes), AS_CLASS_0} & set(parts)):
                metrics[key] = Score(score.value, score.error, AND.join([AS_CLASS_0, *parts]))
    for key in ("linear_probe", "knn") if card.split == "test" else ():  # older: no error
        score = metrics.get(key)  # a share of the test images: its error follows from it
        if score is not None and score.value is not None and score.error is None:
            metrics[key] = Score(*share_and_error(score.value, card.images), score.note)
    accuracy = (card.classifier or {}).get("test_accuracy")
    added = {}
    active = metrics["active_units"].value if "active_units" in metrics else None
    for key, note in caveats(model, config, card.split, accuracy, active, card.epochs).items():
        score = metrics.get(key)
        if score is None or score.value is None:
            continue
        had = score.note.split(AND) if score.note else []  # its own, or an older file's
        parts = had + [part for part in note.split(AND) if part not in had]
        metrics[key], added[key] = Score(score.value, score.error, AND.join(parts)), note
    return dataclasses.replace(card, metrics=metrics, title=config.title(), caveats=added)


def saved_scorecard(run: Run, split: str = "test", unreadable: str = "") -> Scorecard | None:
    """The run's saved evaluation of ``split`` (None if not measured, or if its file cannot be
    read, which is said, with ``unreadable``: what becomes of it), with its notes, named by
    the folder it is in now (a copied or moved run's names the folder it was measured in)."""
    try:
        card = load_scorecard(run.path, split, warn_outdated=False)  # its callers say it
    except VaelabError as err:  # the run and its figures are whole; its measures are not
        again = f"vaelab eval {quoted(run.path)}" + (" --split train" if split == "train" else "")
        log.warning("%s; %s", str(err).removesuffix(MEASURE_AGAIN),
                    unreadable or f"{again} measures the run again; until then it is shown "
                                  f"without its measures")
        return None
    if card is None:
        return None
    return with_caveats(dataclasses.replace(card, run=str(run.path)), run.model, run.config)


def classifier_record(judge: Judge | None) -> dict[str, Any] | None:
    """What eval.json says of the classifier that judged the samples (None: none did)."""
    return None if judge is None else {"dataset": judge.dataset, "test_accuracy": judge.accuracy}


def likelihood_record(likelihood: Likelihood, name: str, binarized: bool) -> dict[str, Any]:
    """What eval.json says of the likelihood: its name, what it is, and whether it is an exact
    likelihood of the images the run learns from."""
    why_not = likelihood.exactness(binarized)
    if why_not is not None:
        description = (f"{likelihood.title} of {likelihood.grey()} images: a cross-entropy, "
                       f"not a likelihood")
    elif likelihood.discrete:
        description = f"{likelihood.title}; a probability of the images as they are"
        description += "; exact for the binarized images" if binarized else ""
    else:
        description = (f"{likelihood.title}: a density at the pixel values, not a "
                       f"probability of 8-bit images")
    if binarized:
        description += (". Bounds, codes and probes are of binarized images (for the training "
                        "split, one seeded draw); samples are judged against the test images "
                        "as they are, not binarized, since a decoder draws each pixel's mean")
    return {"name": name, "description": description, "exact": why_not is None,
            "discrete": likelihood.discrete}  # a probability of pixel values, not a density


def say_what_differs(runs: Sequence[Run], cards: Sequence[Scorecard], images: int,
                     names: Sequence[str]) -> None:
    """Warn, a line each, of what makes the rows of a comparison compare less than they seem:
    nats of other likelihoods, of other images (grey or binarized) or of p(x|y), bounds of
    another k, ELBOs of other draws, measures of other seeds, probes fitted on other training
    images of the ``images`` that the dataset has (and on the training split, bounds of
    them). The table's notes say the same of each figure; ``names``: the runs' in it."""
    def listed(values: Sequence[int]) -> str:
        return ", ".join(f"{v:,}" for v in values)

    def named(values: Sequence[str | None]) -> str:  # "sse: vae, beta; bce: bern"
        runs_of = {value: [name for name, v in zip(names, values, strict=True) if v == value]
                   for value in values if value is not None}  # None: a run it is not of
        return "; ".join(f"{value}: {', '.join(them)}" for value, them in runs_of.items())

    likelihoods = [run.config.model.likelihood for run in runs]
    if len(set(likelihoods)) > 1:
        log.warning("the runs model their pixels with different likelihoods (%s): their nats "
                    "are of different models of the images and compare only as the table's "
                    "notes say",
                    named(likelihoods))
    kinds = [images_measured(run.config) for run in runs]  # grey, binarized (seed 0)
    if len(set(kinds)) > 1:
        log.warning("the runs are measured on different images (%s): their bounds do not "
                    "compare",
                    named(kinds))
    given = [None if not run.model.has_prior else "p(x|y)" if run.model.conditional else "p(x)"
             for run in runs]  # an AE has no bounds
    if len(set(given) - {None}) > 1:
        log.warning("the conditional runs' bounds are of p(x|y), the others' of p(x) (%s): "
                    "they do not compare", named(given))
    ks = [card.k for card in cards if card.k is not None]
    if len(set(ks)) > 1:
        log.warning("the NLL bounds were measured with k = %s: a larger k gives a tighter "
                    "bound; give %s to measure every run alike", listed(ks), spelt("-k", "k="))
    draws = [card.samples for card in cards if card.k is not None]  # an AE draws no codes
    if len(set(draws)) > 1:
        log.warning("the ELBOs were measured with %s posterior draws per image; give %s to "
                    "measure every run alike", listed(draws), spelt("--samples", "samples="))
    seeds = [card.seed for card in cards]
    if len(set(seeds)) > 1:
        log.warning("the runs were measured with %s %s, so their draws differ; give %s to "
                    "measure every run alike", spelt("--seed", "seed"), ", ".join(map(str, seeds)),
                    spelt("--seed", "seed="))
    learnt = [training_images(run.config, images, spelt("--split-seed", "split_seed"))
              for run in runs]
    if len(set(learnt)) > 1:
        log.warning("the runs learnt from different training images (%s: %s), and the probes "
                    "are fitted on those: their accuracies compare less%s",
                    spelt("--train-subset", "train_subset"), "; ".join(learnt),
                    ", and so do their bounds on the training split"
                    if any(card.split == "train" for card in cards) else "")


def conditional(card: Scorecard) -> bool:
    """Whether the card's model is conditioned on a label, as its class says (an unknown
    name, from an eval.json edited by hand: not)."""
    try:
        return model_class(card.model).conditional
    except VaelabError:
        return False


def setting_applies(config: RunConfig, section: str, key: str) -> bool:
    """Whether a run's setting did anything: not one of a KL or a bound for a model without
    a posterior (an AE), nor the seed of binarized draws for images not binarized."""
    if section == "train" and key in POSTERIOR_ONLY:
        return model_class(config.model.model).has_posterior
    return not (key == "binarize_seed" and config.data.binarize == "none")
