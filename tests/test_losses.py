import torch

from vaelab.config import ModelConfig, TrainConfig
from vaelab.models import build_model
from vaelab.objectives import bce, loss_terms, sse

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


def test_kl_option_switches_the_kl_term():
    _, x = _batch()
    vae = build_model(ModelConfig(model="vae"), SHAPE)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    right = loss_terms(vae, x, TrainConfig(kl="closed-form"), g())
    wrong = loss_terms(vae, x, TrainConfig(kl="tutorial"), g())
    assert torch.equal(right.recon, wrong.recon)
    assert not torch.allclose(right.kl, wrong.kl)
