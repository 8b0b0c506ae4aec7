"""A training step with less around its arithmetic: the backward pass of the tutorial's dense
AE and VAE written out, and fused Adam's update called directly. Both compute what autograd
and ``torch.optim.Adam.step`` compute, bit for bit; tests/test_lean.py trains every model
and setting they cover both ways and compares the weights.

Autograd spends a step's time beside the matrix products on recording the forward pass,
keeping its tensors alive and walking the graph back. Here the forward pass keeps only what
the backward reads, and the backward calls the operations that autograd's formulas call, in
the order its engine calls them (where three gradients meet in one tensor, the order of their
sum changes its last bits). With Adam's update called directly, the tutorial's VAE trained an
epoch in 7% less time on one CPU thread (``python benchmarks/train_speed.py``).

The written-out backward covers what `vaelab demo` and a plain `vaelab train` run on a CPU:
an AE or a VAE of dense layers (ReLU or tanh between them), the squared error or the
Bernoulli likelihood (sse, bce), the ELBO of one draw with the closed-form KL at any weight,
in fp32 in one process, not compiled. Every other step goes through autograd (``Step``).
"""

from __future__ import annotations

import numpy
import torch
import torch.optim.optimizer as torch_optim
from torch import nn

from vaelab import optimizers
from vaelab.config import TrainConfig
from vaelab.data import to_unit
from vaelab.distributions import LOGVAR_MAX, LOGVAR_MIN, DiagonalGaussian
from vaelab.distributions.likelihoods import bce
from vaelab.models import VAE, Autoencoder

aten = torch.ops.aten
ONE = torch.ones((), dtype=torch.float32)  # the gradient of a sum in each of its terms
COVERED_LIKELIHOODS = ("sse", "bce")
COVERED_LAYERS = (nn.Linear, nn.ReLU, nn.Tanh)
KEPT = torch.preserve_format  # Adam's state laid out as its parameter


def covers(model: Autoencoder, config: TrainConfig, processes: int, compile: bool) -> bool:
    """Whether ``gradients`` computes this model's step under this training configuration."""
    m = model.config
    return (type(model) in (Autoencoder, VAE)
            and m.arch == "mlp" and m.likelihood in COVERED_LIKELIHOODS
            and all(type(layer) in COVERED_LAYERS
                    for layer in (*model.encoder.head, *model.decoder.head))
            and isinstance(model.encoder.body, nn.Flatten)
            and model.device.type == "cpu" and processes == 1 and not compile
            and config.precision == "fp32" and config.objective == "elbo"
            and config.draws == 1 and config.kl == "closed-form"
            and all(p.requires_grad and p.dtype == torch.float32 for p in model.parameters())
            and not _hooked(model))


def _hooked(model: nn.Module) -> bool:
    """Whether hooks would run in autograd's forward or backward pass (a module's, a
    parameter's, or every module's), which the written-out step would skip."""
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    every = [getattr(nn.modules.module, f"_global{kind}", None) for kind in kinds]
    return (any(every) or any(getattr(m, kind, None) for m in model.modules() for kind in kinds)
            or any(getattr(p, "_backward_hooks", None) or
                   getattr(p, "_post_accumulate_grad_hooks", None) for p in model.parameters()))


@torch.no_grad()
def gradients(model: Autoencoder, x: torch.Tensor, inputs: torch.Tensor,
              eps: torch.Tensor | None, kl_weight: float) -> torch.Tensor:
    """Set each parameter's ``.grad`` (None for a frozen one) to the gradient of what the step
    minimises on the images x (B, C, H, W) in [0, 1], encoded from ``inputs`` with the
    posterior's noise ``eps`` (B, d); returns the batch's (loss, recon, kl) sums (3,), as
    ``Step`` does. The forward is the model's layers run here one by one, keeping what the
    backward needs: the encoder's output split into mean and raw log-variance as VAE.encode
    splits it, and the posterior and its KL from DiagonalGaussian."""
    x = x.flatten(1)  # (B, D)
    code, encoder_kept = _forward(model.encoder.head, to_unit(inputs).flatten(1))  # (B, d or 2d)
    if model.has_posterior:
        mean, raw = code.chunk(2, dim=1)  # 2 x (B, d)
        posterior = DiagonalGaussian(mean, raw)  # its log-variance clamped
        std = posterior.std
        if eps is None:  # as loss_terms draws it
            eps = torch.randn(mean.shape, dtype=mean.dtype)
        z = mean + std * eps  # (B, d)
    else:
        z = code
    logits, decoder_kept = _forward(model.decoder.head, z)  # (B, D)
    recon, d_logits = _recon(model.config.likelihood, logits, x)
    d_z = _backward(model.decoder.head, decoder_kept, d_logits, first_input=True)  # (B, d)
    if not model.has_posterior:
        _backward(model.encoder.head, encoder_kept, d_z, first_input=False)
        return torch.stack([recon, recon, torch.zeros_like(recon)])
    kl, var = posterior.kl().sum(), posterior.var
    # d/d kl: 1 in -ELBO itself, else the weight in float32 (Objective: recon + weight * kl),
    # then through 0.5 * (...).sum(-1): the same for every (B, d)
    with numpy.errstate(over="ignore"):  # a weight past float32's range is inf, as in torch
        half = 0.5 if kl_weight == 1 else float(numpy.float32(kl_weight) * numpy.float32(0.5))
    d_mean = half * (2.0 * mean) + d_z  # from mean.square() (pow's formula), and from z
    # The log-variance's three, summed in the order in which autograd's engine reaches them:
    # from "- logvar", from var = exp(logvar), from std = exp(0.5 * logvar) through z.
    d_logvar = -half + half * var + d_z * eps * std * 0.5
    inside = (raw >= LOGVAR_MIN).logical_and_(raw <= LOGVAR_MAX)
    d_raw = torch.where(inside, d_logvar, 0.0)  # the clamp's
    _backward(model.encoder.head, encoder_kept, torch.cat([d_mean, d_raw], dim=1),
              first_input=False)
    return torch.stack([recon + kl, recon, kl])


