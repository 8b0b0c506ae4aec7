"""The likelihood bounds, the probes, the Fréchet distance, the classifier and the eval and
compare commands."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import vaelab
from vaelab.cli import main
from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import binarize, prepare
from vaelab.distributions import Bernoulli, DiagonalGaussian, SquaredError
from vaelab.errors import VaelabError
from vaelab.measuring import probes
from vaelab.measuring.estimators import (
    elbo_per_image,
    importance_log_weights,
    iwae_bound,
    iwae_log_px,
    mean_and_error,
)
from vaelab.measuring.probes import (
    active_units,
    knn_accuracy,
    linear_probe,
    nearest,
    squared_distances,
)
from vaelab.measuring.scorecard import Score, Scorecard
from vaelab.training.loop import resume, train
from vaelab.training.runs import load_run

# ---------------------------------------------------------------------------------------------
# A linear-Gaussian model, whose marginal likelihood is known in closed form:
# z ~ N(0, I_d), x | z ~ N(W z + b, s2 I_D)  =>  x ~ N(b, W W^T + s2 I_D).


def _linear_gaussian(seed: int = 0, d: int = 2, big_d: int = 5, s2: float = 0.5):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(big_d, d, generator=g, dtype=torch.float64)
    b = torch.randn(big_d, generator=g, dtype=torch.float64)
    x = b + (w @ torch.randn(d, 6, generator=g, dtype=torch.float64)).T \
        + s2**0.5 * torch.randn(6, big_d, generator=g, dtype=torch.float64)  # (6, D)
    marginal = torch.distributions.MultivariateNormal(b, w @ w.T + s2 * torch.eye(big_d,
                                                                                dtype=w.dtype))
    exact = marginal.log_prob(x)  # (6,)
    # The true posterior is Gaussian; q is a deliberately imperfect one: shifted, too wide.
    precision = w.T @ w / s2 + torch.eye(d, dtype=w.dtype)
    cov = torch.linalg.inv(precision)
    mean = (cov @ w.T @ (x - b).T / s2).T  # (6, d)
    q = DiagonalGaussian(mean + 0.3, torch.log(1.5**2 * cov.diagonal()).expand_as(mean))

    def log_likelihood(z: torch.Tensor) -> torch.Tensor:  # (B, n, d) -> (B, n)
        residual = x.unsqueeze(1) - (z @ w.T + b)
        return -0.5 * (residual.square().sum(-1) / s2 + big_d * math.log(2 * math.pi * s2))

    return q, log_likelihood, exact


def test_iwae_converges_to_the_exact_log_likelihood_of_a_linear_gaussian_model():
    q, log_likelihood, exact = _linear_gaussian()
    generator = torch.Generator().manual_seed(1)
    gaps = {}
    for k in (1, 10, 100, 1000, 20000):
        estimates = torch.stack([iwae_bound(importance_log_weights(q, log_likelihood, k, 5000,
                                                                   generator))
                                 for _ in range(8)])  # (repeats, B)
        gaps[k] = (exact - estimates.mean(dim=0)).mean().item()
        # A lower bound in expectation: never above the exact value beyond the noise.
        error = estimates.std(dim=0).mean().item() / math.sqrt(len(estimates))
        assert gaps[k] > -4 * error - 1e-9, (k, gaps[k], error)
    assert gaps[1] > 0.1  # the imperfect q leaves a real gap at k = 1 ...
    assert all(gaps[a] > gaps[b] for a, b in [(1, 10), (10, 100), (100, 1000)])  # ... that k closes
    assert abs(gaps[20000]) < 0.01


def test_iwae_log_weights_are_drawn_in_passes_without_changing_their_number():
    q, log_likelihood, _ = _linear_gaussian()
    weights = importance_log_weights(q, log_likelihood, 7, 3, torch.Generator().manual_seed(0))
    assert weights.shape == (7, 6) and weights.dtype == torch.float64


@pytest.fixture(scope="module")
def bernoulli_vae(tiny, tmp_path_factory):
    config = RunConfig(ModelConfig(latent_dims=3, likelihood="bce"), DataConfig(binarize="dynamic"),
                       TrainConfig(epochs=2))
    return train(config, tmp_path_factory.mktemp("runs") / "vae", data=tiny, progress=False)


def test_the_fast_log_likelihoods_equal_the_plain_ones():
    g = torch.Generator().manual_seed(0)
    last = torch.nn.Linear(7, 36).double()
    hidden = 3 * torch.randn(4, 5, 7, generator=g, dtype=torch.float64)  # (B, n, H)
    logits = last(hidden).unflatten(-1, (1, 6, 6))  # (B, n, C, H, W)
    x = torch.bernoulli(torch.full((4, 1, 6, 6), 0.4, dtype=torch.float64), generator=g)
    for likelihood in (Bernoulli((1, 6, 6)), SquaredError((1, 6, 6))):
        expected = likelihood.log_prob(logits.transpose(0, 1), x).T  # (n, B, ...) -> (B, n)
        rows = likelihood.log_prob_rows
        with torch.inference_mode():  # as the IWAE bound calls them: they write in place
            got = rows(hidden.clone(), last, x.flatten(1))
            into_buffer = rows(hidden.clone(), last, x.flatten(1), torch.empty(20, 36).double())
        torch.testing.assert_close(got, expected.detach())
        torch.testing.assert_close(into_buffer, expected.detach())


def test_iwae_with_one_sample_is_the_elbo_and_grows_with_k(bernoulli_vae, tiny):
    model = bernoulli_vae.model
    x = prepare(tiny, "dynamic", 0).test_images[:128].float() / 255
    recon, kl = elbo_per_image(model, x, None, 200, torch.Generator().manual_seed(0))
    elbo = -(recon + kl)
    bounds = {k: torch.stack([iwae_log_px(model, x, None, k,
                                          torch.Generator().manual_seed(s))
                              for s in range(20)]).mean(dim=0)  # (B,), averaged over draws
              for k in (1, 10, 100)}
    # k = 1: the same expectation as the ELBO; the per-image spread is small after averaging.
    difference = bounds[1] - elbo.double()
    assert abs(difference.mean().item()) < 4 * difference.std().item() / math.sqrt(len(x))
    assert bounds[1].mean() < bounds[10].mean() < bounds[100].mean()


def test_the_bounds_are_the_same_whatever_chunk_bounds_the_memory(bernoulli_vae, tiny):
    """--chunk set how many images shared a call of the random numbers, so that another
    chunk gave each image other draws: -ELBO 503.45 against 503.46 and an NLL 0.03 apart,
    for one model, seed, k and samples."""
    from vaelab.measuring.estimators import elbo_of, iwae_log_px_of

    model, images = bernoulli_vae.model, prepare(tiny, "dynamic", 0).test_images[:60]
    bounds, elbos = [], []
    for chunk in (2048, 100, 7):  # 60 images at once (k = 20), 5, and one image in 3 passes
        bounds.append(iwae_log_px_of(model, images, None, 20, torch.Generator().manual_seed(3),
                                     chunk))
        elbos.append(elbo_of(model, images, None, 4, torch.Generator().manual_seed(3),
                             max(1, chunk // 4))[0])
    for got in (bounds, elbos):  # the same draws: the sums differ in their last bits only
        for other in got[1:]:
            torch.testing.assert_close(other, got[0], rtol=1e-6, atol=1e-6)
    assert not torch.allclose(bounds[0], iwae_log_px_of(  # another seed, other draws
        model, images, None, 20, torch.Generator().manual_seed(4)), rtol=1e-3, atol=1e-3)


def test_bad_k_get_clear_errors_and_an_ae_asked_for_an_nll_a_warning(bernoulli_vae, tiny,
                                                                     tmp_path, caplog):
    from vaelab.measuring.evaluation import evaluate_run

    with pytest.raises(VaelabError, match="k must be a whole number from 1 to 100,000"):
        evaluate_run(bernoulli_vae, tiny, k=0, save=False, judge=None)
    # Checked before any work, not after minutes of measuring
    for options, message in (({"seed": -1}, "seed must be a whole number from 0"),
                             ({"seed": "0"}, "seed must be a whole number from 0"),
                             ({"judge": "cahced"}, "judge must be 'cached', None or a "),
                             ({"split": "val"}, "unknown split 'val'")):
        with pytest.raises(VaelabError, match=message):
            evaluate_run("no/such/run", **options)
    ae = train(RunConfig(ModelConfig(model="ae"), train=TrainConfig(epochs=1)), tmp_path / "ae",
               data=tiny, progress=False)
    with caplog.at_level("WARNING", logger="vaelab"):  # as the command line takes -k: a
        card = evaluate_run(ae, tiny, k=100, save=False, judge=None)  # loop goes on past it
    assert card.k is None and card["nll"].value is None
    assert f"{ae.path} is an AE: with no posterior it has no likelihood to bound, so k is not " \
           f"used" in caplog.messages


def test_eval_of_a_folder_without_weights_is_a_one_line_error(tmp_path, capsys):
    RunConfig().save(tmp_path / "config.json")
    assert main(["eval", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.safetensors: missing" in err


# ---------------------------------------------------------------------------------------------
# Probes.


def test_active_units_count_the_dimensions_whose_means_vary():
    g = torch.Generator().manual_seed(0)
    means = torch.cat([torch.randn(1000, 3, generator=g),
                       0.05 * torch.randn(1000, 2, generator=g)], dim=1)  # var 1 and 0.0025
    assert active_units(means) == 3


def test_probes_read_labels_off_codes_that_hold_them_and_not_off_noise():
    g = torch.Generator().manual_seed(0)
    centers = 5 * torch.randn(10, 4, generator=g)
    labels = torch.randint(0, 10, (3000,), generator=g)
    codes = centers[labels] + torch.randn(3000, 4, generator=g)
    train_codes, test_codes = codes[:2000], codes[2000:]
    train_labels, test_labels = labels[:2000], labels[2000:]
    assert linear_probe(train_codes, train_labels, test_codes, test_labels) > 0.95
    assert knn_accuracy(train_codes, train_labels, test_codes, test_labels) > 0.95
    noise = torch.randn(3000, 4, generator=g)
    assert linear_probe(noise[:2000], train_labels, noise[2000:], test_labels) < 0.2
    assert knn_accuracy(noise[:2000], train_labels, noise[2000:], test_labels) < 0.2


def test_the_linear_probe_fits_what_autograd_and_lbfgs_fit():
    """Its gradient is written out; the same L-BFGS on autograd's gradient of the same
    objective (the probe as it was first written) finds the same classifier, on codes whose
    classes overlap so that the fit's details could show."""
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 6, (5000,), generator=g)
    codes = 1.5 * torch.randn(6, 3, generator=g)[labels] + torch.randn(5000, 3, generator=g)
    train, test = codes[:4000].double(), codes[4000:].double()
    center, scale = train.mean(dim=0), train.std(dim=0)
    x_train, x_test = (train - center) / scale, (test - center) / scale
    weight = torch.zeros(3, 6, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=100, history_size=20,
                                  line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x_train @ weight + bias, labels[:4000])
        loss = loss + 1e-4 * weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(objective)
    with torch.no_grad():
        expected = ((x_test @ weight + bias).argmax(dim=1) == labels[4000:]).double().mean()
    accuracy = linear_probe(codes[:4000], labels[:4000], codes[4000:], labels[4000:])
    assert 0.4 < accuracy < 0.95  # the classes overlap: a fit that went wrong would show
    assert accuracy == pytest.approx(float(expected), abs=1e-3)  # at most one image of 1000
    small = labels.to(torch.uint8)  # labels of any integer type
    assert linear_probe(codes[:4000], small[:4000], codes[4000:], small[4000:]) == accuracy


def test_squared_distances_are_those_of_cdist():
    g = torch.Generator().manual_seed(3)
    for dims in (1, 2, 7):
        a, b = torch.randn(5, dims, generator=g), torch.randn(300, dims, generator=g)
        expected = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").square()
        torch.testing.assert_close(squared_distances(a, b.T.contiguous()), expected)


def test_the_nearest_neighbour_vote_does_not_depend_on_how_many_codes_go_at_once():
    """The default batch (as many test codes as keep their distances a heap block: 8 against
    60,000 training codes) votes as 3 codes at a time and as 50 do. (With distances from
    squared norms and a matrix product, 3 at a time gave 0.577 and 8 gave 0.576.)"""
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 10, (61_000,), generator=g)
    codes = 4 * torch.randn(10, 2, generator=g)[labels] + torch.randn(61_000, 2, generator=g)
    args = codes[:60_000], labels[:60_000], codes[60_000:], labels[60_000:]
    accuracy = knn_accuracy(*args)
    assert 0.2 < accuracy < 0.9  # neither trivial nor hopeless: many votes are close
    assert knn_accuracy(*args, batch_size=3) == accuracy == knn_accuracy(*args, batch_size=50)


