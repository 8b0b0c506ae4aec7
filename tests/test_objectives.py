import math

import pytest
import torch

from vaelab.config import ModelConfig, TrainConfig
from vaelab.distributions import (
    LIKELIHOODS,
    Bernoulli,
    DiagonalGaussian,
    DiscretizedLogistic,
    LearnedGaussian,
    SquaredError,
)
from vaelab.models import build_model
from vaelab.objectives import (
    bce,
    corrupt,
    draw_batch,
    loss_terms,
    objective_per_image,
    sse,
    tutorial_kl,
)
from vaelab.training.schedules import iwae_stage, kl_weight, learning_rate

SHAPE = (1, 28, 28)


def _batch(seed: int = 0, b: int = 5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, *SHAPE, generator=g) * 3, torch.rand(b, *SHAPE, generator=g)


def test_sse_sums_over_pixels_per_image():
    logits, x = _batch()
    expected = torch.stack([((torch.sigmoid(logit) - image) ** 2).sum()
                            for logit, image in zip(logits, x, strict=True)])
    torch.testing.assert_close(sse(logits, x), expected)


def test_bce_is_the_bernoulli_nll_summed_over_pixels():
    logits, x = _batch()
    p = torch.sigmoid(logits.double())
    expected = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).flatten(1).sum(1)
    torch.testing.assert_close(bce(logits, x), expected.float())


def test_bce_is_stable_for_saturated_logits():
    logits = torch.full((2, *SHAPE), 200.0)
    x = torch.zeros(2, *SHAPE)
    out = bce(logits, x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.full((2,), 200.0 * 784))


def test_terms_per_image_and_their_sum():
    _, x = _batch(b=7)
    for name in ("ae", "vae"):
        model = build_model(ModelConfig(model=name), SHAPE)
        terms = loss_terms(model, x, TrainConfig(), torch.Generator().manual_seed(0))
        assert terms.recon.shape == (7,)
        if name == "ae":
            assert terms.kl is None
            assert torch.equal(terms.loss, terms.recon)
        else:
            assert terms.kl.shape == (7,)
            torch.testing.assert_close(terms.loss, terms.recon + terms.kl)


def test_vae_terms_follow_the_generator_and_ae_terms_are_deterministic():
    _, x = _batch()
    vae = build_model(ModelConfig(model="vae"), SHAPE)
    ae = build_model(ModelConfig(model="ae"), SHAPE)

    def loss(model, seed):
        return loss_terms(model, x, TrainConfig(), torch.Generator().manual_seed(seed)).loss

    assert torch.equal(loss(vae, 0), loss(vae, 0))
    assert not torch.equal(loss(vae, 0), loss(vae, 1))
    assert torch.equal(loss(ae, 0), loss(ae, 1))


def test_the_tutorial_kl_is_minimised_but_the_reported_loss_is_the_true_elbo():
    _, x = _batch()
    vae = build_model(ModelConfig(model="vae"), SHAPE)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    right = loss_terms(vae, x, TrainConfig(kl="closed-form"), g())
    wrong = loss_terms(vae, x, TrainConfig(kl="tutorial"), g())
    # What is reported is the same: the reconstruction, the closed-form KL, the -ELBO.
    assert torch.equal(right.recon, wrong.recon)
    assert torch.equal(right.kl, wrong.kl)
    assert torch.equal(right.summed()[1], wrong.summed()[1])
    # What is minimised is the tutorial's line, with beta's weight on it.
    code = vae.encode(x)
    for weight in (1.0, 0.25):
        minimised, _ = wrong.summed(weight)
        torch.testing.assert_close(
            minimised, (wrong.recon + weight * tutorial_kl(code)).sum())
        torch.testing.assert_close(minimised, wrong.objective(weight).sum())
        assert not torch.allclose(minimised, right.summed(weight)[0])


# ---------------------------------------------------------------------------------------------
# The likelihoods.