def _recon(likelihood: str, logits: torch.Tensor, x: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The reconstruction term summed over the batch, and its gradient in the logits (B, D)."""
    if likelihood == "sse":  # sse()'s terms, its means kept for the backward
        means = torch.sigmoid(logits)
        recon = torch.nn.functional.mse_loss(means, x, reduction="none").sum(dim=1).sum()
        d_means = aten.mse_loss_backward(ONE.expand(logits.shape), means, x, 0)  # 0: no reduction
        return recon, aten.sigmoid_backward(d_means, means)
    return bce(logits, x).sum(), torch.sigmoid(logits).sub_(x)


def _forward(head: nn.Sequential, h: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Dense layers and activations on h (B, n); what each layer's backward reads: a dense
    layer's input, an activation's output."""
    kept, fresh = [], False  # fresh: h is a dense layer's output, which nothing else reads
    for layer in head:
        if isinstance(layer, nn.Linear):
            kept.append(h)
            h, fresh = torch.addmm(layer.bias, h, layer.weight.t()), True  # F.linear's operation
            continue
        if isinstance(layer, nn.ReLU):
            h = h.relu_() if fresh else torch.relu(h)
        else:
            h = h.tanh_() if fresh else torch.tanh(h)
        kept.append(h)
        fresh = False
    return h, kept


def _backward(head: nn.Sequential, kept: list[torch.Tensor], grad: torch.Tensor,
              first_input: bool) -> torch.Tensor | None:
    """From the gradient in the head's output, set its layers' parameter gradients; returns
    the gradient in its input where ``first_input`` asks for it."""
    layers = list(head)
    for i in range(len(layers) - 1, -1, -1):
        layer, saved = layers[i], kept[i]
        if isinstance(layer, nn.Linear):
            # (out, in) and (out,); None for a frozen one, as autograd leaves it
            layer.weight.grad = grad.t().mm(saved) if layer.weight.requires_grad else None
            layer.bias.grad = grad.sum(dim=0) if layer.bias.requires_grad else None
            if not (i or first_input):
                continue
            rows, columns = saved.stride()
            if rows == 1 and columns == saved.shape[0]:  # an input laid out by columns (1 x 1)
                grad = layer.weight.t().mm(grad.t()).t()  # autograd's product for it
            else:
                grad = grad.mm(layer.weight)
        elif isinstance(layer, nn.ReLU):
            grad = aten.threshold_backward(grad, saved, 0)
        else:
            grad = aten.tanh_backward(grad, saved)
    return grad if first_input else None


def adam_step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``: for vaelab's fused Adam of one parameter group of float32 on a
    CPU, with all its state made or none, the two operations that its step takes (every
    parameter's step count + 1, then ``torch._fused_adam_``) without the Python around them,
    a fortieth of the tutorial's step on one thread, and without importing ``torch._dynamo``
    (``vaelab.optimizers``); its state made at the first step as that step makes it. Else
    the optimiser's own step."""
    group = optimizer.param_groups[0]
    params = group["params"]
    begun = [bool(optimizer.state.get(p)) for p in params]  # an entry made empty: not begun
    if not (type(optimizer) in (torch.optim.Adam, optimizers.Adam)
            and len(optimizer.param_groups) == 1
            and group.get("fused") and hasattr(torch, "_fused_adam_")
            and not any(group.get(flag) for flag in ("amsgrad", "maximize", "capturable",
                                                     "differentiable", "decoupled_weight_decay"))
            and isinstance(group["lr"], float) and (all(begun) or not any(begun))
            and all(p.grad is not None and p.device.type == "cpu" and p.dtype == torch.float32
                    for p in params)
            and not any(getattr(owner, hooks, None) for owner, hooks in (
                (optimizer, "_optimizer_step_pre_hooks"), (optimizer, "_optimizer_step_post_hooks"),
                (torch_optim, "_global_optimizer_pre_hooks"),
                (torch_optim, "_global_optimizer_post_hooks")))):
        optimizer.step()
        return
    if not any(begun):  # as torch.optim.Adam's first fused step: its step count in float32
        for p in params:
            optimizer.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                  "exp_avg": torch.zeros_like(p, memory_format=KEPT),
                                  "exp_avg_sq": torch.zeros_like(p, memory_format=KEPT)}
    states = [optimizer.state[p] for p in params]
    steps = [state["step"] for state in states]
    torch._foreach_add_(steps, 1)
    beta1, beta2 = group["betas"]
    torch._fused_adam_(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                       [s["exp_avg_sq"] for s in states], [], steps, amsgrad=False,
                       lr=group["lr"], beta1=beta1, beta2=beta2,
                       weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                       grad_scale=None, found_inf=None)