@pytest.mark.parametrize("dims", [1, 2, 3, 5])
@pytest.mark.parametrize("tied", [False, True])
def test_the_nearest_codes_are_those_of_comparing_every_pair(monkeypatch, dims, tied):
    """Found first within windows along one coordinate (small ones here, so that many codes
    go on to the wider window and some to every pair), they are those of sorting every
    training code by its distance and then its index: on codes drawn from a few values,
    where distances tie at the k-th neighbour, too. (Windows are sought in 3-D here too.)"""
    monkeypatch.setattr(probes, "WINDOWS", (40, 160))
    monkeypatch.setattr(probes, "SORTED_DIMS", 3)
    g = torch.Generator().manual_seed(dims)
    codes = (torch.randint(-3, 4, (2500, dims), generator=g).float() / 2 if tied
             else torch.randn(2500, dims, generator=g) * torch.linspace(1, 3, dims))
    train, test = codes[:2000], codes[2000:]
    distances = squared_distances(test, train.T.contiguous()).numpy()  # (500, 2000)
    index = np.broadcast_to(np.arange(2000), distances.shape)
    expected = torch.from_numpy(np.lexsort((index, distances), axis=1)[:, :5])
    assert torch.equal(nearest(train, test, 5), expected)
    assert torch.equal(nearest(train, test, 5, batch_size=7), expected)
    assert torch.equal(nearest(train, test, 100), torch.from_numpy(
        np.lexsort((index, distances), axis=1)[:, :100]))  # more than the first window holds


def test_the_nearest_neighbour_vote_takes_every_code_of_fewer_than_k():
    codes, labels = torch.tensor([[0.0], [1.0], [5.0]]), torch.tensor([1, 1, 2])
    assert knn_accuracy(codes, labels, torch.tensor([[0.5]]), torch.tensor([1])) == 1.0
    with pytest.raises(VaelabError, match="k must be from 1"):
        nearest(codes, codes, 4)


def test_a_tied_vote_goes_to_the_class_whose_voters_are_nearer():
    """Five neighbours voting 2-2-1: the class of the nearer pair wins, whichever it is (not
    the lower class number, nor the farther pair)."""
    test = torch.tensor([[0.0]])
    for near, far, truth in ((2, 0, 2), (0, 2, 0)):
        codes = torch.tensor([[0.1], [0.2], [-0.3], [-0.4], [0.5]])
        labels = torch.tensor([near, near, far, far, 1])
        assert knn_accuracy(codes, labels, test, torch.tensor([truth]), k=5) == 1.0


# ---------------------------------------------------------------------------------------------
# Sample quality.


def test_the_frechet_moments_are_the_mean_and_the_unbiased_covariance():
    from vaelab.measuring.classifier import _moments

    features = torch.randn(500, 6, generator=torch.Generator().manual_seed(1)) * 3 + 1
    mean, cov = _moments(features)
    assert mean.dtype == cov.dtype == torch.float64
    assert torch.allclose(mean, features.double().mean(dim=0))
    assert torch.allclose(cov, torch.cov(features.double().T))
    given = features.double()  # already float64: centred in a copy, not in the caller's
    before = given.clone()
    _moments(given)
    assert torch.equal(given, before)


def test_one_pass_of_the_classifier_gives_what_predict_and_features_give():
    from vaelab.measuring.classifier import Classifier, features, predict, predict_with_features

    torch.manual_seed(0)
    model = Classifier((1, 28, 28), 10)
    images = torch.randint(0, 256, (450, 1, 28, 28), dtype=torch.uint8)
    probabilities, seen = predict_with_features(model, images)
    assert torch.equal(probabilities, predict(model, images))
    assert torch.equal(seen, features(model, images))


def test_the_classifier_batches_by_its_widest_activation_with_the_same_numbers():
    """Its default batch keeps the first convolution's output (``widest``, checked against the
    layer itself) a heap block; features come out as they do 200 images at a time."""
    from vaelab.measuring.classifier import Classifier, features
    from vaelab.memory import rows_per_block

    for shape in ((1, 28, 28), (3, 13, 11), (1, 64, 64)):
        model = Classifier(shape, 10)
        assert model.widest == tuple(model.body[0](torch.zeros(1, *shape)).shape[1:])
    torch.manual_seed(0)
    model = Classifier((1, 28, 28), 10)
    assert rows_per_block(model.widest, most=500) == 83
    images = torch.randint(0, 256, (450, 1, 28, 28), dtype=torch.uint8)
    torch.testing.assert_close(features(model, images), features(model, images, 200))


def test_frechet_distance_is_zero_to_itself_and_large_to_noise():
    from vaelab.measuring.classifier import frechet_distance

    g = torch.Generator().manual_seed(0)
    features = torch.randn(5000, 16, generator=g) @ torch.randn(16, 16, generator=g)
    assert frechet_distance(features, features) < 1e-6
    shifted = features + 2.0  # same covariance, mean moved by 2 in each of 16 dimensions
    assert frechet_distance(features, shifted) == pytest.approx(16 * 4.0, rel=1e-6)
    noise = torch.rand(5000, 16, generator=g)
    assert frechet_distance(features, noise) > 10 * frechet_distance(
        features[:2500], features[2500:])


def test_class_entropy_and_confidence():
    from vaelab.measuring.classifier import class_entropy, confident_share

    all_ten = torch.eye(10).repeat(5, 1)
    assert class_entropy(all_ten) == pytest.approx(math.log(10))
    assert class_entropy(torch.eye(10)[[3] * 20]) == 0
    probabilities = torch.tensor([[0.95, 0.05], [0.6, 0.4]])
    assert confident_share(probabilities) == 0.5
    from vaelab.measuring.scorecard import Score

    one_class = class_entropy(torch.eye(10)[[3] * 20])  # -0.0, from -(1 * log 1)
    assert Score(one_class).text(3) == "0.000" and Score(-1e-9, 1e-9).text(2) == "0.00 ± 1e-09"
    assert Score(-0.25).text(2) == "-0.25"
    # An error too small for the digits shown gets its first digit, and the figure with it.
    assert Score(0.29317, 0.0042).text(2) == "0.293 ± 0.004"
    assert Score(0.29317, 0.00042).text(2) == "0.2932 ± 0.0004"
    assert Score(0.29317, 0.006).text(2) == "0.293 ± 0.006"
    assert Score(0.29317, 0.012).text(2) == "0.29 ± 0.01"
    assert Score(0.29317, 0.00096).text(2) == "0.293 ± 0.001"  # one digit of error, not 0.0010
    assert Score(0.29317, 0.0000999).text(2) == "0.2932 ± 0.0001"
    assert Score(0.29317, 0.00004).text(2) == "0.29 ± 4e-05"  # two digits more at most
    # A figure that rounds to 0.00 with an error that does too read as nothing measured: a
    # collapsed KL of 0.000632 ± 8.4e-08 nats, a zero within its error
    assert Score(0.000632, 8.4e-8).text(2) == "0.000632 ± 8e-08"
    assert Score(0.000632, 0.0).text(2) == "0.000632 ± 0"  # every image's alike
    assert Score(0.0, 0.0).text(2) == "0.00 ± 0.00" and Score(0.0).text(2) == "0.00"
    from vaelab.pictures.report import _fmt  # the training table's

    assert [_fmt(v) for v in (0.000632, 0.0, -0.004, 1234.567)] == ["0.00063", "0.00", "-0.004",
                                                                    "1,234.57"]


@pytest.mark.slow
def test_the_classifier_reaches_99_percent_on_mnist(mnist, tmp_path, monkeypatch):
    from vaelab.measuring.classifier import load_judge, train_judge

    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path)
    judge = train_judge(mnist, progress=False)
    assert judge.accuracy >= 0.99
    again = load_judge("mnist")  # stored in the cache and read back as it was
    assert again is not None and again.accuracy == pytest.approx(judge.accuracy, abs=1e-6)
    images = mnist.test_images[:500]
    assert torch.equal(again.model(images.float() / 255).argmax(1),
                       judge.model(images.float() / 255).argmax(1))


# ---------------------------------------------------------------------------------------------
# The eval and compare commands, end to end on small runs.


def test_binarize_draws_black_and_white_images_the_same_for_a_seed(tiny):
    once, again = binarize(tiny.test_images, 5), binarize(tiny.test_images, 5)
    assert torch.equal(once, again) and set(once.unique().tolist()) <= {0, 255}
    brighter = (tiny.test_images.float() / 255).mean()
    assert (once.float() / 255).mean() == pytest.approx(brighter.item(), abs=0.01)
    static = prepare(tiny, "static", 0)
    assert not torch.equal(static.train_images, tiny.train_images)
    dynamic = prepare(tiny, "dynamic", 0)
    assert torch.equal(dynamic.train_images, tiny.train_images)  # drawn per batch instead
    assert torch.equal(dynamic.test_images, static.test_images)