def test_the_discretised_logistic_sums_to_one_over_the_256_pixel_values():
    likelihood = DiscretizedLogistic((1, 1, 1))
    with torch.no_grad():
        likelihood.log_scale.fill_(-3.0)
    values = torch.arange(256, dtype=torch.float32).view(256, 1, 1, 1) / 255  # every level
    for location in (-0.3, 0.0, 0.37, 0.5, 1.0, 1.4):
        params = torch.full((256, 1, 1, 1), location)
        total = likelihood.log_prob(params, values).exp().sum()
        torch.testing.assert_close(total, torch.tensor(1.0), atol=1e-5, rtol=0)


def test_the_discretised_logistic_is_the_logistic_cdf_over_a_bin():
    likelihood = DiscretizedLogistic((1, 1, 1))
    scale = torch.exp(likelihood.log_scale).item()
    logistic = lambda t: 1 / (1 + math.exp(-(t - 0.4) / scale))  # noqa: E731
    x = torch.tensor(100 / 255).view(1, 1, 1, 1)
    expected = math.log(logistic(x.item() + 0.5 / 255) - logistic(x.item() - 0.5 / 255))
    got = likelihood.log_prob(torch.full((1, 1, 1, 1), 0.4), x).item()
    assert got == pytest.approx(expected, rel=1e-4)


def test_the_learned_gaussian_is_a_normal_density_with_its_own_std():
    likelihood = LearnedGaussian((1, 2, 2))
    with torch.no_grad():
        likelihood.raw_std.copy_(torch.tensor([[[-1.0, 0.0], [0.5, 2.0]]]))
    location, x = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    expected = torch.distributions.Normal(location, likelihood.std).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(likelihood.log_prob(location, x), expected)
    assert likelihood.std.min() > LearnedGaussian.MIN_STD


@pytest.mark.parametrize("name", sorted(LIKELIHOODS))
def test_the_training_term_is_the_nll_up_to_a_constant(name):
    likelihood = LIKELIHOODS[name]((1, 4, 4))
    x = torch.rand(6, 1, 4, 4)
    if name == "logistic":
        x = (x * 255).round() / 255  # on the 8-bit grid
    params = torch.randn(6, 1, 4, 4)
    difference = likelihood.recon(params, x) + likelihood.log_prob(params, x)
    torch.testing.assert_close(difference, difference[:1].expand(6))  # the same for every image


def test_exactness_depends_on_the_images():
    assert Bernoulli((1, 2, 2)).exactness(binarized=True) is None
    assert "binarize" in Bernoulli((1, 2, 2)).exactness(binarized=False)
    for likelihood in (SquaredError, LearnedGaussian, DiscretizedLogistic):
        assert likelihood((1, 2, 2)).exactness(binarized=False) is None
    assert DiscretizedLogistic((1, 2, 2)).discrete and not SquaredError((1, 2, 2)).discrete


# ---------------------------------------------------------------------------------------------
# The IWAE objective, beta and warm-up, noise.


def test_the_iwae_objective_with_one_sample_is_the_elbo_in_expectation():
    _, x = _batch(b=4)
    vae = build_model(ModelConfig(model="vae", latent_dims=3), SHAPE)
    with torch.no_grad():
        elbo = torch.stack([loss_terms(vae, x, TrainConfig(), torch.Generator().manual_seed(s))
                            .loss for s in range(400)]).mean(0)
        iwae = torch.stack([loss_terms(vae, x, TrainConfig(objective="iwae", k=1),
                                       torch.Generator().manual_seed(s)).loss
                            for s in range(400)]).mean(0)
        iwae_50 = torch.stack([loss_terms(vae, x, TrainConfig(objective="iwae", k=50),
                                          torch.Generator().manual_seed(s)).loss
                               for s in range(20)]).mean(0)
    torch.testing.assert_close(iwae, elbo, rtol=0, atol=0.5)  # both the -ELBO, within noise
    assert (iwae_50 < iwae).all()  # a tighter bound: a smaller loss for every image


