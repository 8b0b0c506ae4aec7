"""Working in the latent space: encoding a dataset, the plane to draw, the decoder over grids of
it, interpolation. Computes arrays; ``vaelab.pictures`` draws them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from vaelab.data import ImageData, to_unit
from vaelab.models import Autoencoder, leaves_modes, prepared_pixels

GRID = 21  # tiles along the longer side of the manifolds; odd, so 0 is a tile centre
LINE_ROWS = "class"  # the vertical axis of a latent line's codes: a row for each class


@leaves_modes
@torch.inference_mode()
@prepared_pixels()  # vaelab's own images
def encode_dataset(model: Autoencoder, images: torch.Tensor, labels: torch.Tensor | None = None,
                   batch_size: int = 2000) -> torch.Tensor:
    """Deterministic codes (posterior means for a VAE) of uint8 images, given their labels for
    a conditional model. (N, C, H, W) -> (N, d)"""
    model.eval()
    return torch.cat([model.embed(to_unit(images[i:i + batch_size]),
                                  None if labels is None else labels[i:i + batch_size])
                      for i in range(0, len(images), batch_size)])


@leaves_modes
@torch.inference_mode()
def decode_all(model: Autoencoder, z: torch.Tensor, label: int | None = None,
               batch_size: int = 2000) -> torch.Tensor:
    """Images in [0, 1] for codes z, in batches; a conditional model draws them all as class
    ``label``. (N, d) -> (N, C, H, W)"""
    model.eval()
    z = z.to(model.device)
    y = None if label is None else torch.full((len(z),), label, device=model.device)
    return torch.cat([model.decode(z[i:i + batch_size], None if y is None else y[i:i + batch_size])
                      for i in range(0, len(z), batch_size)])


def principal_axes(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The codes' mean, their principal axes (unit rows, the one of most variance first, each
    signed so that its largest component is positive: the figures and the explorer draw the
    same plane the same way round) and each axis' share of the variance.
    (N, d) -> (d,), (min(N, d), d), (min(N, d),)"""
    origin = codes.mean(dim=0)
    _, s, vh = torch.linalg.svd(codes - origin, full_matrices=False)
    vh = vh * vh[torch.arange(len(vh)), vh.abs().argmax(dim=1)].sign().unsqueeze(1)
    return origin, vh, s.square() / s.square().sum().clamp_min(1e-12)


@dataclass(frozen=True)
class LatentPlane:
    """The 2-D plane the figures draw: the latent plane itself when d = 2, the plane of the
    codes' first two principal components through their mean when d > 2, and for d = 1 the
    latent line, with a second axis that codes do not move along.

    A point (u, v) of the plane is the code origin + u * axes[0] + v * axes[1].
    """

    origin: torch.Tensor  # (d,)
    axes: torch.Tensor  # (2, d), orthonormal rows
    explained: tuple[float, float] | None  # share of the codes' variance along each axis (PCA)

    @classmethod
    def fit(cls, codes: torch.Tensor) -> LatentPlane:
        codes = codes.float().cpu()
        d = codes.shape[1]
        if d == 1:
            return cls(torch.zeros(1), torch.tensor([[1.0], [0.0]]), None)
        if d == 2:
            return cls(torch.zeros(2), torch.eye(2), None)
        origin, axes, share = principal_axes(codes)
        return cls(origin, axes[:2].contiguous(), (float(share[0]), float(share[1])))

    @property
    def is_pca(self) -> bool:
        return self.explained is not None

    @property
    def is_line(self) -> bool:
        return self.axes.shape[1] == 1

    def project(self, codes: torch.Tensor) -> torch.Tensor:
        """(N, d) -> (N, 2)"""
        return (codes.float().cpu() - self.origin) @ self.axes.T

    def lift(self, points: torch.Tensor) -> torch.Tensor:
        """(N, 2) -> (N, d)"""
        return self.origin + points.float() @ self.axes

    def axis_labels(self) -> tuple[str, str]:
        if self.is_line:
            return "$z$", LINE_ROWS
        if self.explained is None:
            return "$z_1$", "$z_2$"
        return tuple(f"PC {i + 1} ({share:.0%} of variance)"
                     for i, share in enumerate(self.explained))  # type: ignore[return-value]


def bounds(points: torch.Tensor, margin: float = 0.05) -> tuple[float, float, float, float]:
    """(u_min, u_max, v_min, v_max) around 2-D points (N, 2), widened by ``margin`` per side;
    by 1 along an axis where all points coincide."""
    lo, hi = points.min(dim=0).values, points.max(dim=0).values
    pad = torch.where(hi - lo > 1e-6, (hi - lo) * margin, torch.ones_like(lo))
    (u0, v0), (u1, v1) = (lo - pad).tolist(), (hi + pad).tolist()
    return u0, u1, v0, v1