def test_eval_writes_every_metric_and_compare_lays_runs_side_by_side(bernoulli_vae, tiny,
                                                                     tmp_path, monkeypatch,
                                                                     caplog):
    from vaelab.measuring.classifier import train_judge
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.measuring.scorecard import MEASURES, Scorecard, load_scorecard
    from vaelab.pictures import comparison as compare_module
    from vaelab.pictures.comparison import compare_runs

    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    judge = train_judge(tiny, epochs=2, progress=False)
    card = evaluate_run(bernoulli_vae, tiny, k=20, judge=judge, progress=False)
    saved = json.loads((bernoulli_vae.path / "eval.json").read_text())
    assert saved["k"] == 20 and saved["chunk"] == 2048 and saved["likelihood"]["exact"] is True
    assert saved["likelihood"]["discrete"] is True  # a probability of binary pixels
    assert {m.key for m in MEASURES} == set(saved["metrics"])
    values = {key: score.value for key, score in card.metrics.items()}
    # Every measure applies to a VAE, but the one of a conditional model.
    assert [key for key, v in values.items() if v is None] == ["sample_asked"], values
    assert values["nll"] <= values["neg_elbo"] + 3 * card.metrics["neg_elbo"].error
    assert values["bits_per_dim"] == pytest.approx(values["nll"] / (784 * math.log(2)))
    assert 0 <= values["grid_digits"] <= 1 and values["active_units"] <= 3
    for probe in ("linear_probe", "knn"):  # a share of the test images, with its error
        n = len(tiny.test_images)
        right = round(values[probe] * n)  # as mean_and_error has it of each image's 1 or 0
        hits = torch.cat([torch.ones(right), torch.zeros(n - right)])
        assert (values[probe], card.metrics[probe].error) == pytest.approx(mean_and_error(hits))
    # The entropy of the classes drawn says what it is at most: every class equally often
    assert card.metrics["sample_class_entropy"].note == ("at most ln 10 = 2.303, reached when "
                                                         "every class is drawn equally often")
    assert load_scorecard(bernoulli_vae.path).metrics == card.metrics
    kept = load_scorecard(bernoulli_vae.path).per_image  # each image's bounds, beside it
    assert kept.keys() == {"nll", "neg_elbo"} and len(kept["nll"]) == card.images
    assert kept["nll"].mean().item() == pytest.approx(card.metrics["nll"].value)
    # Bounds measured otherwise than the eval.json beside them say (another seed) are not
    # taken for its images'; a damaged file is said, and left out
    per_image = bernoulli_vae.path / "eval-per-image.safetensors"
    good = per_image.read_bytes()
    per_image.write_bytes(dataclasses.replace(card, seed=card.seed + 1).per_image_file())
    assert load_scorecard(bernoulli_vae.path).per_image == {}
    per_image.write_bytes(b"not safetensors")
    assert load_scorecard(bernoulli_vae.path).per_image == {}
    assert "eval-per-image.safetensors: unreadable" in caplog.text
    shifted = {key: values + 1 for key, values in card.per_image.items()}  # another run's
    per_image.write_bytes(dataclasses.replace(card, per_image=shifted).per_image_file())
    assert load_scorecard(bernoulli_vae.path).per_image == {}
    per_image.write_bytes(good)
    # A run folder copied elsewhere is named where it is now, not where it was measured
    import shutil

    copied = shutil.copytree(bernoulli_vae.path, tmp_path / "copied")
    assert load_scorecard(copied).run == str(copied) != card.run
    # One measured before the run trained on says so (it was returned without a word), and a
    # folder that is not there is an error, not None as for a run not measured
    outdated = json.loads((copied / "eval.json").read_text())
    outdated["epochs"] -= 1
    (copied / "eval.json").write_text(json.dumps(outdated))
    caplog.clear()
    assert load_scorecard(copied).epochs == card.epochs - 1
    assert (f"{copied / 'eval.json'} is of epoch {card.epochs - 1}, and the run has trained "
            f"{card.epochs}: its figures are not of the weights now") in caplog.text
    with pytest.raises(VaelabError, match=r"nowhere: no such run folder$"):
        load_scorecard(tmp_path / "nowhere")
    (tmp_path / "images").mkdir()  # a folder that is no run's: not a run not measured yet
    with pytest.raises(VaelabError, match=r"images: not a vaelab run folder \(it has no "
                                          r"config.json"):
        load_scorecard(tmp_path / "images")
    del saved["title"]  # an evaluation written before runs had titles names the model
    assert Scorecard.from_dict(saved).name == "VAE"

    ae = train(RunConfig(ModelConfig(model="ae", arch="conv", channels=(4, 8)),
                         train=TrainConfig(epochs=1)), tmp_path / "ae", data=tiny, progress=False)
    comparison, folder = compare_runs([bernoulli_vae.path, ae.path], tmp_path / "cmp",
                                      data=tiny, progress=False, judge=judge)
    ae_card = load_scorecard(ae.path)  # compare evaluated the run that had no eval.json
    assert ae_card is not None and ae_card.metrics["nll"].value is None
    assert ae_card.metrics["linear_probe"].value is not None
    markdown = (folder / "compare.md").read_text()
    # What each run is, its net and likelihood too
    assert "| model | VAE (Bernoulli) d=3 | conv AE d=2 |" in markdown
    assert "| likelihood | Bernoulli (bce) | squared error (sse) |" in markdown  # in words
    assert "| NLL, importance-weighted bound, k = 20 (nats) |" in markdown
    assert (folder / "compare.png").stat().st_size > 10_000
    # What does not apply is marked, and the reason given below the table.
    numbered = {line.split("] ", 1)[1]: line.removeprefix("- [").split("]")[0]
                for line in markdown.splitlines() if line.startswith("- [")}
    nll_row = next(line for line in markdown.splitlines() if line.startswith("| NLL"))
    assert nll_row.endswith(f"| n/a [{numbered[ae_card.metrics['nll'].note]}] |")
    # The AE's squared-error loss leaves out the Gaussian's constant, and the table says so;
    # and the two runs' likelihoods differ, so their bounds are on different scales.
    scale = ("on the scale of the {} likelihood; the runs' likelihoods differ (bce, sse), and "
             "so do the scales: compare runs of one likelihood")
    loss_row = next(line for line in markdown.splitlines() if line.startswith("| loss as"))
    # And the VAE's bounds are of binarized images, the AE's of grey ones (also in compare.csv)
    images = "the runs' images measured differ (binarized (seed 0), grey): figures of other images"
    ae_loss = ("without the squared error's Gaussian constant (448.7 nats for 784 pixels); "
               f"and {scale.format('sse')}; and {images}")  # no −ELBO or NLL of an AE has it
    assert loss_row.endswith(f" [{numbered[ae_loss]}] |"), (loss_row, numbered)
    vae_nll = f"{scale.format('bce')}; and {images}"
    assert nll_row.split("|")[2].strip().endswith(f"[{numbered[vae_nll]}]")
    # A Fréchet distance from a small test set is a figure with a note on how far to trust it.
    note = card.metrics["sample_frechet"].note
    assert note.startswith(f"from {len(tiny.test_images):,} samples and test images only")
    frechet_row = next(line for line in markdown.splitlines() if "Fréchet" in line)
    number = next(line for line in markdown.splitlines() if line.endswith(f"] {note}"))
    number = number.removeprefix("- [").split("]")[0]
    assert frechet_row.split("|")[2].strip() == (
        f"{card.metrics['sample_frechet'].value:.2f} [{number}]")
    assert "| reconstruction E_q[−log p(x\\|z)] (nats) |" in markdown  # the bar escaped
    # The VAE's bounds are of binarized test images, the AE's of grey ones: the table says so.
    assert "| images measured | binarized (seed 0) | grey |" in markdown
    raw = (folder / "compare.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfmetric,")  # UTF-8's mark, for Excel on Windows
    lines = raw.decode("utf-8-sig").splitlines()
    trained = [line for line in lines if line.startswith("trained with --")]
    assert lines[0].startswith("metric,") and len(lines) == 1 + 12 + len(trained) + len(MEASURES)
    assert "trained with --arch,mlp,,,conv,," in trained  # how they were trained, where unlike
    assert "| trained with --arch | mlp | conv |" in markdown
    assert f"classifier_accuracy,{judge.accuracy!r},,,{judge.accuracy!r},," in lines
    assert f"| classifier's test accuracy | {judge.accuracy:.2%} | {judge.accuracy:.2%} |" \
        in markdown
    assert "k,20,,,,," in lines and "images_measured,binarized (seed 0),,,grey,," in lines
    assert "chunk,2048,,,2048,," in lines  # what bounded the memory, as measured
    assert "seed,0,,,0,," in lines and "| evaluation seed | 0 | 0 |" in markdown
    # Each figure's note is beside it: why the AE has no NLL, what limits a Fréchet distance.
    nll = next(row for row in csv.reader(lines) if row[0] == "nll")
    assert nll[1:4] == [repr(values["nll"]), repr(card.metrics["nll"].error), vae_nll]
    assert nll[4:] == ["", "", ae_card.metrics["nll"].note] and nll[6]
    frechet = next(row for row in csv.reader(lines) if row[0] == "sample_frechet")
    assert frechet[3] == card.metrics["sample_frechet"].note != ""
    # Printed, or shown by a notebook, a comparison or a scorecard is its table.
    assert str(comparison) == comparison.text() and comparison._repr_markdown_() == markdown
    assert str(card) == card.table() and "seed 0" in card.table().splitlines()[0]
    assert "| evaluation seed | 0 |" in card._repr_markdown_()
    assert card["nll"] is card.metrics["nll"] and float(card["nll"]) == values["nll"]
    assert math.isnan(float(ae_card["nll"]))  # n/a
    with pytest.raises(KeyError, match="no measure 'NLL'; the measures are loss, neg_elbo"):
        card["NLL"]
    # As a notebook reads a mapping and formats a number
    assert f"{card['nll']:.3f}" == f"{values['nll']:.3f}" and f"{ae_card['nll']:.1f}" == "nan"
    assert f"{card['active_units']:d}|{card['active_units']:>3}" == \
        f"{values['active_units']:d}|{values['active_units']:>3}"  # a count, not 3.0
    assert "nll" in card and "NLL" not in card and list(card) == card.keys()
    assert sorted(card) == sorted(values) and len(card) == len(values)
    assert {key: card[key].value for key in card} == values
    older = Scorecard.from_dict({**card.to_dict(), "metrics": {
        key: vars(score) for key, score in card.metrics.items() if key != "kl"}})
    assert older["kl"].value is None and older["kl"].note == "not measured"  # an older file
    assert vaelab.load_scorecard(bernoulli_vae.path).metrics == card.metrics
    assert str(vaelab.Comparison([card, ae_card])) == comparison.text()
    with pytest.raises(VaelabError, match=r"scorecards alone go side by side as "
                                          r"vaelab.Comparison\(\[card, ...\]\)"):
        compare_runs([card, ae_card], tmp_path / "cards")
    with pytest.raises(VaelabError, match="at least two runs"):  # not a TypeError of len()
        compare_runs(run for run in [bernoulli_vae])
    printed = comparison.text().splitlines()
    _, notes = comparison.noted_rows()
    assert printed[0].split() == comparison.names and notes
    assert len(printed) == len(comparison.rows()) + 1 + len(notes)
    assert printed[-len(notes):] == [f"  [{k}] {note}" for k, note in enumerate(notes, 1)]

    # A saved evaluation whose samples another classifier judged is measured again.
    other = train_judge(tiny, epochs=1, progress=False)
    assert other.accuracy != judge.accuracy
    evaluated, drawn = [], []
    real, figure = compare_module.evaluate_run, compare_module.comparison_figure
    monkeypatch.setattr(compare_module, "evaluate_run",
                        lambda run, *a, **kw: evaluated.append(run.path) or real(run, *a, **kw))
    monkeypatch.setattr(compare_module, "comparison_figure",
                        lambda *a, **kw: drawn.append(a[3]) or figure(*a, **kw))
    compare_runs([bernoulli_vae.path, ae.path], tmp_path / "cmp2", data=tiny, progress=False,
                 judge=judge, k=20)
    assert evaluated == []  # the same classifier: both evaluations are used again
    # The figure names each row by its folder and by what the run is
    assert drawn == [[f"{comparison.names[0]}, VAE (Bernoulli)", f"{comparison.names[1]}, conv AE"]]
    compare_runs([bernoulli_vae.path, ae.path], tmp_path / "cmp3", data=tiny, progress=False,
                  judge=other, k=20)
    assert evaluated == [bernoulli_vae.path, ae.path]
    assert load_scorecard(ae.path).classifier["test_accuracy"] == other.accuracy


def test_a_binarized_run_is_measured_on_binarized_images_on_either_split(bernoulli_vae, tiny,
                                                                         monkeypatch):
    """The rule: bounds, codes and probes of a binarized run are of binarized images (one
    seeded draw of the training set for a 'dynamic' run), never of the grey ones."""
    import vaelab.measuring.evaluation as evaluation

    seen_values = {"encode_dataset": [], "objective_per_image": [], "_bounds": []}

    def recording(name):
        real = getattr(evaluation, name)

        def recorded(model, images, *args, **kwargs):
            seen_values[name].append(set(images.unique().tolist()))
            return real(model, images, *args, **kwargs)
        return recorded

    for name in seen_values:  # the codes and probes, the loss, the bounds
        monkeypatch.setattr(evaluation, name, recording(name))
    for split in ("train", "test"):
        card = evaluation.evaluate_run(bernoulli_vae, tiny, k=5, split=split, judge=None,
                                       save=False, progress=False)
        assert card.likelihood["exact"] and "binarized images" in card.likelihood["description"]
        assert card.metrics["nll"].value is not None
    for name, values in seen_values.items():
        assert len(values) >= 2, name  # called on either split
        assert all(seen <= {0, 255} for seen in values), name
    # The grids the classifier judges lie over the region of the binarized images' codes
    from vaelab.measuring.classifier import Classifier, Judge

    pictured = []
    real_picture = evaluation.latent_picture
    monkeypatch.setattr(evaluation, "latent_picture", lambda model, data, *args, **kwargs:
                        pictured.append(set(data.test_images.unique().tolist()))
                        or real_picture(model, data, *args, **kwargs))
    judge = Judge(Classifier(), "mnist", 0.99, Path("judge.safetensors"))
    evaluation.evaluate_run(bernoulli_vae, tiny, k=2, judge=judge, save=False, progress=False)
    assert pictured and all(values <= {0, 255} for values in pictured)
    draw = prepare(tiny, "dynamic", 0, measuring=True).train_images
    assert torch.equal(draw, prepare(tiny, "static", 0).train_images)


def test_the_training_split_of_a_subset_run_is_the_images_it_learnt_from(tiny, tmp_path):
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.objectives import objective_per_image
    from vaelab.training.datasets import learned_from

    config = RunConfig(ModelConfig(latent_dims=2, hidden_dims=(32,)),
                       DataConfig(train_subset=100), TrainConfig(epochs=1))
    run = train(config, tmp_path / "subset", data=tiny, progress=False)
    card = evaluate_run(run, tiny, k=2, split="train", judge=None, save=False,
                        progress=False)
    images, labels = learned_from(run.config, tiny)
    assert card.images == 100
    expected = objective_per_image(run.model, images, config.train, labels, seed=0)
    assert card.metrics["loss"].value == pytest.approx(expected["loss"])


