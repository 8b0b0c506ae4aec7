import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from vaelab.distributions import DiagonalGaussian, build_likelihood
from vaelab.errors import VaelabError
from vaelab.objectives import tutorial_kl

floats = st.floats(-6, 6, allow_nan=False, width=32)


def _posterior(mean: list[float], logvar: list[float]) -> DiagonalGaussian:
    return DiagonalGaussian(torch.tensor([mean], dtype=torch.float64),
                            torch.tensor([logvar], dtype=torch.float64))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6).flatmap(lambda d: st.tuples(st.lists(floats, min_size=d, max_size=d),
                                                     st.lists(floats, min_size=d, max_size=d))))
def test_closed_form_kl_matches_torch_distributions(params):
    mean, logvar = params
    q = _posterior(mean, logvar)
    reference = kl_divergence(Normal(q.mean, q.std), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(q.kl(), reference, rtol=1e-9, atol=1e-9)
    assert q.kl().item() >= -1e-12


def test_kl_is_zero_only_at_the_prior():
    assert _posterior([0.0, 0.0], [0.0, 0.0]).kl().item() == 0.0
    assert _posterior([0.1, 0.0], [0.0, 0.0]).kl().item() > 0.0


def test_log_prob_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = DiagonalGaussian(mean, logvar)
    z = torch.randn(7, 5, 3, generator=g)  # (K, B, d)
    expected = Normal(mean, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(q.log_prob(z), expected)


def test_rsample_is_reproducible_with_its_generator_and_has_the_right_moments():
    mean, logvar = torch.full((200_000, 2), 1.5), torch.full((200_000, 2), math.log(0.25))
    q = DiagonalGaussian(mean, logvar)
    a = q.rsample(torch.Generator().manual_seed(3))
    b = q.rsample(torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert abs(a.mean().item() - 1.5) < 0.01
    assert abs(a.std().item() - 0.5) < 0.01
    assert torch.equal(q.mode(), mean)


def test_n_draws_per_image_and_what_is_not_a_generator_or_a_code():
    """rsample(5), as torch.distributions takes a sample shape, was torch's listing of randn's
    arguments; log_prob of codes of another batch, a broadcasting error from deep inside."""
    q = DiagonalGaussian(torch.zeros(4, 2), torch.zeros(4, 2))
    draws = q.rsample(torch.Generator().manual_seed(0), n=3)
    assert draws.shape == (3, 4, 2) and q.log_prob(draws).shape == (3, 4)
    assert torch.equal(draws, q.sample(torch.Generator().manual_seed(0), n=3))
    for call, message in ((lambda: q.rsample(5), r"^generator must be a torch\.Generator "
                                                  r"\(torch\.Generator\(\)\.manual_seed\(5\)"),
                          (lambda: q.sample(n=0), r"^n must be a whole number of draws from 1, "
                                                  r"got 0$"),
                          (lambda: q.log_prob(torch.rand(3)), r"^z must be a tensor of shape "
                           r"\(\.\.\., 4, 2\) \(draws of this batch's codes\), got \(3,\)$")):
        with pytest.raises(VaelabError, match=message):
            call()


def test_rsample_passes_gradients_to_mean_and_logvar():
    mean = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    z = DiagonalGaussian(mean, logvar).rsample(torch.Generator().manual_seed(0))
    z.square().sum().backward()
    assert mean.grad.abs().sum() > 0
    assert logvar.grad.abs().sum() > 0


@pytest.mark.parametrize("logvar", [-1e4, 1e4, float("-inf")])
def test_extreme_log_variances_stay_finite(logvar):
    q = DiagonalGaussian(torch.zeros(1, 3), torch.full((1, 3), logvar))
    assert torch.isfinite(q.std).all()
    assert torch.isfinite(q.kl()).all()
    assert torch.isfinite(q.rsample()).all()


def test_tutorial_kl_is_the_tutorials_line():
    g = torch.Generator().manual_seed(1)
    mu, log_sigma = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    sigma = torch.exp(log_sigma)
    literal = (sigma**2 + mu**2 - torch.log(sigma) - 1 / 2).sum(-1)
    torch.testing.assert_close(tutorial_kl(DiagonalGaussian(mu, 2 * log_sigma)), literal)


def test_tutorial_kl_is_the_kl_to_a_narrower_prior_plus_a_constant():
    """What the tutorial's bug does: it measures the distance to N(0, I/2), not N(0, I)."""
    g = torch.Generator().manual_seed(2)
    mean, logvar = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    q = DiagonalGaussian(mean, logvar)
    narrow = kl_divergence(Normal(mean, q.std), Normal(0.0, math.sqrt(0.5))).sum(-1)
    torch.testing.assert_close(tutorial_kl(q), narrow + 3 * 0.5 * math.log(2))


# ---------------------------------------------------------------------------------------------
# The bounds that keep densities finite, and the constant of colour images.


def test_the_posteriors_log_variance_reaches_down_to_its_documented_floor():
    """exp(-25) is a variance a trained code may have: kept, not floored at exp(-10)."""
    q = DiagonalGaussian(torch.zeros(1, 2), torch.tensor([[-25.0, -40.0]]))
    torch.testing.assert_close(q.var, torch.tensor([[math.exp(-25), math.exp(-30)]]))
    reference = kl_divergence(Normal(q.mean, q.std), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(q.kl(), reference)


def test_the_squared_errors_constant_counts_every_channel():
    """-log p of a colour image is its squared error plus 0.5 ln pi for each of its C*H*W
    values, as the notes say (the 3 channels of 4 x 4 pixels: 48)."""
    from vaelab.distributions.likelihoods import SquaredError

    generator = torch.Generator().manual_seed(0)
    logits, x = torch.randn(2, 3, 4, 4, generator=generator), torch.rand(2, 3, 4, 4)
    squared = (x - torch.sigmoid(logits)).square().sum(dim=(1, 2, 3))
    expected = -(squared + 0.5 * math.log(math.pi) * 48)
    torch.testing.assert_close(SquaredError((3, 4, 4)).log_prob(logits, x), expected)


def test_learned_scales_stay_above_their_floors():
    """A pixel that never varies drives its learned scale down: the Gaussian's std stops at
    1/255, the logistic's log-scale at its floor, and the density stays finite."""
    from vaelab.distributions.likelihoods import DiscretizedLogistic, LearnedGaussian

    gaussian = LearnedGaussian((1, 2, 2))
    assert gaussian.std.mean().item() == pytest.approx(2 ** -0.5)  # the tutorial's variance
    with torch.no_grad():
        gaussian.raw_std.fill_(-50.0)
    assert torch.allclose(gaussian.std, torch.full((1, 2, 2), 1 / 255))
    logistic = DiscretizedLogistic((1, 2, 2))
    x, location = torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.45)
    with torch.no_grad():
        logistic.log_scale.fill_(DiscretizedLogistic.MIN_LOG_SCALE)
        at_floor = logistic.log_prob(location, x)
        logistic.log_scale.fill_(-100.0)
    below = logistic.log_prob(location, x)
    torch.testing.assert_close(below.detach(), at_floor)
    below.sum().backward()
    assert torch.isfinite(logistic.log_scale.grad).all()


def test_the_discretised_logistics_scale_floor_is_pixelcnn_plus_pluss_on_pixels_in_0_to_1():
    """PixelCNN++ floors the log-scale at -7 on pixels in [-1, 1]; on vaelab's in [0, 1], bins
    half as wide, the same floor let an interior value take at most 0.79 of the probability
    (0.23 nats a pixel that no model could go below), where PixelCNN++'s may take 0.97."""
    from vaelab.distributions import DiscretizedLogistic

    logistic = DiscretizedLogistic((1, 1, 1))
    with torch.no_grad():
        logistic.log_scale.fill_(-20.0)  # below the floor: the floor's
    x = torch.full((1, 1, 1, 1), 128 / 255)
    mass = logistic.log_prob(x, x).exp().item()  # the logistic centred on the value
    assert mass == pytest.approx(math.tanh(1 / 255 / math.exp(-7) / 2), abs=1e-4)  # 0.973


def test_a_colour_images_bits_and_cross_entropy_are_said_of_its_channels():
    """A figure per dimension of a colour image counts each channel of a pixel: its note says
    so, where a grey image's says pixels; neither calls colour images grey."""
    grey, colour = (build_likelihood("bce", (c, 8, 8)) for c in (1, 3))
    assert grey.bits_note(True).startswith("per black-or-white pixel (a coin toss scores 1)")
    assert colour.bits_note(True).startswith(
        "per black-or-white pixel, each of a pixel's 3 channels on its own (a coin toss")
    assert "no likelihood of grey pixels" in grey.exactness(False)
    assert "no likelihood of colour pixels" in colour.exactness(False)
    logistic = build_likelihood("logistic", (3, 8, 8))
    assert logistic.bits_note(False) == ("per 8-bit pixel value, each of a pixel's 3 channels "
                                         "on its own, as image models report it")
    assert "images, each of a pixel's 3 channels on its own, under" in logistic.bits_note(True)
