"""A model's encoder and decoder as lists of operations that the explorer's page runs
(explorer/nets.js): the page needs no knowledge of vaelab's architectures, only of these few
operations, each with the shape of its output (batch left out):

    linear              weight (out, in), bias (out,)
    conv2d              weight (out, in, kh, kw), bias; kernel, stride, padding
    conv_transpose2d    weight (in, out, kh, kw), bias; kernel, stride, padding, output_padding
    relu, tanh, sigmoid elementwise
    reshape             the same values in another shape (Flatten, Unflatten)
    side                the one-hot label (a conditional model's) appended to a flat input
    sigmoid, clamp      last: the likelihood's mean: the image the decoder draws, in [0, 1]

Weights travel as float16 (half the bytes of float32; the page widens them to float32), or as
float32 where a value lies beyond float16's range.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from vaelab.errors import VaelabError
from vaelab.models import Autoencoder

HALF_MAX = float(np.finfo(np.float16).max)
RUNS = "Linear, Conv2d, ConvTranspose2d, ReLU, Tanh, Sigmoid, Flatten and Unflatten"


def b64(array: torch.Tensor | np.ndarray, dtype: str) -> str:
    """An array's values, row-major and little-endian, as base64 text."""
    raw = np.ascontiguousarray(np.asarray(array), dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(raw.tobytes()).decode("ascii")


def packed(tensor: torch.Tensor) -> dict[str, str]:
    """A weight as the page reads it: float16 where every value fits, else float32."""
    values = tensor.detach().cpu().float()
    dtype = "f2" if values.abs().max().item() <= HALF_MAX else "f4"
    return {"dtype": dtype, "data": b64(values.numpy(), dtype)}


def as_in_page(model: nn.Module) -> nn.Module:
    """``model`` with its weights rounded as the page gets them (float16 where they fit), in
    place: what the page computes, to the last bit that float32 keeps."""
    with torch.no_grad():
        for p in model.parameters():
            if p.abs().max().item() <= HALF_MAX:
                p.copy_(p.half().float())
    return model


def _leaves(module: nn.Module) -> Iterator[nn.Module]:
    """The layers of a stack in the order they run: Sequentials opened, Identities dropped."""
    if isinstance(module, nn.Sequential):
        for child in module:
            yield from _leaves(child)
    elif not isinstance(module, nn.Identity):
        yield module


def _pairs(value: int | tuple[int, ...]) -> list[int]:
    return list(value) if isinstance(value, tuple) else [value, value]


def _conv(layer: nn.Conv2d | nn.ConvTranspose2d, op: str, where: str) -> dict[str, Any]:
    plain = (layer.groups == 1 and _pairs(layer.dilation) == [1, 1]
             and layer.padding_mode == "zeros" and not isinstance(layer.padding, str))
    if not plain:
        raise VaelabError(f"{where}: the explorer runs plain convolutions (no groups, dilation, "
                          f"padding modes); this one is {layer}")
    bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_channels)
    out = {"op": op, "in": layer.in_channels, "out": layer.out_channels,
           "kernel": _pairs(layer.kernel_size), "stride": _pairs(layer.stride),
           "padding": _pairs(layer.padding), "weight": packed(layer.weight),
           "bias": packed(bias)}
    if isinstance(layer, nn.ConvTranspose2d):
        out["output_padding"] = _pairs(layer.output_padding)
    return out


def _op(layer: nn.Module, where: str) -> dict[str, Any]:
    """One layer as an operation (its output shape is added by the caller)."""
    if isinstance(layer, nn.Linear):
        bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features)
        return {"op": "linear", "in": layer.in_features, "out": layer.out_features,
                "weight": packed(layer.weight), "bias": packed(bias)}
    if isinstance(layer, nn.ConvTranspose2d):
        return _conv(layer, "conv_transpose2d", where)
    if isinstance(layer, nn.Conv2d):
        return _conv(layer, "conv2d", where)
    if isinstance(layer, nn.Flatten | nn.Unflatten):
        return {"op": "reshape"}
    if type(layer) in (nn.ReLU, nn.Tanh, nn.Sigmoid):
        return {"op": type(layer).__name__.lower()}
    raise VaelabError(f"{where}: the explorer cannot run a {type(layer).__name__} layer in the "
                      f"page; it runs {RUNS}")


def _ops(stages: list[nn.Module | str], x: torch.Tensor, classes: int, where: str
         ) -> list[dict[str, Any]]:
    """The operations of ``stages`` (stacks of layers, and "side" where the label joins) run
    on ``x`` (1, ...), each with its output's shape, found by running the layer."""
    ops = []
    for stage in stages:
        if stage == "side":
            if x.dim() != 2:
                raise VaelabError(f"{where}: the label joins a {tuple(x.shape[1:])} input; the "
                                  f"explorer appends it to flat features only")
            x = torch.cat([x, x.new_zeros(1, classes)], dim=1)
            ops.append({"op": "side", "classes": classes, "shape": list(x.shape[1:])})
            continue
        for layer in _leaves(stage):
            x = layer(x)
            ops.append({**_op(layer, where), "shape": list(x.shape[1:])})
    return ops


def _sequential(stages: list[nn.Module | str], x: torch.Tensor, side: torch.Tensor | None
                ) -> torch.Tensor:
    for stage in stages:
        x = torch.cat([x, side], dim=1) if stage == "side" else stage(x)
    return x


@torch.inference_mode()
def net_ops(model: Autoencoder) -> dict[str, list[dict[str, Any]]]:
    """The encoder, image (C, H, W) [+ label] -> outputs, and the decoder, code (d,) [+ label]
    -> the image drawn (C, H, W), as operations. Checks on random inputs that running the
    stages one after another is what the nets' own forward does."""
    side = ["side"] if model.conditional else []
    encoder, decoder = model.encoder, model.decoder
    nets = {"encoder": (encoder, [encoder.body, *side, encoder.head], model.image_shape),
            "decoder": (decoder, [*side, decoder.head, decoder.body], (model.latent_dims,))}
    g, device = torch.Generator().manual_seed(0), model.device
    y = model.side(torch.arange(2) % max(model.classes, 1)).to(device) if side else None
    out = {}
    for name, (net, stages, shape) in nets.items():
        where = f"the {name} of this {model.config.arch} {model.config.model.upper()}"
        out[name] = _ops(stages, torch.zeros(1, *shape, device=device), model.classes, where)
        x = torch.rand(2, *shape, generator=g).to(device)
        if not torch.allclose(_sequential(stages, x, y), net(x, y), atol=1e-5):
            raise VaelabError(f"{where}: its forward is not its layers run one after another; "
                              f"the explorer cannot run it in the page")
    out["decoder"].append({"op": model.likelihood.mean_kind, "shape": list(model.image_shape)})
    return out