def test_the_shipped_classifiers_are_checked_and_a_changed_file_is_refused(tmp_path,
                                                                          monkeypatch, caplog):
    from vaelab.measuring import classifier

    for dataset in classifier.SHIPPED:
        judge = classifier.load_judge(dataset)
        assert judge is not None and judge.path == classifier.shipped_path(dataset)
    assert classifier.load_judge("mnist").accuracy >= 0.99
    copy = tmp_path / "mnist.safetensors"
    raw = bytearray(classifier.shipped_path("mnist").read_bytes())
    raw[-1] ^= 1  # one bit of one weight
    copy.write_bytes(bytes(raw))
    monkeypatch.setattr(classifier, "shipped_path", lambda dataset: copy)
    assert classifier.load_judge("mnist") is None
    assert "not the file vaelab shipped" in caplog.text


def test_a_cached_classifier_without_its_accuracy_is_unreadable_not_a_traceback(
        tmp_path, monkeypatch, caplog):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from vaelab.measuring import classifier

    shipped = classifier.shipped_path("mnist")
    with safe_open(shipped, "pt") as f:
        meta = dict(f.metadata())
    for accuracy in (None, "high"):
        cached = tmp_path / f"{accuracy}.safetensors"
        if accuracy is None:
            del meta["accuracy"]
        else:
            meta["accuracy"] = accuracy
        save_file(load_file(shipped), cached, metadata=meta)
        monkeypatch.setattr(classifier, "classifier_path", lambda dataset, cached=cached: cached)
        assert classifier.load_judge("mnist") is None
        assert f"{cached}: unreadable" in caplog.text


def test_the_shipped_mnist_classifier_reaches_99_percent_on_the_real_test_set(mnist):
    from vaelab.measuring.classifier import load_judge, predict

    judge = load_judge("mnist")
    accuracy = (predict(judge.model, mnist.test_images).argmax(dim=1) == mnist.test_labels)
    assert accuracy.double().mean().item() == pytest.approx(judge.accuracy, abs=1e-6)
    assert judge.accuracy >= 0.99


def test_registered_images_at_another_size_get_a_classifier_of_their_own(tiny, tmp_path,
                                                                         monkeypatch, caplog):
    import shutil

    from vaelab.data.images import resized
    from vaelab.measuring import classifier

    assert classifier.judge_key(tiny) == "mnist"  # MNIST at its own size: the shipped one
    bigger, smaller = resized(tiny, 32), resized(tiny, 26)
    key = classifier.judge_key(bigger)
    assert key.startswith("mnist-") and key != classifier.judge_key(smaller)
    # A classifier kept for other images under that key (as an older vaelab could keep it)
    # is not used on these: a new one is trained.
    monkeypatch.setattr(classifier.sources, "cache_root", lambda: tmp_path)
    classifier.classifier_path(key).parent.mkdir(parents=True)
    shutil.copy(classifier.shipped_path("mnist"), classifier.classifier_path(key))
    trained = []
    monkeypatch.setattr(classifier, "train_judge",
                        lambda data, progress: trained.append(data) or "new")
    assert classifier.judge_for(bigger, progress=False) == "new" and trained == [bigger]
    assert "made for images of another size" in caplog.text


def test_a_frechet_distance_from_a_small_test_set_says_it_is_rough():
    from vaelab.measuring.caveats import FRECHET_FEW, few_for_frechet

    assert few_for_frechet(10_000) == few_for_frechet(FRECHET_FEW) == ""
    assert few_for_frechet(179).startswith("from 179 samples and test images only: rough")


def test_the_classifier_trains_five_epochs_or_2000_steps_and_at_most_fifty_epochs():
    from vaelab.measuring.classifier import default_epochs

    assert default_epochs(60_000) == 5  # MNIST: 2,345 steps, as the shipped one was trained
    assert default_epochs(12_000) == 22  # 94 steps an epoch: 2,068 steps
    assert default_epochs(3_000) == 50  # 24 steps an epoch: 84 epochs would make 2,000
    assert default_epochs(540) == 50  # 5 steps an epoch: 250 steps, not 2,000


def test_figures_that_are_not_what_their_row_says_of_every_model_carry_a_note():
    from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vaelab.measuring.caveats import caveats
    from vaelab.models import build_model

    def notes(split="test", active=None, epochs=10, **settings):
        config = RunConfig(ModelConfig(**settings.pop("model", {})),
                           DataConfig(**settings.pop("data", {})), TrainConfig(**settings))
        return caveats(build_model(config.model, (1, 28, 28)), config, split, active=active,
                       epochs=epochs)

    assert notes()["loss"].startswith("without the squared error's Gaussian constant")
    ae = notes(model={"model": "ae"})  # a point, not an expectation over q(z|x)
    assert ae["recon"].startswith("at each image's code") and "recon" not in notes()
    assert notes(objective="iwae", k=5)["loss"].startswith("the −IWAE bound of k = 5 draws")
    assert notes(objective="iwae", k=5)["loss"].endswith(  # that bound leaves it out too
        "; and without the squared error's Gaussian constant, which −ELBO and NLL include "
        "(448.7 nats for 784 pixels)")
    grey = notes(model={"likelihood": "bce"})
    assert grey["neg_elbo"] == grey["recon"] == grey["loss"]  # a cross-entropy, on each row
    grey_ae = notes(model={"model": "ae", "likelihood": "bce"})
    assert grey_ae["loss"] == grey["loss"] and grey_ae["recon"].startswith(grey["loss"])
    assert "neg_elbo" not in notes(model={"likelihood": "bce"}, data={"binarize": "dynamic"})
    # Bits of black-or-white pixels are not the 8-bit bits of image models: both say which
    assert notes(model={"likelihood": "bce"}, data={"binarize": "dynamic"})[
        "bits_per_dim"].startswith("per black-or-white pixel (a coin toss scores 1)")
    assert notes(model={"likelihood": "logistic"})["bits_per_dim"].startswith("per 8-bit")
    assert notes(model={"likelihood": "logistic"}, data={"binarize": "dynamic"})[
        "bits_per_dim"].startswith("per pixel of black-or-white images, under a distribution "
                                   "of 256 levels: neither the 8-bit figure")
    cvae = notes(model={"model": "cvae", "likelihood": "bce"}, data={"binarize": "dynamic"})
    assert cvae["nll"].startswith("of p(x|y)") and cvae["sample_frechet"].startswith("drawn")
    assert cvae["loss"] == cvae["recon"] == cvae["nll"]
    assert cvae["kl"].startswith("of q(z|x,y)")  # to p(z), which has no label
    # A CVAE's code leaves the class to the label: probes near chance are its aim, and a high
    # accuracy may be the label read back (a collapsed CVAE's probes scored 1.0)
    assert cvae["linear_probe"] == cvae["knn"] and "near chance (1 in 10)" in cvae["knn"]
    assert "may be the label read back from the code" in cvae["knn"]
    collapsed = notes(active=0)  # its probes read noise-level differences of the means
    assert collapsed["knn"] == collapsed["linear_probe"] and "collapsed" in collapsed["knn"]
    assert "linear_probe" not in notes(active=2) and "knn" not in notes(model={"model": "ae"},
                                                                         active=0)
    # The loss is the −ELBO at β = 1, not the line a β-VAE (or a KL warm-up) minimised
    # in the last epoch measured: a warm-up to β = 1 that is over is the ELBO's weight again
    assert notes(beta=4.0)["loss"].startswith("with the KL at its full weight (β = 1), not as "
                                              "the run's last epoch weighted it (β = 4);")
    assert notes(kl_warmup=3, epochs=2)["loss"].startswith(
        "with the KL at its full weight (β = 1), not as the run's last epoch weighted it (the "
        "KL warming up);")
    assert notes(beta=4.0, kl_warmup=3, epochs=2)["loss"].startswith(
        "with the KL at its full weight (β = 1), not as the run's last epoch weighted it (β "
        "warming up to 4);")
    for done in ({}, {"kl_warmup": 3, "epochs": 3}):
        assert not notes(**done)["loss"].startswith("with the KL")
    sse_cvae = notes(model={"model": "cvae"})["loss"]  # both notes, neither lost
    denoising = notes(model={"likelihood": "bce"}, noise="mask:0.5")
    assert denoising["loss"] == (f"{grey['loss']}; and of inputs corrupted with --noise "
                                 f"mask:0.5; every other row encodes the clean images")
    assert sse_cvae.startswith("without the squared error's") and "; and of p(x|y)" in sse_cvae
    assert set(notes(split="train")) == {"loss", "linear_probe", "knn", "sample_frechet",
                                         "grid_digits"}  # over the test codes' region
    both = notes(split="train", model={"model": "cvae"})["sample_frechet"]  # neither lost
    assert both == "drawn given a class, every class in turn; and samples against the test " \
                   "images, on either split"


def test_a_saved_evaluation_of_an_older_vaelab_is_read_with_its_notes(bernoulli_vae, tiny,
                                                                       tmp_path):
    """An eval.json written before the notes were kept gets them when it is read (compare,
    the run's page and the explorer read it so), not only when a run is measured anew."""
    from vaelab.measuring.caveats import saved_scorecard
    from vaelab.measuring.evaluation import evaluate_run

    evaluate_run(bernoulli_vae, tiny, k=5, samples=2, split="train", judge=None,
                 progress=False)
    path = bernoulli_vae.path / "eval-train.json"
    saved = json.loads(path.read_text())
    assert saved["metrics"]["linear_probe"]["note"].startswith("fitted on the training codes")
    for score in saved["metrics"].values():
        if score["value"] is not None:
            score["note"] = ""  # as an older vaelab wrote it
    path.write_text(json.dumps(saved))
    card = saved_scorecard(bernoulli_vae, "train")
    assert card.metrics["linear_probe"].note.startswith("fitted on the training codes")
    assert card.metrics["knn"].note == card.metrics["linear_probe"].note
    from vaelab.pictures.comparison import compare_runs  # which reads it so, not measuring again

    copy = shutil.copytree(bernoulli_vae.path, tmp_path / "copy")  # a second run, as it is
    compare_runs([bernoulli_vae, copy], tmp_path / "cmp", data=tiny, progress=False,
                 judge=None, split="train")
    markdown = (tmp_path / "cmp" / "compare.md").read_text()
    measured = f"{card.images:,} MNIST train"  # the dataset named, as compare.md says it
    assert f"| measured on | {measured} images | {measured} images |" in markdown
    own = dataclasses.replace(card, config={"data": {"dataset": "data/faces.npz"}})
    assert own.measured_on() == f"{card.images:,} train images of faces"  # not 'faces train'
    assert dataclasses.replace(card, config=None).measured_on() == f"{card.images:,} train images"
    assert f"] {card.metrics['knn'].note}" in markdown
    assert json.loads(path.read_text())["metrics"]["knn"]["note"] == ""  # not measured again


def test_a_copied_runs_evaluation_is_named_by_the_folder_it_is_in(bernoulli_vae, tiny,
                                                                  tmp_path):
    import shutil

    from vaelab.measuring.caveats import saved_scorecard
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.training.runs import load_run

    evaluate_run(bernoulli_vae, tiny, k=2, samples=1, judge=None, progress=False)
    copy = load_run(shutil.copytree(bernoulli_vae.path, tmp_path / "copy"))
    assert saved_scorecard(copy).run == str(copy.path)  # eval.json says the original's
    assert json.loads((copy.path / "eval.json").read_text())["run"] == str(bernoulli_vae.path)


def test_figures_judged_by_a_weak_classifier_say_so():
    from vaelab.measuring.caveats import WEAK_JUDGE, with_caveats
    from vaelab.measuring.scorecard import MEASURES, Score, Scorecard
    from vaelab.models import build_model

    config = RunConfig(ModelConfig(hidden_dims=(8,)))
    model = build_model(config.model, (1, 28, 28))

    def card(accuracy: float) -> Scorecard:
        return with_caveats(Scorecard(
            run="r", model="vae", latent_dims=2, epochs=1, split="test", images=10_000, k=5,
            samples=2, seed=0, likelihood={"name": "sse", "description": ""},
            classifier={"dataset": "x", "test_accuracy": accuracy},
            metrics={m.key: Score(0.5) for m in MEASURES}), model, config)

    weak = card(0.0)
    assert weak["sample_confidence"].note == ("judged by a classifier that is right on only "
                                              "0.0% of the test images: weak evidence")
    assert weak["prior_grid_digits"].note == weak["sample_confidence"].note
    assert weak["nll"].note == "" and weak["linear_probe"].note == ""  # not judged by it
    assert card(WEAK_JUDGE)["sample_confidence"].note == ""
    assert "judged by a classifier of the images, right on 0.00% of its test images" in weak.table()


