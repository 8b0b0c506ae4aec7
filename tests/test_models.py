import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from vaelab.config import ModelConfig, TrainConfig
from vaelab.distributions import DiagonalGaussian
from vaelab.errors import VaelabError
from vaelab.models import VAE, Autoencoder, build_model, count_parameters, prepared_pixels
from vaelab.objectives import loss_terms, objective_per_image

SHAPE = (1, 28, 28)


@pytest.mark.parametrize("name", ["ae", "vae"])
@pytest.mark.parametrize("latent_dims", [1, 2, 16])
@pytest.mark.parametrize("hidden_dims", [(), (512,), (64, 32)])
@pytest.mark.parametrize("batch", [1, 3])
def test_shapes(name, latent_dims, hidden_dims, batch):
    model = build_model(ModelConfig(name, latent_dims, hidden_dims), SHAPE)
    x = torch.rand(batch, *SHAPE)
    code = model.encode(x)
    if name == "vae":
        assert isinstance(code, DiagonalGaussian)
        assert code.mean.shape == code.logvar.shape == (batch, latent_dims)
    else:
        assert code.shape == (batch, latent_dims)
    z = model.embed(x)
    assert z.shape == (batch, latent_dims)
    out = model.decode(z)
    assert out.shape == (batch, *SHAPE)
    assert out.min() >= 0 and out.max() <= 1
    assert model.reconstruct(x).shape == (batch, *SHAPE)
    assert torch.equal(model(x), model.reconstruct(x))  # as a summary or a hook calls it
    assert model.decode_params(z).shape == (batch, *SHAPE)


