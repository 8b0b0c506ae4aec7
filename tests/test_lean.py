"""The backward pass written out (vaelab.training.lean) gives autograd's gradients bit for
bit: the same seeded training through either path ends with the same weights, Adam state
and reported losses, for every model and setting that it covers."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vaelab.config import ModelConfig, RunConfig, TrainConfig
from vaelab.models import build_model
from vaelab.training import lean
from vaelab.training.epoch import train_epoch
from vaelab.training.step import Step

SHAPE = (1, 28, 28)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def _trained(images: torch.Tensor, config: RunConfig, by_hand: bool, epochs: int = 2,
             binarize: bool = False, logvar_bias: float | None = None):
    torch.manual_seed(config.train.seed)
    model = build_model(config.model, SHAPE)
    if logvar_bias is not None:  # log-variances past the clamp, where its gradient is 0
        with torch.no_grad():
            model.encoder.head[-1].bias[config.model.latent_dims:] = logvar_bias
    optimizer = torch.optim.Adam(model.parameters(), lr=config.train.lr, fused=True)
    generator = torch.Generator().manual_seed(config.train.seed)
    step = Step(model, optimizer, config.train)
    assert step.by_hand  # covered: the written-out path unless told otherwise
    step.by_hand = by_hand
    metrics = [train_epoch(model, optimizer, images, config.train, generator, epoch=epoch,
                           step=step, binarize=binarize) for epoch in range(1, epochs + 1)]
    return model, optimizer, metrics


COVERED = {
    "the demo's AE": (ModelConfig(model="ae"), TrainConfig()),
    "the demo's VAE": (ModelConfig(model="vae"), TrainConfig()),
    "a beta-VAE warming up": (ModelConfig(model="vae"), TrainConfig(beta=0.3, kl_warmup=3)),
    "Bernoulli pixels": (ModelConfig(model="vae", likelihood="bce"), TrainConfig()),
    "tanh, two hidden layers": (ModelConfig(model="vae", activation="tanh",
                                            hidden_dims=(64, 32), latent_dims=3),
                                TrainConfig(lr=3e-3)),
    "no hidden layer": (ModelConfig(model="ae", hidden_dims=()), TrainConfig()),
    "denoising, clipped": (ModelConfig(model="vae"),
                           TrainConfig(noise="gaussian:0.3", grad_clip=50.0)),
    "a 16-dimensional code, a cosine schedule": (ModelConfig(model="vae", latent_dims=16),
                                                  TrainConfig(lr_schedule="cosine", epochs=2)),
}


@pytest.mark.parametrize("name", COVERED)
def test_the_written_out_backward_trains_bit_for_bit_as_autograd(mnist, name):
    model_config, train_config = COVERED[name]
    config = RunConfig(model=model_config, train=dataclasses.replace(train_config, batch_size=64))
    images = mnist.train_images[:64 * 6 + 17]  # a last batch that is not whole
    binarize = model_config.likelihood == "bce"
    ours, ours_adam, ours_metrics = _trained(images, config, by_hand=True, binarize=binarize)
    theirs, theirs_adam, theirs_metrics = _trained(images, config, by_hand=False,
                                                   binarize=binarize)
    assert ours_metrics == theirs_metrics
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values(),
                           strict=True):
        assert torch.equal(a, b), key
    for a, b in zip(ours_adam.state.values(), theirs_adam.state.values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in ("exp_avg", "exp_avg_sq"))
    torch.manual_seed(config.train.seed)
    initial = build_model(config.model, SHAPE).parameters()
    assert not any(torch.equal(a, b) for a, b in zip(ours.parameters(), initial, strict=True))


def test_clamped_log_variances_pass_no_gradient_either_way(mnist):
    config = RunConfig(model=ModelConfig(model="vae"), train=TrainConfig(batch_size=64))
    images = mnist.train_images[:256]
    ours, _, ours_metrics = _trained(images, config, True, epochs=1, logvar_bias=25.0)
    theirs, _, theirs_metrics = _trained(images, config, False, epochs=1, logvar_bias=25.0)
    assert ours_metrics == theirs_metrics
    assert _same(ours, theirs)
    head = ours.encoder.head[-1].bias[config.model.latent_dims:]
    assert torch.equal(head, torch.full_like(head, 25.0))  # past the clamp: no gradient came


@pytest.mark.parametrize(("model", "train", "processes", "compile"), [
    (ModelConfig(model="vae", arch="conv"), TrainConfig(), 1, False),
    (ModelConfig(model="cvae"), TrainConfig(), 1, False),
    (ModelConfig(model="vae", likelihood="logistic"), TrainConfig(), 1, False),
    (ModelConfig(model="vae"), TrainConfig(objective="iwae"), 1, False),
    (ModelConfig(model="vae"), TrainConfig(k=3), 1, False),
    (ModelConfig(model="vae"), TrainConfig(kl="tutorial"), 1, False),
    (ModelConfig(model="vae"), TrainConfig(precision="bf16"), 1, False),
    (ModelConfig(model="vae"), TrainConfig(), 2, False),
    (ModelConfig(model="vae"), TrainConfig(), 1, True),
])
def test_everything_else_goes_through_autograd(model, train, processes, compile):
    built = build_model(model, SHAPE, classes=10)
    assert not lean.covers(built, train, processes, compile)


def test_a_step_through_either_path_reports_the_same_sums(tiny):
    """One step, taken apart: the gradients themselves, before Adam, are autograd's."""
    config = RunConfig(model=ModelConfig(model="vae"))
    torch.manual_seed(0)
    model = build_model(config.model, SHAPE)
    x = tiny.train_images[:32].float() / 255
    eps = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
    sums = lean.gradients(model, x, x, eps, 0.7)
    ours = [p.grad for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    step = Step(model, optimizer, config.train)
    step.by_hand = False
    assert torch.equal(step(x, x, None, eps, 0.7), sums)
    assert all(torch.equal(a, p.grad) for a, p in zip(ours, model.parameters(), strict=True))


def test_adam_called_directly_updates_as_its_own_step(tiny):
    """Several steps with a changing learning rate and fresh gradients, from the first (whose
    state adam_step makes as Adam's own first step makes it) on."""
    weights = [build_model(ModelConfig(model="vae"), SHAPE).parameters() for _ in range(2)]
    ours, theirs = ([p for p in params] for params in weights)
    for a, b in zip(ours, theirs, strict=True):
        b.data.copy_(a.data)
    optimizers = [torch.optim.Adam(params, lr=1e-3, eps=1e-4, fused=True)
                  for params in (ours, theirs)]
    generator = torch.Generator().manual_seed(0)
    for step in range(5):
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.randn(a.shape, generator=generator)
            b.grad = a.grad.clone()
        for optimizer in optimizers:
            optimizer.param_groups[0]["lr"] = 1e-3 / (step + 1)
        lean.adam_step(optimizers[0])
        optimizers[1].step()
        assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    for a, b in zip(ours, theirs, strict=True):
        state, other = optimizers[0].state[a], optimizers[1].state[b]
        assert all(torch.equal(state[k], other[k]) for k in ("step", "exp_avg", "exp_avg_sq"))


@pytest.mark.parametrize("model", ["ae", "vae"])
def test_one_image_through_layers_one_wide_trains_bit_for_bit_as_autograd(mnist, model):
    """A 1 x 1 input to a dense layer (a batch of one image, a code or a hidden layer one
    wide) is laid out by columns as much as by rows, and autograd takes another product."""
    config = RunConfig(model=ModelConfig(model=model, hidden_dims=(1, 8), latent_dims=1),
                       train=TrainConfig(batch_size=5))
    images = mnist.train_images[:5 * 3 + 1]  # a last batch of one image
    ours, _, ours_metrics = _trained(images, config, by_hand=True)
    theirs, _, theirs_metrics = _trained(images, config, by_hand=False)
    assert ours_metrics == theirs_metrics and _same(ours, theirs)


def test_a_frozen_layer_is_left_as_autograd_leaves_it(mnist):
    """Frozen after its step was made: no gradient, and Adam (its own step) leaves it."""
    config = RunConfig(model=ModelConfig(model="vae"), train=TrainConfig(batch_size=64))
    images = mnist.train_images[:256]
    runs = []
    for by_hand in (True, False):
        model, optimizer, _ = _trained(images, config, by_hand, epochs=1)
        step = Step(model, optimizer, config.train)
        step.by_hand = by_hand
        model.decoder.requires_grad_(False)
        before = [p.clone() for p in model.decoder.parameters()]
        train_epoch(model, optimizer, images, config.train, torch.Generator().manual_seed(1),
                    step=step)
        assert all(torch.equal(a, b) for a, b in zip(before, model.decoder.parameters(),
                                                     strict=True))
        runs.append(model)
    assert _same(*runs)


def test_hooks_send_the_step_through_autograd():
    config = RunConfig(model=ModelConfig(model="vae"))
    model = build_model(config.model, SHAPE)
    assert lean.covers(model, config.train, 1, False)
    handle = model.decoder.head[0].register_forward_hook(lambda *args: None)
    assert not lean.covers(model, config.train, 1, False)
    handle.remove()
    handle = model.encoder.head[0].weight.register_hook(lambda grad: grad * 2)
    assert not lean.covers(model, config.train, 1, False)
    handle.remove()
    handle = torch.nn.modules.module.register_module_forward_hook(lambda *args: None)
    assert not lean.covers(model, config.train, 1, False)  # a hook of every module's
    handle.remove()
    assert lean.covers(model, config.train, 1, False)


def test_a_step_without_noise_given_draws_it_as_autograd_does(tiny):
    """Step's callers may leave the posterior's noise to it, and pass uint8 images to encode."""
    grads, sums = [], []
    for by_hand in (True, False):
        torch.manual_seed(0)
        model = build_model(ModelConfig(model="vae"), SHAPE)
        step = Step(model, torch.optim.SGD(model.parameters(), lr=0.0), TrainConfig())
        step.by_hand = by_hand
        x = tiny.train_images[:16]
        sums.append(step(x.float() / 255, x, None, None, 1.0))
        grads.append([p.grad for p in model.parameters()])
    assert torch.equal(*sums)
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))