def widened(box: tuple[float, float, float, float], least: float = 0.5
            ) -> tuple[float, float, float, float]:
    """``box`` (u_min, u_max, v_min, v_max) with its shorter side widened about its centre
    to at least ``least`` of the longer, so that codes spread along one direction (an
    undertrained or collapsed model's) are drawn in a window of readable tiles, not a strip."""
    u0, u1, v0, v1 = box
    side = least * max(u1 - u0, v1 - v0)
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    half_u, half_v = max(u1 - u0, side) / 2, max(v1 - v0, side) / 2
    return cu - half_u, cu + half_u, cv - half_v, cv + half_v


def grid_points(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The n x m points of the grid u x v, row by row from the top (v descending) so that the
    tiled images sit as on a plot: (len(v) * len(u), 2)."""
    vv, uu = torch.meshgrid(v.flip(0), u, indexing="ij")
    return torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=1)


def linear_grid(box: tuple[float, float, float, float], n: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Evenly spaced values along each side of the box, n along the longer side and as many
    along the other as keep the steps equal, so tiles drawn on the grid stay square."""
    u0, u1, v0, v1 = box
    width, height = u1 - u0, v1 - v0
    step = max(width, height) / (n - 1)
    n_u, n_v = (max(2, round(side / step) + 1) for side in (width, height))
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    half_u, half_v = step * (n_u - 1) / 2, step * (n_v - 1) / 2
    return (torch.linspace(cu - half_u, cu + half_u, n_u),
            torch.linspace(cv - half_v, cv + half_v, n_v))


def prior_quantiles(n: int, tail: float = 0.05) -> torch.Tensor:
    """n values of N(0, 1) at evenly spaced probabilities from ``tail`` to 1 - tail: equal
    prior mass between neighbours (Kingma & Welling 2014, figure 4)."""
    return torch.special.ndtri(torch.linspace(tail, 1 - tail, n, dtype=torch.float64)).float()


def tile(images: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """Images (rows * cols, C, H, W) -> one picture as matplotlib draws it: (rows * H, cols * W)
    for one channel, (rows * H, cols * W, C) for colour."""
    c, h, w = images.shape[1:]
    grid = images.reshape(rows, cols, c, h, w).permute(0, 3, 1, 4, 2)  # (rows, H, cols, W, C)
    picture = grid.reshape(rows * h, cols * w, c).cpu().numpy()
    return picture[..., 0] if c == 1 else picture


def untile(picture: np.ndarray, height: int, width: int) -> torch.Tensor:
    """The inverse of ``tile``: (rows * H, cols * W[, C]) -> (rows * cols, C, H, W)."""
    image = torch.from_numpy(np.asarray(picture))
    image = image.unsqueeze(-1) if image.dim() == 2 else image  # (rows * H, cols * W, C)
    rows, cols, c = image.shape[0] // height, image.shape[1] // width, image.shape[2]
    tiles = image.reshape(rows, height, cols, width, c).permute(0, 2, 4, 1, 3)
    return tiles.reshape(rows * cols, c, height, width)  # (rows, cols, C, H, W) flattened


def interpolate(z_from: torch.Tensor, z_to: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps`` codes on the line from z_from to z_to, both included. (d,) -> (steps, d)"""
    t = torch.linspace(0, 1, steps, device=z_from.device).unsqueeze(1)  # (steps, 1)
    return (1 - t) * z_from + t * z_to


# ---------------------------------------------------------------------------------------------
# The decoder over the plane.


@dataclass(frozen=True)
class Manifold:
    """Decoded images tiled on a grid over the latent plane.

    ``picture`` is (rows * H, cols * W); ``u`` and ``v`` are the grid's values along each axis,
    ``u`` left to right and ``v`` bottom to top (the picture's top row is the largest v).
    """

    picture: np.ndarray  # (rows * H, cols * W), or (rows * H, cols * W, C) in colour
    u: np.ndarray
    v: np.ndarray
    evenly_spaced: bool = True  # False for the prior-quantile grid

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) of the tiles, each centred on its grid point; a single
        row of tiles is as high as a tile is wide."""
        u, v = self.u, self.v
        du = (u[-1] - u[0]) / max(len(u) - 1, 1)
        dv = (v[-1] - v[0]) / (len(v) - 1) if len(v) > 1 else du
        return u[0] - du / 2, u[-1] + du / 2, v[0] - dv / 2, v[-1] + dv / 2


@dataclass(frozen=True)
class LatentPicture:
    """A model's test codes seen in its latent plane, ready to draw or compare."""

    plane: LatentPlane
    points: np.ndarray  # (N, 2) test codes in the plane
    labels: np.ndarray  # (N,)
    manifold: Manifold  # the decoder over the codes' region
    label: int | None = None  # the class a conditional model draws the manifolds as


def latent_picture(model: Autoencoder, data: ImageData, grid: int = GRID,
                   label: int = 0) -> LatentPicture:
    """The test codes (each given its own label, for a conditional model) in their plane, and
    the decoder over their region (``widened`` to at least half as high as wide, or as wide as
    high; as class ``label``, for a conditional model)."""
    label = label if model.conditional else None
    codes = encode_dataset(model, data.test_images, data.test_labels)  # (N, d)
    plane = LatentPlane.fit(codes)
    points = plane.project(codes)  # (N, 2)
    labels = data.test_labels.cpu()
    if plane.is_line:  # one latent dimension: a row of codes per class, one row of tiles
        jitter = torch.rand(len(points), generator=torch.Generator().manual_seed(0)) - 0.5
        points[:, 1] = labels + 0.6 * jitter
        u0, u1, _, _ = bounds(points)
        u, v = torch.linspace(u0, u1, grid), torch.zeros(1)
    else:
        u, v = linear_grid(widened(bounds(points)), grid)  # square tiles, ``grid`` the longer way
    return LatentPicture(plane, points.numpy(), labels.numpy(),
                         _manifold(model, plane, u, v, label), label)


def share_one_scale(models: Sequence[Autoencoder]) -> bool:
    """Whether the models' latent planes are one: each has the prior N(0, I) and two
    dimensions (more are seen on each model's own principal axes, one on a line)."""
    return all(model.has_prior and model.latent_dims == 2 for model in models)


def on_one_scale(models: Sequence[Autoencoder], pictures: Sequence[LatentPicture],
                 grid: int = GRID) -> list[LatentPicture] | None:
    """The pictures of models that ``share_one_scale``, each with its decoder drawn again
    over the region of all their codes, so that side by side a unit is as long in each and a
    code sits where it would in the others; None for other models."""
    if not share_one_scale(models):
        return None
    boxes = np.array([widened(bounds(torch.from_numpy(p.points))) for p in pictures])  # (R, 4)
    lo, hi = boxes.min(axis=0), boxes.max(axis=0)
    u, v = linear_grid(widened((float(lo[0]), float(hi[1]), float(lo[2]), float(hi[3]))), grid)
    return [replace(picture, manifold=_manifold(model, picture.plane, u, v, picture.label))
            for model, picture in zip(models, pictures, strict=True)]


def _manifold(model: Autoencoder, plane: LatentPlane, u: torch.Tensor, v: torch.Tensor,
              label: int | None, evenly_spaced: bool = True) -> Manifold:
    images = decode_all(model, plane.lift(grid_points(u, v)), label)  # (rows * cols, C, H, W)
    return Manifold(tile(images, len(v), len(u)), u.numpy(), v.numpy(), evenly_spaced)


GRID_CLASSES = 10  # a conditional model's grids are judged as at most this many classes


def judged_classes(classes: int) -> list[int]:
    """The classes a conditional model's grids are judged as: each, or GRID_CLASSES of them
    evenly spaced, so that a hundred classes do not cost a hundred grids."""
    if classes <= GRID_CLASSES:
        return list(range(classes))
    return sorted({round(i * (classes - 1) / (GRID_CLASSES - 1)) for i in range(GRID_CLASSES)})


def grids_of(model: Autoencoder, picture: LatentPicture, height: int, width: int
             ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The tiles (N, C, H, W) of the decoder over the codes' region and, for a model with a
    prior, at the prior's quantiles; of a conditional model, decoded as each of its
    ``judged_classes`` in turn, not the figures' one class."""
    labels = judged_classes(model.classes) if model.conditional else [None]
    u, v = (torch.from_numpy(values) for values in (picture.manifold.u, picture.manifold.v))
    codes = torch.cat([untile((picture.manifold if label == picture.label else  # decoded once
                               _manifold(model, picture.plane, u, v, label)).picture, height,
                              width) for label in labels])
    if not model.has_prior:
        return codes, None
    return codes, torch.cat([untile(prior_manifold(model, picture.plane, label).picture, height,
                                    width) for label in labels])


def prior_manifold(model: Autoencoder, plane: LatentPlane, label: int | None = None,
                   grid: int = GRID) -> Manifold:
    """The decoder at the prior's quantiles on the plane's axes through 0 (as class ``label``,
    for a conditional model)."""
    q = prior_quantiles(grid)
    rows = torch.zeros(1) if plane.is_line else q
    return _manifold(model, prior_plane(plane), q, rows, label, evenly_spaced=False)


def prior_plane(plane: LatentPlane) -> LatentPlane:
    """The same axes through the prior's mean, 0: along orthonormal axes the prior N(0, I)
    is still a standard normal, so its quantiles mean the same on the plane."""
    return LatentPlane(torch.zeros_like(plane.origin), plane.axes, plane.explained)