def test_the_tutorials_architecture():
    ae = build_model(ModelConfig("ae"), SHAPE)
    vae = build_model(ModelConfig("vae"), SHAPE)
    layers = [m for m in ae.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [
        (784, 512), (512, 2), (2, 512), (512, 784)]
    # The VAE's two heads (mean, log-variance) are one 512 -> 2 * 2 layer: 2 * 513 more weights.
    assert count_parameters(vae) - count_parameters(ae) == 2 * 513


def test_vae_embed_is_the_posterior_mean():
    model = build_model(ModelConfig("vae", latent_dims=3), SHAPE)
    x = torch.rand(4, *SHAPE)
    assert torch.equal(model.embed(x), model.encode(x).mean)


def test_sampling():
    vae = build_model(ModelConfig("vae"), SHAPE)
    a = vae.sample(6, generator=torch.Generator().manual_seed(0))
    b = vae.sample(6, generator=torch.Generator().manual_seed(0))
    assert a.shape == (6, *SHAPE)
    assert torch.equal(a, b)
    with pytest.raises(VaelabError, match="an AE has no prior"):
        build_model(ModelConfig("ae"), SHAPE).sample(6)


@pytest.mark.parametrize("latent_dims", [1, 2, 3, 16])
def test_fewer_samples_are_the_first_of_more_from_one_seed(latent_dims):
    """vaelab sample -n 7 draws the first 7 of -n 64 (PyTorch's randn(7, 2) is not the start
    of randn(16, 2)), across a block of draws too, and a CVAE's classes in turn with them: the
    same codes, decoded to the same images but for the last bits of a batch's products."""
    def seeded():
        return torch.Generator().manual_seed(3)

    vae = build_model(ModelConfig("vae", latent_dims), SHAPE)
    many = vae.prior_draws(2100, seeded())
    for n in (1, 7, 15, 16, 64, 100, 2000, 2001):
        assert torch.equal(vae.prior_draws(n, seeded()), many[:n]), n
    torch.testing.assert_close(vae.sample(7, seeded()), vae.sample(64, seeded())[:7])
    cvae = build_model(ModelConfig("cvae", latent_dims), SHAPE, classes=3)
    for y in ({}, {"y": 2}):
        torch.testing.assert_close(cvae.sample(5, seeded(), **y),
                                   cvae.sample(12, seeded(), **y)[:5])


def test_unknown_model_lists_the_known_ones():
    config = ModelConfig()
    object.__setattr__(config, "model", "gan")  # past the config's own check
    with pytest.raises(VaelabError, match="choose one of: ae, vae, cvae"):
        build_model(config, SHAPE)
    with pytest.raises(VaelabError, match=r"^unknown model 'vea' \(did you mean vae\?\); choose"):
        ModelConfig("vea")  # the config's own check names the nearest too
    from vaelab.config import RunConfig

    for wrong, kind in (("vae", "str"), (RunConfig(), "RunConfig")):  # not its name, nor "unknown"
        with pytest.raises(VaelabError, match=rf"^build_model takes a ModelConfig, as in "
                                              rf"ModelConfig\(model='vae'\) or a RunConfig's "
                                              rf"\.model, not {kind}$"):
            build_model(wrong, SHAPE)


@pytest.mark.parametrize("name", ["ae", "vae"])
@pytest.mark.parametrize("loss", ["sse", "bce"])
def test_gradients_reach_every_weight(name, loss):
    model = build_model(ModelConfig(name, likelihood=loss), SHAPE)
    x = torch.rand(8, *SHAPE)
    terms = loss_terms(model, x, TrainConfig(), torch.Generator().manual_seed(0))
    terms.loss.sum().backward()
    for param_name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, param_name


def _step(model: Autoencoder, x: torch.Tensor) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_terms(model, x, TrainConfig(), torch.Generator().manual_seed(0)).loss.sum().backward()
    opt.step()


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_a_training_step_changes_weights_and_evaluation_does_not(name, tiny):
    model = build_model(ModelConfig(name), SHAPE)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    objective_per_image(model, tiny.test_images, TrainConfig())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training  # evaluation puts the mode back as it found it
    _step(model, torch.rand(8, *SHAPE))
    changed = [k for k, v in model.state_dict().items() if not torch.equal(before[k], v)]
    assert sorted(changed) == sorted(before)


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_one_batch_can_be_overfit(name, tiny):
    torch.manual_seed(0)
    model = build_model(ModelConfig(name, latent_dims=8, hidden_dims=(128,), likelihood="bce"),
                        SHAPE)
    x = tiny.train_images[:16].float() / 255
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    config = TrainConfig()
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        terms = loss_terms(model, x, config, g)
        opt.zero_grad()
        terms.loss.mean().backward()
        opt.step()
    # The Bernoulli cross-entropy can go no lower than the grey levels' own entropy (0.26
    # nats per pixel here); an untrained decoder pays log 2 = 0.69.
    p = x.clamp(1e-6, 1 - 1e-6)
    floor = -(p * p.log() + (1 - p) * (1 - p).log()).mean().item()
    per_pixel = terms.recon.mean().item() / 784
    assert floor <= per_pixel < floor + 0.03


def test_state_dict_round_trip_gives_identical_outputs():
    a = build_model(ModelConfig("vae", 3, (64,)), SHAPE)
    b = build_model(dataclasses.replace(a.config), SHAPE)
    b.load_state_dict(a.state_dict())
    x = torch.rand(5, *SHAPE)
    assert torch.equal(a.reconstruct(x), b.reconstruct(x))
    assert isinstance(b, VAE)


def test_no_hidden_widths_make_a_linear_encoder_and_decoder():
    """--hidden-dims with no widths: one dense layer each way, and nothing between (a linear
    VAE, as in probabilistic PCA); the encoder's mean is then an affine map of the image."""
    model = build_model(ModelConfig(hidden_dims=()), (1, 28, 28)).double()
    layers = [m for m in model.modules() if not list(m.children())]
    assert {type(m).__name__ for m in layers} == {"Flatten", "Linear", "Unflatten",
                                                  "SquaredError"}  # no activation anywhere
    assert [m.weight.shape for m in layers if isinstance(m, torch.nn.Linear)] == [
        (4, 784), (784, 2)]
    a, b = torch.rand(3, 1, 28, 28).double(), torch.rand(3, 1, 28, 28).double()
    zero = torch.zeros_like(a)
    mean = lambda x: model.encode(x).mean  # noqa: E731
    assert torch.allclose(mean(a + b) - mean(zero), mean(a) - mean(zero) + mean(b) - mean(zero))


def test_a_model_given_the_wrong_shape_or_count_says_so_in_one_line():
    """A notebook's mistakes ended deep inside PyTorch ('mat1 and mat2 shapes cannot be
    multiplied', an IndexError, a negative dimension); float64 arrays were refused."""
    vae = build_model(ModelConfig(hidden_dims=(8,)), (1, 28, 28))
    cvae = build_model(ModelConfig("cvae", hidden_dims=(8,)), (1, 28, 28), classes=3)
    for call, said in (
            (lambda: vae.encode(torch.rand(1, 1, 32, 32)),
             r"^images must have the shape \(B, 1, 28, 28\) for this model, got \(1, 1, 32, 32\)$"),
            (lambda: vae.decode(torch.zeros(2)),
             r"^codes must have the shape \(B, 2\) for this model, got \(2,\)$"),
            (lambda: vae.sample(-1), r"^n must be a whole number of samples from 1, got -1$"),
            (lambda: cvae.encode(torch.rand(4, 1, 28, 28), torch.tensor([0, 1])),
             r"^y holds 2 labels for 4 images or codes; give one per image$"),
            (lambda: cvae.sample(3, y=torch.zeros(3, 4)),
             r"^y must hold one class number per image \(B,\) or one-hot rows \(B, 3\), got "
             r"shape \(3, 4\)$"),
            (lambda: cvae.sample(2, y=[0.5, 1.7]),
             r"^y must hold whole class numbers, got \[0.5, 1.7\]$"),
            (lambda: cvae.sample(1, y="7"), r"^y must hold one class number .*, got '7'$"),
            (lambda: cvae.sample(2, y=torch.tensor([True, False])),
             r"^y must hold one class number .*\(B, 3\), not booleans$"),
            (lambda: cvae.encode(torch.rand(2, 1, 28, 28), torch.tensor([[0, 1, 0], [0, 5, 0]])),
             r"^y's rows must be one-hot, or a mix of classes \(no value below 0, each row "
             r"adding up to 1\); row 1 is \[0, 5, 0\]$"),
            (lambda: cvae.sample(1, y=[[1.5, -0.5, 0.0]]), r"; row 0 is \[1.5, -0.5, 0\]$"),
            (lambda: vae.encode(np.zeros((2, 1, 28, 28), dtype=np.int64)),
             r"^images must be uint8 pixels \(0 to 255\) or floats in \[0, 1\], got torch.int64$"),
            (lambda: vae.sample(2, generator=0),
             r"^generator must be a torch.Generator \(torch.Generator\(\).manual_seed\(0\), "
             r"say\), got 0$"),
            (lambda: build_model(ModelConfig(), (28, 28)),
             r"^image_shape must be \(C, H, W\), three whole numbers from 1, got \(28, 28\); "),
            (lambda: vae.sample(4, y=3),
             r"^a VAE draws no chosen class, and y would be ignored; a CVAE \(model='cvae'\) "
             r"does$"),
            (lambda: vae.encode(Image.new("L", (28, 28))),  # 'Could not infer dtype of Image'
             r"^images cannot be read as a tensor \(Image\); give a tensor, NumPy array or "
             r"list, such as torch.from_numpy\(np.asarray\(image\)\)\[None, None\] ")):
        with pytest.raises(VaelabError, match=said):
            call()
    # A tensor on another device than the model's is moved to it (a CPU batch for a model on
    # a GPU ended in 'Expected all tensors to be on the same device'); the meta device, which
    # computes shapes alone, stands in for the GPU
    away = build_model(ModelConfig(hidden_dims=(8,)), (1, 28, 28)).eval().to("meta")
    assert away.encode(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).mean.device.type == "meta"
    assert away.decode(torch.zeros(3, 2)).shape == (3, 1, 28, 28)
    conditional = build_model(ModelConfig("cvae", hidden_dims=(8,)), (1, 28, 28), classes=3)
    conditional = conditional.eval().to("meta")  # its labels too: as numbers or one-hot rows
    assert conditional.decode(torch.zeros(2, 2), torch.tensor([1, 2])).device.type == "meta"
    assert conditional.encode(torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
                              torch.eye(3)[:2]).mean.device.type == "meta"
    codes = vae.encode(np.random.default_rng(0).random((2, 1, 28, 28))).mean  # float64 array
    assert codes.shape == (2, 2) and codes.dtype == torch.float32
    assert vae.decode([[0, 1]]).shape == (1, 1, 28, 28)  # whole-number codes: floats
    assert vae.sample(np.int64(2)).shape == (2, 1, 28, 28)  # a NumPy integer is a count
    assert cvae.sample(2, y=[2.0, 0.0]).shape == (2, 1, 28, 28)  # whole numbers as floats
    assert cvae.sample(1, y=[[0.25, 0.75, 0]]).shape == (1, 1, 28, 28)  # a mix of classes
    mix = torch.tensor([[0.890625, 0.111328, 0]], dtype=torch.bfloat16)  # adds up to 1.002
    assert cvae.sample(1, y=mix).shape == (1, 1, 28, 28)


def test_a_model_out_of_training_refuses_float_pixels_outside_0_to_1():
    """Images of 0 to 255 as floats were encoded without a word (codes 429 apart from the
    same images' in [0, 1]), and NaN pixels too; a model in training takes them unchecked."""
    vae = build_model(ModelConfig(hidden_dims=(8,)), (1, 28, 28)).eval()
    images = torch.rand(4, 1, 28, 28)
    for bad, shown in ((images * 255, r"are floats from [0-9.e-]+ to 2[0-9.]+"),
                       (images - 0.5, r"are floats from -0.[0-9]+ to 0.[0-9]+"),
                       (images.index_fill(0, torch.tensor([2]), float("nan")), "hold NaN")):
        with pytest.raises(VaelabError, match=rf"^images {shown}; give floats in \[0, 1\] "
                                              r"or uint8 pixels \(0 to 255\)$"):
            vae.reconstruct(bad)
    assert vae.reconstruct(images).shape == images.shape  # in [0, 1]
    with pytest.raises(VaelabError, match=r"^images are floats from \S+ to 1\.0000001; "):
        vae.reconstruct(images.index_fill(0, torch.tensor([1]), 1.0000001))  # not '0 to 1'
    assert vae.encode((images * 255).to(torch.uint8)).mean.shape == (4, 2)  # uint8: any value
    with prepared_pixels():  # vaelab's own loops over its data: unchecked
        assert vae.encode(images * 255).mean.shape == (4, 2)
    vae.train()
    assert vae.encode(images * 255).mean.shape == (4, 2)  # training's fast path: unchecked


def test_a_float64_model_takes_float32_codes_and_images_and_samples_in_float64():
    """A model made float64 refused float32 inputs ('mat1 and mat2 must have the same dtype')
    and uint8 images, and drew float32 noise in sample."""
    vae = build_model(ModelConfig(hidden_dims=(8,)), (1, 28, 28)).double().eval()
    assert vae.encode(torch.rand(2, 1, 28, 28)).mean.dtype == torch.float64
    assert vae.encode(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).mean.dtype == torch.float64
    assert vae.decode(torch.zeros(2, 2)).dtype == torch.float64
    assert vae.sample(3, generator=torch.Generator().manual_seed(0)).dtype == torch.float64


def test_a_cvae_decodes_as_one_class_given_one_number_and_a_posterior_samples_outside_autograd():
    """cvae.sample(4, y=7) took one class for all, and cvae.decode(z, 5) refused it;
    DiagonalGaussian had rsample alone, where torch.distributions has sample too."""
    import vaelab

    cvae = build_model(ModelConfig("cvae", hidden_dims=(8,)), (1, 28, 28), classes=10).eval()
    z = torch.randn(3, 2)
    with torch.no_grad():
        assert torch.equal(cvae.decode(z, 5), cvae.decode(z, torch.full((3,), 5)))
        assert torch.equal(cvae.decode(z, np.int64(5)), cvae.decode(z, torch.tensor(5)))
    for bad in (torch.tensor(2.7), 10, -1):  # 2.7 was decoded as class 2
        with pytest.raises(VaelabError, match=rf"^y must be a class number from 0 to 9, got "
                                              rf"{float(bad):g}$"):
            cvae.decode(z, bad)
    posterior = cvae.encode(torch.rand(3, 1, 28, 28), [1, 2, 3])
    drawn = posterior.sample(torch.Generator().manual_seed(0))
    assert drawn.shape == (3, 2) and not drawn.requires_grad
    assert torch.equal(drawn, posterior.rsample(torch.Generator().manual_seed(0)).detach())
    assert vaelab.Score.__name__ == "Score"  # what card["nll"] is


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_the_decoders_dense_widths_mirror_the_encoders(arch):
    """hidden_dims (64, 32): the encoder narrows 64 then 32, the decoder widens 32 then 64."""
    model = build_model(ModelConfig(model="vae", latent_dims=2, hidden_dims=(64, 32), arch=arch,
                                    channels=(8, 16)), (1, 28, 28))

    def widths(net):
        return [layer.out_features for layer in net.modules() if isinstance(layer, torch.nn.Linear)]

    assert widths(model.encoder)[:2] == [64, 32]
    assert widths(model.decoder)[:2] == [32, 64]


@pytest.mark.parametrize("shape", [(1, 15, 8), (1, 8, 15), (3, 13, 9)])
def test_a_conv_net_gives_back_images_odd_in_one_side_or_both(shape):
    model = build_model(ModelConfig(model="vae", latent_dims=2, hidden_dims=(16,), arch="conv",
                                    channels=(8, 16)), shape)
    x = torch.rand(2, *shape)
    assert model.reconstruct(x).shape == x.shape
    assert model.sample(3).shape == (3, *shape)