def test_a_cvaes_grids_are_judged_as_each_class_not_as_the_figures_one(tiny, tmp_path,
                                                                       monkeypatch):
    """A CVAE's grids were judged as class 0 alone, as its figures draw them: a share of
    1.000 sure of its tiles beside a VAE's 0.381, of every 0 in the grid."""
    from vaelab.measuring import classifier
    from vaelab.measuring.classifier import Classifier, Judge
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.measuring.latent import GRID, grids_of, latent_picture, untile

    run = train(RunConfig(ModelConfig("cvae", 2, (32,)), DataConfig(train_subset=128),
                          TrainConfig(epochs=1)), tmp_path / "cvae", data=tiny, progress=False)
    picture = latent_picture(run.model, tiny)
    tiles = untile(picture.manifold.picture, 28, 28)  # the figure's: as class 0
    grid, prior = grids_of(run.model, picture, 28, 28)
    assert grid.shape == (10 * len(tiles), 1, 28, 28) and len(prior) == 10 * GRID**2
    assert torch.allclose(grid[:len(tiles)], tiles)
    assert not torch.allclose(grid[len(tiles):2 * len(tiles)], tiles)  # class 1's
    judged = []
    real = classifier.confident_share
    monkeypatch.setattr(classifier, "confident_share",
                        lambda probabilities: judged.append(len(probabilities))
                        or real(probabilities))
    judge = Judge(Classifier().eval(), "mnist", 0.99, Path("untrained"))
    card = evaluate_run(run, tiny, k=2, samples=1, judge=judge, progress=False, save=False)
    assert judged == [len(grid), len(prior)]
    for key in ("grid_digits", "prior_grid_digits"):  # and, from an untrained classifier,
        assert card[key].note.startswith("decoded as each class in turn"), key  # one class?


def test_images_judged_mostly_one_class_are_said_to_say_little():
    """After one epoch a conv VAE drew the same grey blob everywhere, and the Fashion-MNIST
    classifier was sure of it: 0.84 mean confidence and 0.75 of the prior grid 'sure',
    better than a beta-VAE whose samples were recognisable garments."""
    from vaelab.measuring.classifier import one_class, sure_of

    def judged(shares: list[float], sure: float = 0.95) -> torch.Tensor:
        """Probabilities (100, K): shares[c] of the images put in class c with ``sure``."""
        picks = torch.repeat_interleave(torch.arange(len(shares)),
                                        torch.tensor([round(100 * s) for s in shares]))
        rest = (1 - sure) / (len(shares) - 1)
        p = torch.full((len(picks), len(shares)), rest)
        p[torch.arange(len(picks)), picks] = sure
        return p

    digits, even = tuple("0123456789"), torch.arange(10)  # every class as often
    blob = judged([0.02, 0.02, 0.02, 0.8, 0.02, 0.02, 0.02, 0.04, 0.02, 0.02])
    assert one_class(blob, digits, even) == (
        "80% of them judged 3: the classifier is sure of images unlike any it learnt from "
        "too (a blur, a blob), so its confidence says little of them; look at them")
    assert sure_of(blob, digits, even, "decoded as each class in turn") == (
        1.0, None, f"decoded as each class in turn; and {one_class(blob, digits, even)}")
    assert one_class(judged([0.1] * 10), digits, even) == ""  # every class drawn
    assert one_class(judged([0.54] + [0.46 / 9] * 9), digits, even) == ""  # under 0.55 of 10
    pets = ("cat", "dog")
    assert one_class(judged([0.7, 0.3]), pets, torch.tensor([0, 1])) == ""  # of two: 0.75
    assert one_class(judged([0.8, 0.2]), pets, torch.tensor([0, 1])).startswith(
        "80% of them judged cat")
    # where 4 in 5 of the real images are cats, so may the samples be: from 0.9 on, said
    assert one_class(judged([0.85, 0.15]), pets, torch.tensor([0, 0, 0, 0, 1])) == ""
    assert one_class(judged([0.95, 0.05]), pets, torch.tensor([0, 0, 0, 0, 1])) != ""
    assert sure_of(judged([0.1] * 10, sure=0.5), digits, even) == (0.0, None, "")
    # judged one class, but not with confidence: nothing said of a confidence it lacks
    assert one_class(judged([0.02] * 3 + [0.8] + [0.02] * 3 + [0.04] + [0.02] * 2, sure=0.43),
                     digits, even) == ""


def test_an_older_evaluation_of_squared_error_is_named_as_its_run_names_it(tiny, tmp_path,
                                                                           caplog):
    """vaelab once named summed squared error 'gaussian' in eval.json, before the Gaussian of
    learned σ took that name: such a file read as that one mislabelled the run, and a
    comparison with a run of today said their likelihoods differed."""
    from vaelab.measuring.comparing import Comparison
    from vaelab.measuring.evaluation import evaluate_run

    config = RunConfig(ModelConfig("vae", 2, (32,)), DataConfig(train_subset=128),
                       TrainConfig(epochs=1))
    runs = [train(config, tmp_path / name, data=tiny, progress=False) for name in ("old", "new")]
    for run in runs:
        evaluate_run(run, tiny, k=2, samples=1, judge=None, progress=False)
    path = runs[0].path / "eval.json"
    older = json.loads(path.read_text())
    del older["config"], older["likelihood"]["images"]  # as such a file was written
    older["likelihood"]["name"] = "gaussian"
    path.write_text(json.dumps(older))
    cards = [vaelab.load_scorecard(run.path) for run in runs]
    assert cards[0].likelihood["name"] == "sse"
    table = Comparison(cards).markdown()
    assert "| likelihood | squared error (sse) | squared error (sse) |" in table
    assert "likelihoods differ" not in table
    assert "images measured" not in table  # the older file does not say: no row
    assert ("/old: one of them measured by an older vaelab, which did not record which images "
            "(vaelab eval of that run measures it again)") in table  # not paired, and why
    (runs[0].path / "model.safetensors").unlink()  # no model to note its figures by: said
    with caplog.at_level("WARNING", logger="vaelab"):
        card = vaelab.load_scorecard(runs[0].path)
    assert card.likelihood["name"] == "sse"  # as saved, the name as the run gives it
    assert caplog.messages[-1].endswith("; its evaluation is given without the notes that "
                                        "vaelab adds to an older one's figures")


def test_an_older_evaluation_of_colour_images_calls_them_colour(tmp_path):
    """vaelab called every image measured as it is 'grey', colour ones too: read again beside
    one of today's, the two seemed measured on other images, and were not paired."""
    from vaelab.measuring.eval_json import named_now

    colour = RunConfig(data=DataConfig("shapes", image_shape=(3, 8, 8)))
    likelihood = {"name": "sse", "images": "grey; of the training images, all"}
    older = {"likelihood": likelihood, "config": colour.to_dict()}
    assert named_now(older, tmp_path)["likelihood"] == {
        "name": "sse", "images": "colour; of the training images, all"}
    colour.save(tmp_path / "config.json")  # an older file yet, with no config: the run's
    assert named_now({"likelihood": likelihood}, tmp_path)["likelihood"]["images"] == \
        "colour; of the training images, all"
    grey = {"likelihood": likelihood, "config": RunConfig().to_dict()}
    assert named_now(grey, tmp_path) == grey  # grey images, and a binarized draw, as they are
    binarized = {"likelihood": {"name": "bce", "images": "binarized (seed 0)"},
                 "config": colour.to_dict()}
    assert named_now(binarized, tmp_path) == binarized


def test_an_older_cvae_evaluation_is_read_with_each_note_once_and_measured_again(tiny,
                                                                                 tmp_path):
    """An eval.json of a vaelab before this one holds some caveats and not others, its grids
    judged as class 0 alone, and the title of its day: read again, no note comes twice, the
    grids say how they were judged, and compare measures them again."""
    from vaelab.measuring.caveats import AS_CLASS_0, saved_scorecard
    from vaelab.measuring.classifier import Classifier, Judge
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.pictures.comparison import compare_runs

    config = RunConfig(ModelConfig("cvae", 2, (32,), likelihood="bce"),
                       DataConfig(train_subset=128, binarize="dynamic"), TrainConfig(epochs=1))
    run = train(config, tmp_path / "cvae", data=tiny, progress=False)
    judge = Judge(Classifier().eval(), "mnist", 0.99, Path("untrained"))
    evaluate_run(run, tiny, k=2, samples=1, judge=judge, progress=False)
    path = run.path / "eval.json"
    saved = json.loads(path.read_text())
    conditional = saved["metrics"]["nll"]["note"]
    assert conditional.startswith("of p(x|y)")
    saved["metrics"]["bits_per_dim"]["note"] = conditional  # its caveats then: one of two
    for key in ("grid_digits", "prior_grid_digits"):
        saved["metrics"][key]["note"] = ""
    probe = dict(saved["metrics"]["knn"])
    saved["metrics"]["knn"]["error"] = None  # as vaelab wrote probes before their errors
    saved["title"] = "CVAE"
    path.write_text(json.dumps(saved))
    card = saved_scorecard(run)
    note = card["bits_per_dim"].note
    assert note.count("of p(x|y)") == 1 and "per black-or-white pixel" in note, note
    assert vaelab.load_scorecard(run.path) == card  # from Python, the notes of the page
    assert AS_CLASS_0 in str(vaelab.load_scorecard(str(run.path)))
    assert card.title == "CVAE (Bernoulli)" and card["grid_digits"].note == AS_CLASS_0
    assert card["knn"].error == pytest.approx(probe["error"])  # from the share and the images
    weak = {**json.loads(json.dumps(saved)),  # judged by a weak classifier: its caveat
            "classifier": {"dataset": "mnist", "test_accuracy": 0.5}}
    weak["metrics"]["grid_digits"]["note"] = "judged by a classifier that is right on only " \
                                             "50.0% of the test images: weak evidence"
    path.write_text(json.dumps(weak))  # saved with a caveat of its own: still class 0 alone
    assert saved_scorecard(run)["grid_digits"].note.startswith(AS_CLASS_0 + "; and judged by")
    path.write_text(json.dumps(saved))
    copy = shutil.copytree(run.path, tmp_path / "copy")
    compare_runs([run, copy], tmp_path / "cmp", data=tiny, progress=False, judge=judge, k=2,
                 samples=1)
    again = json.loads(path.read_text())["metrics"]  # (an untrained classifier's: one class)
    assert again["grid_digits"]["note"].split("; and ")[0] == again["prior_grid_digits"][
        "note"].split("; and ")[0] == "decoded as each class in turn"


def test_a_conditional_model_of_many_classes_has_its_grids_judged_as_ten_of_them():
    from vaelab.measuring.caveats import each_class
    from vaelab.measuring.latent import judged_classes

    assert judged_classes(3) == [0, 1, 2] and judged_classes(10) == list(range(10))
    assert judged_classes(100) == [0, 11, 22, 33, 44, 55, 66, 77, 88, 99]
    assert each_class(10) == "decoded as each class in turn"
    assert each_class(100) == "decoded as 10 of its 100 classes in turn, evenly spaced"


def test_a_caveat_worded_anew_is_read_in_todays_wording_alone(bernoulli_vae, tiny):
    """eval.json keeps the caveats it was measured with; one worded differently since then
    is read in today's wording alone, beside the figure's own notes."""
    from vaelab.measuring.caveats import saved_scorecard
    from vaelab.measuring.evaluation import evaluate_run

    evaluate_run(bernoulli_vae, tiny, k=2, samples=1, split="train", judge=None,
                 progress=False)
    path = bernoulli_vae.path / "eval-train.json"
    saved = json.loads(path.read_text())
    today = saved["caveats"]["linear_probe"]
    assert saved["metrics"]["linear_probe"]["note"] == today
    older = "fitted on training codes (an older wording)"
    saved["caveats"]["linear_probe"] = older
    saved["metrics"]["linear_probe"]["note"] = f"a note of its own; and {older}"
    path.write_text(json.dumps(saved))
    assert saved_scorecard(bernoulli_vae, "train")["linear_probe"].note == (
        f"a note of its own; and {today}")


def _card(run: str, likelihood: str = "bce", k: int | None = 20, samples: int = 10,
          split: str = "test") -> Scorecard:
    from vaelab.measuring.scorecard import Score

    metrics = {"nll": Score(90.0, 0.5) if k else Score(None, note="an AE has no bound"),
               "kl": Score(3.0, 0.1), "linear_probe": Score(0.8, 0.01)}
    return Scorecard(run, "vae", 2, 5, split, 100, k, samples, 0, {"name": likelihood},
                     None, metrics)


