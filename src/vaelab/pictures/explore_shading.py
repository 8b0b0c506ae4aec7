"""The explorer's confidence layer: where on the latent plane the page opens with the decoder
draws something that the sample classifier (``vaelab classifier train``) puts in one class
with probability at least CONFIDENT, as ``vaelab eval`` counts the manifolds' tiles."""

from __future__ import annotations

from typing import Any

import torch

from vaelab.data import DATASETS, ImageData, dataset_images
from vaelab.files import quoted
from vaelab.measuring.classifier import CONFIDENT, judge_key, load_judge, predict
from vaelab.measuring.latent import decode_all
from vaelab.models import Autoencoder
from vaelab.pictures.explore_ops import b64

CELLS = 64  # cells along each side of the plane's square


def default_plane(codes: torch.Tensor, pca: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The plane the page opens with, as in explorer.js: the codes' first two principal axes
    through their mean for more than two latent dimensions, else z1 and z2 through 0; its
    origin (d,) and axes (2, d)."""
    d = codes.shape[1]
    if d > 2:
        return (torch.tensor(pca["origin"], dtype=torch.float64),
                torch.tensor(pca["axes"][:2], dtype=torch.float64))
    return torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64)


def square_box(points: torch.Tensor) -> list[float]:
    """[u0, u1, v0, v1]: the square the page first shows, centred on the points (N, 2), 1.1
    times their larger extent on a side (explorer.js's fitView)."""
    low, high = points.min(dim=0).values, points.max(dim=0).values
    centre, half = (low + high) / 2, 0.55 * (high - low).clamp_min(1e-3).max()
    return [(centre[0] - half).item(), (centre[0] + half).item(),
            (centre[1] - half).item(), (centre[1] + half).item()]


def cell_codes(box: list[float], origin: torch.Tensor, axes: torch.Tensor, cells: int
               ) -> torch.Tensor:
    """The codes at the centres of cells x cells squares of the box, row by row from the top
    (the highest v) and left to right. (cells * cells, d)"""
    u0, u1, v0, v1 = box
    centres = (torch.arange(cells, dtype=torch.float64) + 0.5) / cells
    u = u0 + centres * (u1 - u0)
    v = v1 - centres * (v1 - v0)
    vv, uu = torch.meshgrid(v, u, indexing="ij")  # (cells, cells): row r, column c
    return origin + uu.reshape(-1, 1) * axes[0] + vv.reshape(-1, 1) * axes[1]


@torch.inference_mode()
def confidence_shading(model: Autoencoder, data: ImageData, codes: torch.Tensor,
                       pca: dict[str, Any]) -> dict[str, Any]:
    """For each cell of the default plane's first view, whether the classifier calls the
    decoded image one class with p >= CONFIDENT (for a conditional model, once per class it
    is drawn as): {"plane", "box", "cells", "confident": base64 uint8 (classes or 1, cells,
    cells)}; or {"missing": why not}."""
    if model.latent_dims < 2:
        return {"missing": "with one latent dimension there is no plane to shade"}
    if not data.apart:
        what = "are all of one class" if data.labelled else "have no labels"
        return {"missing": f"the images {what}, so there is no classifier to shade by"}
    dataset = judge_key(data)
    judge = load_judge(dataset)
    these = f"the {dataset_images(data.name)} ({data.image_shape[2]} x {data.image_shape[1]})"
    if judge is None:
        # Say --image-size again where the run may have used it: a registered dataset known
        # by another key, or square images of a folder or file (as they are, it changes
        # nothing; images of other shapes cannot have been brought to N x N).
        height, width = data.image_shape[1:]
        again = (dataset != data.name if data.name in DATASETS else height == width)
        size = f" --image-size {width}" if again else ""
        return {"missing": f"no classifier of {these} ships with vaelab or was trained here; "
                           f"vaelab classifier train --dataset {quoted(data.name)}{size} "
                           f"(or vaelab eval of the run) makes one, shown once the page is "
                           f"made again"}
    if tuple(judge.model.image_shape) != tuple(model.image_shape):
        shape = "x".join(map(str, judge.model.image_shape))
        return {"missing": f"the classifier of {these} judges {shape} images, not these"}
    origin, axes = default_plane(codes, pca)
    box = square_box((codes.double() - origin) @ axes.T)
    z = cell_codes(box, origin, axes, CELLS).float()  # (CELLS * CELLS, d)
    labels = range(model.classes) if model.conditional else [None]
    confident = torch.stack([
        predict(judge.model, decode_all(model, z, label)).max(dim=1).values >= CONFIDENT
        for label in labels])  # (labels, CELLS * CELLS): rows from the top, left to right
    return {"plane": "pca" if codes.shape[1] > 2 else "dims", "box": box, "cells": CELLS,
            "threshold": CONFIDENT, "accuracy": judge.accuracy,
            "confident": b64(confident.to(torch.uint8).numpy(), "u1")}