def test_the_iwae_bound_of_k_copies_of_one_draw_is_that_draws_elbo():
    """log (1/k) sum of k equal weights is the log of one: the bound of k copies of a draw is
    that draw's (it would be log k too high without the 1/k), which is the one-draw ELBO with
    its KL estimated from the draw, log q(z|x) - log p(z)."""
    _, x = _batch(b=4)
    vae = build_model(ModelConfig(model="vae", latent_dims=3), SHAPE)
    eps = torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(2))  # (1, B, d)
    with torch.no_grad():
        code = vae.encode(x)
        z = code.mean + code.std * eps[0]
        recon = vae.likelihood.recon(vae.decode_params(z), x)
        log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        one_draw = recon + code.log_prob(z) - log_prior  # -(log p(x|z) + log p(z) - log q)
        for k in (1, 5, 50):
            iwae = loss_terms(vae, x, TrainConfig(objective="iwae", k=k),
                              eps=eps.expand(k, 4, 3)).loss
            torch.testing.assert_close(iwae, one_draw, rtol=1e-5, atol=1e-3)


def test_the_iwae_bound_keeps_its_digits_where_the_posterior_is_narrow(monkeypatch):
    """log q(z|x), computed from z - mean, lost its digits where the posterior's spread is far
    below its mean: 0.98 nats a dimension at a mean of 3 and the log-variance's floor. It
    comes from the draws' eps, as the evaluation's does."""
    _, x = _batch(b=4)
    vae = build_model(ModelConfig(model="vae", latent_dims=3), SHAPE)
    narrow = DiagonalGaussian(torch.full((4, 3), 3.0), torch.full((4, 3), -30.0))
    monkeypatch.setattr(vae, "encode", lambda inputs, y=None: narrow)
    eps = torch.randn(1, 4, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        z = narrow.mean + narrow.std * eps[0]
        recon = vae.likelihood.recon(vae.decode_params(z), x).double()
        log_prior = -0.5 * (z.double().square() + math.log(2 * math.pi)).sum(-1)
        log_q = -0.5 * (eps[0].double().square() - 30.0 + math.log(2 * math.pi)).sum(-1)
        iwae = loss_terms(vae, x, TrainConfig(objective="iwae", k=1), eps=eps).loss
    torch.testing.assert_close(iwae.double(), recon - log_prior + log_q, rtol=0, atol=1e-3)


def test_the_iwae_objective_decodes_the_k_samples_in_one_call(monkeypatch):
    vae = build_model(ModelConfig(model="vae"), SHAPE)
    calls = []
    original = vae.decode_params
    monkeypatch.setattr(vae, "decode_params", lambda z, y=None: calls.append(z.shape)
                        or original(z, y))
    terms = loss_terms(vae, torch.rand(3, *SHAPE), TrainConfig(objective="iwae", k=7),
                       torch.Generator().manual_seed(0))
    assert calls == [(21, 2)]
    assert terms.loss.shape == terms.recon.shape == terms.kl.shape == (3,)


@pytest.mark.parametrize("model", ["vae", "cvae"])
def test_the_elbo_with_k_draws_is_the_mean_of_the_k_one_draw_estimates_in_one_decoder_call(
        model, monkeypatch):
    _, x = _batch(b=4)
    y = torch.tensor([0, 1, 2, 3]) if model == "cvae" else None  # a label for each image
    vae = build_model(ModelConfig(model=model, latent_dims=3), SHAPE, classes=4)
    eps = torch.randn(3, 4, 3, generator=torch.Generator().manual_seed(1))  # (k, B, d)
    with torch.no_grad():
        ones = [loss_terms(vae, x, TrainConfig(), y=y, eps=e) for e in eps]
        calls = []
        original = vae.decode_params
        monkeypatch.setattr(vae, "decode_params", lambda z, y=None: calls.append(z.shape)
                            or original(z, y))
        three = loss_terms(vae, x, TrainConfig(k=3), y=y, eps=eps)
    assert calls == [(12, 3)]
    torch.testing.assert_close(three.recon, torch.stack([t.recon for t in ones]).mean(0))
    torch.testing.assert_close(three.loss, torch.stack([t.loss for t in ones]).mean(0))
    torch.testing.assert_close(three.kl, ones[0].kl)  # closed form: the same for every draw
    assert three.bound is None


def test_a_training_step_draws_k_codes_per_image_for_either_objective():
    vae = build_model(ModelConfig(model="vae", latent_dims=3), SHAPE)
    x = torch.rand(4, *SHAPE)
    for train, shape in ((TrainConfig(), (4, 3)), (TrainConfig(k=3), (3, 4, 3)),
                         (TrainConfig(objective="iwae"), (5, 4, 3))):
        _, _, eps = draw_batch(vae, x, train, torch.Generator().manual_seed(0))
        assert eps.shape == shape
        _, _, rows = draw_batch(vae, x, train, torch.Generator().manual_seed(0), slice(2, 4))
        assert torch.equal(rows, eps[..., 2:4, :])  # one process's rows of everyone's draws


def test_beta_weighs_the_kl_in_the_objective_only():
    _, x = _batch()
    vae = build_model(ModelConfig(model="vae"), SHAPE)
    terms = loss_terms(vae, x, TrainConfig(beta=4), torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms.loss, terms.recon + terms.kl)  # the reported -ELBO
    torch.testing.assert_close(terms.objective(4.0), terms.recon + 4 * terms.kl)


def test_the_kl_weight_rises_over_the_warm_up_and_the_learning_rate_follows_its_schedule():
    warm = TrainConfig(beta=2, kl_warmup=4)
    assert [kl_weight(warm, e, 0.0) for e in (1, 2, 3, 5, 9)] == [0.0, 0.5, 1.0, 2.0, 2.0]
    assert kl_weight(warm, 1, 0.5) == 0.25
    assert kl_weight(TrainConfig(beta=3), 1, 0.0) == 3.0
    cosine = TrainConfig(lr=1.0, epochs=4, lr_schedule="cosine")
    assert learning_rate(cosine, 1, 0.0) == 1.0
    assert learning_rate(cosine, 3, 0.0) == pytest.approx(0.5)
    assert learning_rate(cosine, 4, 1.0) == pytest.approx(0.0)
    # The IWAE paper: stages of 3^i epochs, the rate lowered by 10^(-1/7) after each.
    assert [iwae_stage(e) for e in (1, 2, 4, 5, 13, 14, 40, 41, 3280, 5000)] == [
        0, 1, 1, 2, 2, 3, 3, 4, 7, 7]
    iwae = TrainConfig(lr=1e-3, lr_schedule="iwae")
    assert learning_rate(iwae, 5, 0.5) == pytest.approx(1e-3 * 10 ** (-2 / 7))
    # Stage i lasts 3^i epochs: epoch 1, then 2-4, 5-13, 14-40; each drops the rate 10^(1/7)
    for epoch, stage in ((1, 0), (2, 1), (4, 1), (5, 2), (13, 2), (14, 3), (40, 3), (41, 4)):
        assert learning_rate(iwae, epoch) == pytest.approx(1e-3 * 10 ** (-stage / 7)), epoch


def test_noise_corrupts_the_inputs_as_asked():
    x = torch.rand(64, 1, 28, 28)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert corrupt(x, "none", g()) is x
    for share in (0.25, 0.5, 0.9):  # the share masked, not the share kept
        masked = corrupt(x, f"mask:{share}", g())
        assert ((masked == 0) | (masked == x)).all()
        assert (masked == 0).float().mean().item() == pytest.approx(share, abs=0.01)
    noisy = corrupt(x, "gaussian:0.3", g())
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert (noisy - x).std().item() == pytest.approx(0.27, abs=0.03)  # 0.3, less the clipping
    assert torch.equal(corrupt(x, "gaussian:0.3", g()), noisy)  # the generator decides
    colour = torch.rand(64, 3, 28, 28) * 0.9 + 0.1  # no channel 0 before the mask
    masked = corrupt(colour, "mask:0.5", g())  # a pixel is blanked in all its channels or none
    blank = masked == 0
    assert torch.equal(blank.all(1), blank.any(1))
    assert blank.all(1).float().mean().item() == pytest.approx(0.5, abs=0.01)
    # a grey image is masked as the first channel of a colour one
    assert torch.equal(corrupt(x, "mask:0.5", g()) == 0, blank[:, :1])


def test_a_denoising_model_is_scored_against_the_clean_images():
    _, x = _batch()
    ae = build_model(ModelConfig(model="ae"), SHAPE)
    noisy = corrupt(x, "mask:0.5", torch.Generator().manual_seed(0))
    terms = loss_terms(ae, x, TrainConfig(), None, inputs=noisy)
    torch.testing.assert_close(terms.recon, sse(ae.decode_params(ae.encode(noisy)), x))


@pytest.mark.parametrize(("model", "train", "weight"), [
    ("ae", TrainConfig(), 1.0), ("vae", TrainConfig(), 1.0), ("vae", TrainConfig(beta=4), 4.0),
    ("vae", TrainConfig(), 0.25), ("vae", TrainConfig(objective="iwae", k=3), 1.0),
    ("vae", TrainConfig(k=3, beta=2), 2.0),
])
def test_what_a_training_step_minimises_and_reports_are_the_per_image_terms_summed(
        model, train, weight):
    _, x = _batch()
    net = build_model(ModelConfig(model=model), SHAPE)
    terms = loss_terms(net, x, train, torch.Generator().manual_seed(0))
    minimised, reported = terms.summed(weight)
    torch.testing.assert_close(minimised, terms.objective(weight).sum())
    kl = terms.kl.sum() if terms.kl is not None else torch.zeros(())
    torch.testing.assert_close(reported, torch.stack([terms.loss.sum(), terms.recon.sum(), kl]))
    assert not reported.requires_grad and minimised.requires_grad


@pytest.mark.parametrize(("model", "train"), [
    ("ae", TrainConfig(noise="mask:0.3")),
    ("cvae", TrainConfig(noise="gaussian:0.2")),
    ("vae", TrainConfig(objective="iwae", k=3)),
    ("vae", TrainConfig(k=2)),
])
def test_the_measured_objective_does_not_depend_on_how_many_images_go_through_at_once(model,
                                                                                     train):
    """objective_per_image draws each batch's noise at once and computes it in slices: the
    slices see the same draws (eps of (B, d) or (k, B, d), corrupted inputs, labels)."""
    torch.manual_seed(0)
    net = build_model(ModelConfig(model=model), SHAPE, classes=4)
    g = torch.Generator().manual_seed(1)
    images = (255 * torch.rand(45, *SHAPE, generator=g)).to(torch.uint8)
    labels = torch.randint(0, 4, (45,), generator=g) if model == "cvae" else None
    whole = objective_per_image(net, images, train, labels, batch_size=20, rows_at_once=20)
    for rows in (1, 7):
        sliced = objective_per_image(net, images, train, labels, batch_size=20,
                                     rows_at_once=rows)
        assert sliced.keys() == whole.keys()
        for key, value in whole.items():
            assert (value is None) == (sliced[key] is None)
            if value is not None:
                assert sliced[key] == pytest.approx(value, rel=1e-5), key
    other_noise = objective_per_image(net, images, train, labels, batch_size=20, seed=5)
    assert other_noise["loss"] != pytest.approx(whole["loss"], rel=1e-5)  # draws that matter


def test_a_cvae_takes_one_hot_rows_as_its_class_numbers_with_several_draws():
    """Labels as rows (B, K) went through repeat(k) as if (B,): a shape error in training
    with k draws, and labels flattened out of order in the IWAE bound."""
    from vaelab.measuring.estimators import iwae_log_px

    cvae = build_model(ModelConfig("cvae", hidden_dims=(8,)), (1, 28, 28), classes=3)
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 2, 1, 2])
    rows = torch.nn.functional.one_hot(y, 3).float()
    config = TrainConfig(objective="iwae", k=3)
    for labels in (y, rows):
        terms = loss_terms(cvae, x, config, torch.Generator().manual_seed(0), labels)
        bound = iwae_log_px(cvae, x, labels, 5, torch.Generator().manual_seed(0))
        if labels is y:
            expected = terms.loss, bound
    torch.testing.assert_close(terms.loss, expected[0])
    torch.testing.assert_close(bound, expected[1])