def test_a_comparison_of_runs_on_other_test_images_notes_every_figure_and_names_splits():
    """From Python, Comparison set runs of other splits of one folder side by side without a
    word (compare refuses them); one run measured on both splits had two columns of one name."""
    from vaelab.measuring.comparing import Comparison

    def on(card: Scorecard, fingerprint: str) -> Scorecard:
        data = DataConfig(dataset="/data/digits.npz", fingerprint=fingerprint)
        return dataclasses.replace(card, config=RunConfig(data=data).to_dict())

    a, b = on(_card("/a/split0"), "0" * 32), on(_card("/a/split1"), "1" * 32)
    rows, notes = Comparison([a, b]).noted_rows()
    said = [k for k, note in enumerate(notes, start=1) if "the runs' images differ (their "
            "dataset, size or split): figures of other test images" in note]
    assert len(said) == 1
    for label, cells in rows:
        if label.startswith(("NLL,", "KL", "linear probe")):  # the figures the cards have
            assert all(cell.endswith(f"[{said[0]}]") for cell in cells), (label, cells)
    same = Comparison([a, on(_card("/a/again"), "0" * 32)]).noted_rows()[1]
    assert not any("images differ" in note for note in same)
    both = Comparison([_card("/a/run"), _card("/a/run", split="train")])
    assert both.names == ["a/run (test)", "a/run (train)"]
    runs = [_card("/p/q/x/run"), _card("/p/r/x/run"), _card("/s/t/run"),
            _card("/s/t/run", split="train")]  # as many parents as tell them apart, then
    assert len(set(Comparison(runs).names)) == 4  # the split


def test_a_comparisons_settings_say_dash_where_a_setting_does_nothing():
    """An AE beside a β-VAE read 'trained with --beta 1.0' and a run of grey images
    '--binarize-seed 0', settings that did nothing there."""
    from vaelab.measuring.comparing import Comparison

    def trained(card: Scorecard, model: str, beta: float = 1.0, **data) -> Scorecard:
        config = RunConfig(ModelConfig(model), DataConfig(**data), TrainConfig(beta=beta))
        return dataclasses.replace(card, model=model, config=config.to_dict())

    beta = trained(_card("/a/beta"), "vae", beta=4.0, binarize="dynamic", binarize_seed=3)
    ae = trained(_card("/a/ae", k=None), "ae")
    rows = dict(Comparison([beta, ae]).noted_rows()[0])
    assert rows["trained with --beta"] == ["4.0", "—"]
    assert rows["trained with --binarize-seed"] == ["3", "—"]
    other_ae = trained(_card("/a/ae2", k=None), "ae", binarize_seed=5)  # did nothing in either
    assert "trained with --binarize-seed" not in dict(Comparison([ae, other_ae]).noted_rows()[0])


def test_a_comparison_of_bounds_of_other_ks_names_no_k_in_the_bounds_label():
    """The NLL of runs measured with k = 5 and k = 100 is not labelled 'k = 5': a k row
    says each run's."""
    from vaelab.measuring.comparing import Comparison

    rows = dict(Comparison([_card("/a/five", k=5), _card("/a/many", k=100)]).noted_rows()[0])
    assert rows["k"] == ["5", "100"]
    nll = [label for label in rows if label.startswith("NLL")]
    assert nll and not any("k =" in label for label in nll), nll
    same = dict(Comparison([_card("/a/five", k=5), _card("/a/also", k=5)]).noted_rows()[0])
    assert "k" not in same and any("k = 5" in label for label in same)


def test_a_comparison_names_each_run_apart_and_notes_bounds_of_other_likelihoods():
    from vaelab.measuring.comparing import Comparison

    both = Comparison([_card("/a/p1/runs/vae"), _card("/a/p2/runs/vae", "logistic")])
    assert both.names == ["p1/runs/vae", "p2/runs/vae"]  # not runs/vae twice
    assert both.csv().splitlines()[0].startswith("metric,p1/runs/vae value,")
    rows, notes = both.noted_rows()
    nll = next(cells for label, cells in rows if label.startswith("NLL"))
    marks = [int(cell.removeprefix("90.00 ± 0.50 [").removesuffix("]")) for cell in nll]
    assert [notes[k - 1] for k in marks] == [
        f"on the scale of the {name} likelihood; the runs' likelihoods differ (bce, logistic), "
        f"and so do the scales: compare runs of one likelihood" for name in ("bce", "logistic")]
    kl = next(cells for label, cells in rows if label.startswith("KL"))
    assert kl == ["3.00 ± 0.10", "3.00 ± 0.10"]  # a KL is in nats of the code, not of pixels
    # Two Gaussians' nats are densities of the same pixel values: only the losses differ.
    gaussians = Comparison([_card(f"/a/{name}", name) for name in ("sse", "gaussian")])
    for card in gaussians.cards:
        card.metrics["loss"] = Score(40.0)
    rows, notes = gaussians.noted_rows()
    assert next(cells for label, cells in rows if label.startswith("NLL")) == ["90.00 ± 0.50"] * 2
    assert {f"on the scale of the {name} likelihood; the runs' likelihoods differ (gaussian, "
            f"sse): their nats compare, as densities of the same pixel values, and their "
            f"training losses do not" for name in ("sse", "gaussian")} <= set(notes)
    assert not any("so do the scales" in note for note in notes)
    # Beside a third likelihood, each Gaussian's bounds still compare with the other's (the
    # note had said they did not, while the paired rows paired them)
    three = Comparison([_card(f"/a/{name}", name) for name in ("sse", "gaussian", "bce")])
    notes = three.noted_rows()[1]
    assert {f"on the scale of the {name} likelihood; the runs' likelihoods differ (bce, "
            f"gaussian, sse), and so do the scales: compare runs of one likelihood{also}"
            for name, also in (("sse", ", or sse with gaussian (densities of the same pixel "
                                       "values)"),
                               ("gaussian", ", or gaussian with sse (densities of the same "
                                            "pixel values)"),
                               ("bce", ""))} <= set(notes)
    same = Comparison([_card("/a/vae"), _card("/a/beta")])
    assert same.names == ["a/vae", "a/beta"]
    assert not any("scale" in note for note in same.noted_rows()[1])
    assert [label for label, _ in same.rows()][:4] == ["model", "epochs", "likelihood",
                                                       "evaluation seed"]
    # The bound's label names its k whichever run comes first, one without a bound or not.
    unbounded = dataclasses.replace(_card("/a/c"), metrics={"nll": Score(None, note="n/a")})
    for cards in ([unbounded, _card("/a/d")], [_card("/a/d"), unbounded]):
        assert "NLL, importance-weighted bound, k = 20 (nats)" in dict(Comparison(cards).rows())
    other = Comparison([_card("/a/vae", samples=2, split="train"), _card("/a/b", split="train")])
    head = dict(other.rows())
    assert head["ELBO draws per image"] == ["2", "10"]
    assert head["measured on"] == [f"{other.cards[0].images:,} train images"] * 2
    # An AE draws no codes: its eval's draws, whatever they were, do not show
    ae = _card("/a/ae", k=None, samples=2)
    assert dict(Comparison([ae, _card("/a/vae")]).rows())["ELBO draws per image"] == ["—", "10"]
    assert "ELBO draws per image" not in dict(Comparison([ae, _card("/a/ae2", k=None)]).rows())
    three = dict(Comparison([ae, _card("/a/vae"), _card("/a/vae2", samples=3)]).rows())
    assert three["ELBO draws per image"] == ["—", "10", "3"]


def test_a_comparison_keeps_what_sets_its_runs_apart_in_its_files_too():
    """Runs trained otherwise all read 'VAE d=2', and compare.csv left out the notes that the
    printed table had; bounds of grey and of binarized images went unremarked."""
    import csv as csv_module

    from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from vaelab.measuring.comparing import Comparison

    configs = [RunConfig(ModelConfig(), DataConfig(binarize="none"), TrainConfig()),
               RunConfig(ModelConfig(hidden_dims=(200, 200), activation="tanh"),
                         DataConfig(binarize="dynamic", train_subset=5000),
                         TrainConfig(kl="tutorial", lr=3e-4))]
    cards = [dataclasses.replace(_card(f"/a/{name}", "logistic", k=k), config=c.to_dict(),
                                 likelihood={"name": "logistic", "images": images})
             for name, k, c, images in (("grey", 20, configs[0], "as they are"),
                                        ("bin", 50, configs[1], "binarized (seed 0)"))]
    both = Comparison(cards)
    head = dict(both.rows())
    assert head["trained with --hidden-dims"] == ["512", "200 200"]
    assert head["trained with --kl"] == ["closed-form", "tutorial"]
    assert head["trained with --lr"] == ["0.001", "0.0003"]
    assert head["trained with --train-subset"] == ["—", "5000"]
    assert "trained with --seed" not in head and "trained with --epochs" not in head
    rows = {row[0]: row[1:] for row in csv_module.reader(both.csv().splitlines())}
    assert rows["trained with --kl"][::3] == ["closed-form", "tutorial"]
    nll_notes = rows["nll"][2::3]  # each run's note beside its bound, as the table has it
    for note in nll_notes:
        assert "the runs' images measured differ (as they are, binarized (seed 0))" in note
        assert "the bounds' k differ (20, 50)" in note
    assert ("the runs learnt from different training images (all, 5,000 drawn with "
            "--split-seed 0)") in rows["linear_probe"][2]
    markdown = both.markdown()
    assert "the runs' images measured differ" in markdown and "| trained with --kl |" in markdown
    # An eval.json of an older vaelab keeps no config: its settings are not known, and not
    # taken to differ
    older = Comparison([cards[0], dataclasses.replace(cards[1], config=None)])
    assert not any(label.startswith("trained with") for label, _ in older.rows())
    assert not any("training images" in note for note in older.noted_rows()[1])
    assert dict(Comparison([*cards, dataclasses.replace(cards[1], config=None)]).rows())[
        "trained with --kl"] == ["closed-form", "tutorial", "?"]


def test_a_comparison_gives_each_runs_bounds_less_the_firsts_image_by_image():
    """Two runs' errors taken apart overstate the noise of their difference on the same
    images: the difference of their per-image bounds has its own, smaller, error."""
    import csv as csv_module

    from vaelab.measuring.comparing import Comparison

    generator = torch.Generator().manual_seed(0)
    hard = torch.rand(1000, generator=generator, dtype=torch.float64) * 100  # images differ
    nll = [hard + 90, hard + 91 + 0.1 * torch.randn(1000, generator=generator,
                                                     dtype=torch.float64)]
    cards = [dataclasses.replace(_card(f"/a/{name}", k=20), images=1000,
                                 per_image={"nll": values, "neg_elbo": values + 5})
             for name, values in zip(("first", "second"), nll, strict=True)]
    both = Comparison(cards)
    elbo, (key, label, scores, first, why) = both.paired()
    assert key == "nll_minus_first" and label == "NLL less a/first's, image by image (nats)"
    assert scores[0] is None and elbo.scores[0] is None and first == 0 and why == ["", ""]
    difference = scores[1]
    assert difference.value == pytest.approx(1.0, abs=0.01)
    assert difference.error < 0.01 < hard.std().item() / 1000 ** 0.5  # far below either's
    rows = dict(both.noted_rows()[0])
    assert rows[label] == ["—", difference.text(2)]
    lines = {row[0]: row[1:] for row in csv_module.reader(both.csv().splitlines())}
    assert lines["nll_minus_first"][:3] == ["", "", ""]  # the first: nothing to say
    assert float(lines["nll_minus_first"][3]) == difference.value
    # Bounds of other images, of another k, or a run that kept none, give no difference: the
    # rows stay, their cells blank, with why
    def unpaired(*two: Scorecard) -> dict[str, str]:
        return {row.key: row.why[1] for row in Comparison(two).paired() if row.scores[1] is None}

    kept_none = dataclasses.replace(cards[1], per_image={})
    assert unpaired(cards[0], kept_none) == {
        "nll_minus_first": "not paired with a/first: its per-image bounds were not kept "
                           "(vaelab eval of the run writes them)"}  # and it has no −ELBO
    other = dataclasses.replace(cards[1], likelihood={"name": "bce", "images": "binarized"})
    grey = dataclasses.replace(cards[0], likelihood={"name": "bce", "images": "grey"})
    assert unpaired(grey, other) == dict.fromkeys(
        ("neg_elbo_minus_first", "nll_minus_first"),
        "not paired with a/first: measured with another set of images")
    assert unpaired(cards[0], other) == dict.fromkeys(  # the first's file does not say which
        ("neg_elbo_minus_first", "nll_minus_first"),
        "not paired with a/first: one of them measured by an older vaelab, which did not "
        "record which images (vaelab eval of that run measures it again)")
    tighter = dataclasses.replace(cards[1], k=100)  # the NLL's k differs, the ELBO's draws not
    assert unpaired(cards[0], tighter) == {
        "nll_minus_first": "not paired with a/first: measured with another k"}
    assert Comparison([cards[0]]).paired() == []  # a run's own page: nothing to pair
    # As many test images, of another dataset (MNIST's and Fashion-MNIST's 10,000): no pair
    mnist, fashion = (RunConfig(data=DataConfig(dataset=name)).to_dict()
                      for name in ("mnist", "fashion-mnist"))
    first = dataclasses.replace(cards[0], config=mnist)
    assert unpaired(first, dataclasses.replace(cards[1], config=mnist)) == {}
    assert set(unpaired(first, dataclasses.replace(cards[1], config=fashion))) == {
        "neg_elbo_minus_first", "nll_minus_first"}
    # An AE among them keeps no bounds: its cells are empty, the others still paired to the
    # first run that has them
    ae = dataclasses.replace(_card("/a/ae", k=None), images=1000)
    (_, label, scores, first, why), _ = Comparison([ae, *cards]).paired()
    assert label == "−ELBO less a/first's, image by image (nats)" and scores[:2] == [None, None]
    assert scores[2].value == pytest.approx(1.0, abs=0.01) and first == 1
    assert why[0] == "not paired with a/first: it has no such bound"
    # One run measured otherwise (another k; a CVAE's p(x|y)) is left out, not the others,
    # and its empty cell says why
    cvae = dataclasses.replace(cards[1], run="/a/cvae", model="cvae")
    three = Comparison([cards[0], dataclasses.replace(tighter, run="/a/tight"), cvae, cards[1]])
    nll = next(row for row in three.paired() if row.key == "nll_minus_first")
    assert nll.scores[:3] == [None, None, None]
    assert nll.scores[3].value == pytest.approx(1.0, abs=0.01)
    assert nll.why[1:3] == ["not paired with a/first: measured with another k",
                            "not paired with a/first: measured with another kind of model "
                            "(p(x|y) against p(x))"]
    rows, notes = three.noted_rows()
    cells = dict(rows)["NLL less a/first's, image by image (nats)"]
    assert cells[:3] == ["—", *(f"— [{notes.index(why) + 1}]" for why in nll.why[1:3])]
    lines = {row[0]: row[1:] for row in csv_module.reader(three.csv().splitlines())}
    assert lines["nll_minus_first"][5] == nll.why[1]  # the reason in the CSV's note, too
    lost = dataclasses.replace(cards[1], run="/a/lost",
                               per_image={"neg_elbo": cards[1].per_image["neg_elbo"]})
    assert Comparison([cards[0], lost, cards[1]]).paired()[1].why[1] == (
        "not paired with a/first: its per-image bounds were not kept (vaelab eval of the run "
        "writes them)")


def test_compare_refuses_a_run_given_twice_and_warns_of_what_differs(bernoulli_vae, tiny,
                                                                     tmp_path, caplog):
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.pictures.comparison import compare_runs

    with pytest.raises(VaelabError, match="is given twice; compare different runs"):
        compare_runs([bernoulli_vae.path, bernoulli_vae.path / "."], tmp_path / "twice")
    assert not (tmp_path / "twice").exists()
    copy = shutil.copytree(bernoulli_vae.path, tmp_path / "copy")
    evaluate_run(bernoulli_vae, tiny, k=3, samples=1, judge=None, progress=False)
    evaluate_run(load_run(copy), tiny, k=4, samples=1, judge=None, progress=False)
    with caplog.at_level("WARNING", logger="vaelab"):
        compare_runs([bernoulli_vae.path, copy], tmp_path / "cmp", data=tiny, progress=False,
                     judge=None)
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "the NLL bounds were measured with k = 3, 4: a larger k gives a tighter bound; " \
           "give k= to measure every run alike" in said, said  # from Python: k=, not -k
    assert not [line for line in said if "seed" in line or "samples" in line], said
    evaluate_run(load_run(copy), tiny, k=3, samples=2, seed=1, judge=None, progress=False)
    caplog.clear()
    with caplog.at_level("WARNING", logger="vaelab"):
        compare_runs([bernoulli_vae.path, copy], tmp_path / "cmp2", data=tiny, progress=False,
                     judge=None)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        "the ELBOs were measured with 1, 2 posterior draws per image; give samples= to measure "
        "every run alike",
        "the runs were measured with seed 0, 1, so their draws differ; give seed= to measure "
        "every run alike"]


def test_a_comparison_interrupted_at_its_figure_leaves_no_folder_to_refuse_it_again(
        bernoulli_vae, tiny, tmp_path, monkeypatch):
    import vaelab.pictures.comparison as comparing

    copy = shutil.copytree(bernoulli_vae.path, tmp_path / "copy")
    drawn = comparing.comparison_figure

    def interrupted(*args, **kwargs):
        drawn(*args, **kwargs)
        raise KeyboardInterrupt  # Ctrl-C while the figure is drawn: the last, longest part

    monkeypatch.setattr(comparing, "comparison_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        comparing.compare_runs([bernoulli_vae.path, copy], tmp_path / "cmp", data=tiny,
                               progress=False, judge=None)
    assert not (tmp_path / "cmp").exists()
    monkeypatch.setattr(comparing, "comparison_figure", drawn)
    _, folder = comparing.compare_runs([bernoulli_vae.path, copy], tmp_path / "cmp", data=tiny,
                                       progress=False, judge=None)
    assert sorted(p.name for p in folder.iterdir()) == ["compare.csv", "compare.md", "compare.png"]
    # for print and slides, the figure as a PDF or SVG (compare had PNG alone)
    _, folder = comparing.compare_runs([bernoulli_vae.path, copy], tmp_path / "svg", data=tiny,
                                       progress=False, judge=None, fmt="svg")
    assert sorted(p.name for p in folder.iterdir()) == ["compare.csv", "compare.md", "compare.svg"]
    assert (folder / "compare.svg").read_text().startswith("<?xml")
    with pytest.raises(VaelabError, match=r"^unknown figure format 'jpg'; choose one of: png, "
                                          r"pdf, svg$"):
        comparing.compare_runs([bernoulli_vae.path, copy], tmp_path / "jpg", data=tiny,
                               progress=False, judge=None, fmt="jpg")
    assert not (tmp_path / "jpg").exists()


def test_what_goes_by_position_where_the_images_go_is_one_line(bernoulli_vae, tiny, tmp_path):
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.measuring.scorecard import load_scorecard
    from vaelab.pictures.comparison import compare_runs
    from vaelab.pictures.figures import plot_run, write_run_figures

    for call in (lambda: plot_run(bernoulli_vae, str(tmp_path / "figs")),
                 lambda: evaluate_run(bernoulli_vae, 1000),
                 lambda: write_run_figures(bernoulli_vae.path, tmp_path / "figs")):
        with pytest.raises(VaelabError, match=r"^data= takes images .*, not .*; give the other "
                                              r"settings by name"):
            call()
    assert not (tmp_path / "figs").exists()
    # an array given as data: its type and shape in one line, not its repr's 55
    import numpy as np

    with pytest.raises(VaelabError) as info:
        plot_run(bernoulli_vae, np.zeros((10, 1, 28, 28), np.uint8), out_dir=tmp_path / "figs")
    assert str(info.value) == (
        "data= takes images (an ImageData, as vaelab.load_dataset gives), not ndarray of shape "
        "(10, 1, 28, 28); make one of arrays with vaelab.ImageData(name, classes, "
        "train_images, train_labels, test_images, test_labels)")
    with pytest.raises(VaelabError, match=r"^compare_runs takes a list of two runs or more"):
        compare_runs(str(bernoulli_vae.path))
    with pytest.raises(VaelabError, match=r"^unknown split 'val'; choose train or test"):
        load_scorecard(bernoulli_vae.path, split="val")
    copy = load_run(shutil.copytree(bernoulli_vae.path, tmp_path / "copy"))
    evaluate_run(copy, tiny, k=2, samples=1, judge=None, progress=False)
    assert load_scorecard(copy).k == 2  # a Run, as well as its folder


def test_compare_says_in_a_line_each_where_nats_are_of_other_likelihoods_images_or_p_x_y(
        caplog):
    """Runs of squared error and Bernoulli pixels, grey and binarized images, a CVAE beside
    VAEs: the table's notes said it on every cell, and no line said it once."""
    from types import SimpleNamespace

    from vaelab.measuring.caveats import say_what_differs

    def run(model="vae", likelihood="sse", binarize="none", seed=0):
        return SimpleNamespace(config=RunConfig(ModelConfig(model, likelihood=likelihood),
                                                DataConfig(binarize=binarize, binarize_seed=seed)),
                               model=SimpleNamespace(conditional=model == "cvae",
                                                     has_prior=model != "ae"))

    with caplog.at_level("WARNING", logger="vaelab"):
        say_what_differs([run(), run(likelihood="sse"), run("ae")], [], 512, ["a", "b", "c"])
        say_what_differs([run("ae"), run("cvae")], [], 512, ["a", "b"])  # no bound of an AE's
        assert not caplog.records  # an AE beside a VAE (the demo's): nothing to say
        say_what_differs([run(), run("cvae"), run(likelihood="bce", binarize="dynamic")], [],
                         512, ["runs/vae", "runs/cvae", "bern"])
    assert [r.getMessage() for r in caplog.records] == [
        "the runs model their pixels with different likelihoods (sse: runs/vae, runs/cvae; "
        "bce: bern): their nats are of different models of the images and compare only as "
        "the table's notes say",
        "the runs are measured on different images (grey: runs/vae, runs/cvae; binarized "
        "(seed 0): bern): their bounds do not compare",
        "the conditional runs' bounds are of p(x|y), the others' of p(x) (p(x): runs/vae, "
        "bern; p(x|y): runs/cvae): they do not compare"]
    caplog.clear()  # binarized with other seeds: other images
    with caplog.at_level("WARNING", logger="vaelab"):
        say_what_differs([run(likelihood="bce", binarize="dynamic", seed=s) for s in (0, 1)], [],
                         512, ["a", "b"])
    assert [r.getMessage() for r in caplog.records] == [
        "the runs are measured on different images (binarized (seed 0): a; binarized (seed 1): "
        "b): their bounds do not compare"]


def test_compare_warns_of_training_subsets_that_differ_and_counts_all_as_all(caplog):
    from types import SimpleNamespace

    from vaelab.measuring.caveats import images_measured, say_what_differs

    def run(subset, split_seed=0):
        return SimpleNamespace(config=RunConfig(data=DataConfig(train_subset=subset,
                                                                split_seed=split_seed)),
                               model=SimpleNamespace(conditional=False, has_prior=True))

    from vaelab.errors import spoken_on_the_command_line

    with caplog.at_level("WARNING", logger="vaelab"):
        say_what_differs([run(None), run(512)], [], 512, "ab")  # all of them, either way
        assert not caplog.records
        say_what_differs([run(None), run(100)], [], 512, "ab")  # from Python: as it spells them
        before = spoken_on_the_command_line(True)
        try:  # from the command line: its flags
            # As many, but other ones; on the training split their bounds are of other images
            say_what_differs([run(100), run(100, split_seed=1)], [SimpleNamespace(
                split="train", k=None, seed=0)] * 2, 512, "ab")
        finally:
            spoken_on_the_command_line(before)
    assert [r.getMessage() for r in caplog.records] == [
        "the runs learnt from different training images (train_subset: all; 100 drawn with "
        "split_seed 0), and the probes are fitted on those: their accuracies compare less",
        "the runs learnt from different training images (--train-subset: 100 drawn with "
        "--split-seed 0; 100 drawn with --split-seed 1), and the probes are fitted on those: "
        "their accuracies compare less, and so do their bounds on the training split"]
    # eval-train.json names them, and compare's table then has a row for the images measured.
    assert images_measured(run(100, 1).config, "train", 512) == \
        "grey; of the training images, 100 drawn with --split-seed 1"
    assert images_measured(run(100, 1).config, "test", 512) == "grey"
    assert images_measured(run(512).config, "train", 512) == "grey"
    colour = RunConfig(data=DataConfig("shapes", image_shape=(3, 8, 8)))  # not called grey
    assert images_measured(colour) == "colour"
    assert images_measured(RunConfig(data=DataConfig("shapes", image_shape=(3, 8, 8),
                                                     binarize="dynamic"))) == "binarized (seed 0)"


def test_a_k_or_samples_beyond_a_hundred_thousand_is_refused_before_any_work():
    from vaelab.measuring.evaluation import check_measuring

    check_measuring(k=100_000, samples=100_000, chunk=10**9)
    for name in ("k", "samples"):
        with pytest.raises(VaelabError, match=f"{name} must be a whole number from 1 to "
                                              f"100,000, got 2000000000"):
            check_measuring(**{name: 2_000_000_000})


def test_a_test_set_of_one_image_has_no_spread_and_no_frechet_distance(tiny, tmp_path,
                                                                       monkeypatch):
    """One test image has no covariance: the samples' Fréchet distance and the active units
    are n/a, saying why, and the rest is measured (it was a LinAlgError)."""
    from vaelab.measuring.caveats import SPREAD
    from vaelab.measuring.classifier import train_judge
    from vaelab.measuring.evaluation import evaluate_run

    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: tmp_path / "cache")
    one = dataclasses.replace(tiny, test_images=tiny.test_images[:1],
                              test_labels=tiny.test_labels[:1])
    run = train(RunConfig(ModelConfig("vae", 2, (32,)), train=TrainConfig(epochs=1)),
                tmp_path / "vae", data=one, progress=False)
    judge = train_judge(tiny, epochs=1, progress=False)
    card = evaluate_run(run, one, k=2, judge=judge, progress=False, save=False)
    for key in ("sample_frechet", "active_units"):
        assert card[key].value is None and SPREAD in card[key].note, card[key]
    assert math.isfinite(card["nll"].value) and card["sample_confidence"].value is not None


def test_compare_says_why_it_measures_a_saved_evaluation_again(bernoulli_vae, tiny, tmp_path,
                                                               caplog):
    """compare replaced an eval.json (an older vaelab's, say) with only 'evaluating RUN'."""
    from vaelab.measuring.classifier import Classifier, Judge
    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.pictures.comparison import compare_runs

    runs = [load_run(shutil.copytree(bernoulli_vae.path, tmp_path / name)) for name in "ab"]
    for run in runs:
        evaluate_run(run, tiny, k=2, samples=1, judge=None, progress=False)
    judge = Judge(Classifier().eval(), "mnist", 0.99, Path("untrained"))
    with caplog.at_level("INFO", logger="vaelab"):
        compare_runs(runs, tmp_path / "cmp", data=tiny, progress=False, judge=judge, k=2,
                     samples=1)
    assert [r.getMessage() for r in caplog.records if "evaluating" in r.getMessage()] == [
        f"evaluating {run.path} again (its samples were judged by no classifier)"
        for run in runs]
    # Asked for no classifier, it measures with none (it took the cached one, and the next
    # comparison of the same runs measured them again); a run trained on since, again
    runs[1] = resume(runs[1].path, epochs=3, data=tiny, progress=False)
    for said in ([f"evaluating {runs[0].path} again (its samples were judged by a classifier, "
                  f"and this comparison judges none)",
                  f"evaluating {runs[1].path} again (its figures are of epoch 2, and the run "
                  f"has trained 3)"], []):
        caplog.clear()
        with caplog.at_level("INFO", logger="vaelab"):
            compare_runs(runs, tmp_path / f"cmp{len(said)}", data=tiny, progress=False,
                         judge=None, k=2, samples=1)
        assert [r.getMessage() for r in caplog.records if "evaluating" in r.getMessage()] == said
        assert all(vaelab.load_scorecard(run.path).classifier is None for run in runs)


def test_compare_keeps_an_eval_json_it_cannot_read_and_writes_none_where_it_may_not(
        bernoulli_vae, tiny, tmp_path, monkeypatch, caplog):
    """A damaged eval.json (or a newer vaelab's) is said, left as it is, and the run measured
    for the comparison alone; so is a run in a folder that cannot be written, or a Run whose
    folder was removed, which compare finds out before measuring. The run's page is drawn
    without the damaged measures."""
    from vaelab.pictures import comparison
    from vaelab.pictures.report import write_run_page

    damaged = shutil.copytree(bernoulli_vae.path, tmp_path / "damaged")
    (damaged / "eval.json").write_text('{"nll": "x"')
    unwritable = shutil.copytree(bernoulli_vae.path, tmp_path / "unwritable")
    (unwritable / "eval.json").unlink(missing_ok=True)
    monkeypatch.setattr(comparison, "writable",  # as root, no folder is read-only
                        lambda folder: Path(folder) != unwritable)
    gone = load_run(shutil.copytree(bernoulli_vae.path, tmp_path / "gone"))  # then removed
    shutil.rmtree(gone.path)
    with caplog.at_level("INFO", logger="vaelab"):
        comparison.compare_runs([damaged, unwritable, gone], tmp_path / "cmp", data=tiny,
                                progress=False, judge=None, k=2, samples=1)
    assert (damaged / "eval.json").read_text() == '{"nll": "x"'
    assert not (unwritable / "eval.json").exists() and not gone.path.exists()
    assert f"evaluating {gone.path} for this comparison alone (its folder is no longer there)" \
        in caplog.text and "no such folder" not in caplog.text  # nothing there to keep
    said = caplog.text
    assert (f"{damaged / 'eval.json'}: not valid JSON (Expecting ',' delimiter: line 1, column "
            f"12); it is kept as it is, and the run measured for this comparison alone") in said
    assert (f"evaluating {damaged} for this comparison alone (its eval.json, which cannot be "
            f"read, is kept)") in said
    assert f"evaluating {unwritable} for this comparison alone (its folder cannot be written)" \
        in said
    assert "| NLL" in (tmp_path / "cmp" / "compare.md").read_text()
    caplog.clear()
    write_run_page(load_run(damaged))  # vaelab plot's page: the run without its measures
    assert caplog.text.rstrip().endswith(f"eval.json: not valid JSON (Expecting ',' delimiter: "
                                         f"line 1, column 12); vaelab eval {damaged} measures "
                                         f"the run again; until then it is shown without its "
                                         f"measures")
    assert (damaged / "index.html").exists()


def test_eval_json_says_whether_a_likelihood_is_a_probability_or_a_density():
    """A squared error is an exact density, but no probability of pixel values: a script that
    reads eval.json tells the two apart by 'discrete', not by 'exact'."""
    from vaelab.measuring.caveats import likelihood_record

    density = likelihood_record(SquaredError((1, 28, 28)), "sse", binarized=False)
    assert density["exact"] is True and density["discrete"] is False
    assert "a density at the pixel values" in density["description"]
    coin = likelihood_record(Bernoulli((1, 28, 28)), "bce", binarized=True)
    assert coin["exact"] is True and coin["discrete"] is True


def test_a_comparison_and_compare_runs_refuse_what_they_cannot_use_in_one_line(tmp_path):
    """A None from load_scorecard, an empty list or a misspelled option failed later, deep
    inside (an AttributeError at print, a TypeError at measuring), or was ignored."""
    from vaelab.measuring.comparing import Comparison
    from vaelab.pictures.comparison import compare_runs

    card = _card("runs/a")
    assert Comparison(card).cards == [card] and Comparison(iter([card])).cards == [card]
    for cards in ([card, None], [], [1]):
        with pytest.raises(VaelabError, match=r"^Comparison takes one Scorecard or more "):
            Comparison(cards)
    with pytest.raises(VaelabError, match=r"^compare_runs takes no option 'kk' \(did you mean "
                                          r"k\?\); it measures with chunk, judge, k, samples, "
                                          r"seed, split$"):
        compare_runs([tmp_path / "a", tmp_path / "b"], kk=5)  # before any run is read
    import inspect

    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.pictures.comparison import EVAL_OPTIONS

    own = {"run", "data", "save", "progress", "data_dir"}  # compare_runs' own, or not its
    assert set(inspect.signature(evaluate_run).parameters) - own == EVAL_OPTIONS  # in step


def test_an_evaluation_that_replaces_one_of_a_larger_k_says_so_first(bernoulli_vae, tiny,
                                                                     tmp_path, caplog):
    """`vaelab eval RUN -k 2` replaced an eval.json of k = 5000, hours of measuring, without a
    word."""
    import shutil

    from vaelab.measuring.evaluation import evaluate_run
    from vaelab.training.runs import load_run

    run = load_run(shutil.copytree(bernoulli_vae.path, tmp_path / "run"))
    evaluate_run(run, tiny, k=8, samples=2, progress=False, judge=None)
    with caplog.at_level("WARNING", logger="vaelab"):
        evaluate_run(run, tiny, k=4, samples=2, progress=False, judge=None)
        evaluate_run(run, tiny, k=8, samples=2, progress=False, judge=None)  # not looser
    said = [r.getMessage() for r in caplog.records if "looser bound" in r.getMessage()]
    assert said == [f"{run.path}: replaces its eval.json of k = 8 with a looser bound, of k = "
                    f"4, once measured (Ctrl-C keeps it)"]
    caplog.clear()  # other images than the run's: refused, and nothing said of replacing
    other = dataclasses.replace(tiny, test_images=tiny.test_images.flip(0))
    with caplog.at_level("WARNING", logger="vaelab"), pytest.raises(VaelabError):
        evaluate_run(run, other, k=2, samples=2, progress=False, judge=None)
    assert not caplog.records


def test_a_cvaes_samples_are_scored_against_the_class_each_was_asked_for(tiny, monkeypatch):
    """sample_asked is the share of samples the classifier puts in the class asked of them:
    1 for a judge that always finds the asked class, 0 for one always a class off."""
    from vaelab.measuring import evaluation
    from vaelab.measuring.classifier import Classifier, Judge
    from vaelab.models import build_model

    cvae = build_model(ModelConfig(model="cvae", latent_dims=2, hidden_dims=(16,)),
                       (1, 28, 28), classes=10).eval()
    asked, real_sample = [], cvae.sample

    def sample(n, generator=None, y=None):
        asked.append(y)
        return real_sample(n, generator=generator, y=y)

    monkeypatch.setattr(cvae, "sample", sample)
    judge = Judge(Classifier(), "mnist", 0.99, Path("judge.safetensors"))
    for offset, share in ((0, 1.0), (1, 0.0)):
        def judged(model, images, batch_size=None, offset=offset):
            y = asked[-1]  # the batch just drawn
            one_hot = torch.nn.functional.one_hot((y + offset) % 10, 10).double()
            return one_hot, torch.zeros(len(images), Classifier.FEATURES)

        monkeypatch.setattr(evaluation, "predict_with_features", judged)
        asked.clear()
        scores = evaluation._pictures(cvae, tiny, tiny, judge, seed=0)
        assert sum(len(y) for y in asked) == len(tiny.test_images)
        assert scores["sample_asked"].value == share


def test_a_scorecard_and_a_comparison_say_in_a_line_what_they_hold():
    """Their repr, which a Python prompt shows, was the whole dataclass: 2,700 characters of
    dicts for one run; the table is what print() and a notebook show."""
    from vaelab.measuring.comparing import Comparison

    card = _card("/a/vae")
    assert repr(card) == (f"Scorecard('/a/vae', VAE d=2, epochs=5, 100 test images, 3 of "
                          f"{len(card)} measures)")
    assert repr(Comparison([card, _card("/a/beta")])) == "Comparison(a/vae, a/beta)"


@pytest.mark.parametrize(("order", "expected"), [
    ((1, 0, 0, 1), 0),  # two votes each, ranks 0 + 3 against 1 + 2: equal, the lower class
    ((1, 0, 1, 0), 1),  # 0 + 2 against 1 + 3: the nearer
    ((0, 1, 1, 0), 0),  # equal sums again, whichever class comes first
    ((1, 1, 0, 0), 1),
    ((0, 1, 1, 2), 1)])  # two votes beat one, however near
def test_a_tied_nearest_neighbour_vote_goes_to_the_nearer_class_then_the_lower(order, expected):
    """The rule that breaks a tie of the count, which a paper comparing k-NN accuracies
    should state: the nearer class by the sum of its voters' ranks, then the lower class
    number, in whole numbers (float weights 1, 0.999, ... could round equal sums apart)."""
    train = torch.tensor([[1.0], [2.0], [3.0], [4.0]])  # the test code's neighbours, in order
    predicted = [c for c in range(3) if knn_accuracy(train, torch.tensor(order), torch.zeros(1, 1),
                                                     torch.tensor([c]), k=4) == 1.0]
    assert predicted == [expected]
