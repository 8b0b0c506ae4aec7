"""The model interface, and the plain autoencoder that defines it: a point per image.

Every model maps images (B, C, H, W) with pixels in [0, 1] to codes (B, d) and back, and says
what it can do through three capabilities instead of its type: ``has_posterior`` (``encode``
returns a distribution q(z|x)), ``has_prior`` (``sample`` draws from p(z)) and ``conditional``
(encoder and decoder take the class label y as well). Models only compute; the objective lives
in ``vaelab.objectives``, the loop in ``vaelab.training``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
from collections.abc import Iterator
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from vaelab.config import ModelConfig
from vaelab.data import pixel_bound, to_unit
from vaelab.distributions import DiagonalGaussian, build_likelihood, check_generator, draw_count
from vaelab.errors import VaelabError, named
from vaelab.nets import build_nets

DRAW_BLOCK = 2000  # prior draws at once (vaelab eval judges samples 2,000 at a time)
_PREPARED = contextvars.ContextVar("vaelab_prepared_pixels", default=False)


@contextlib.contextmanager
def prepared_pixels() -> Iterator[None]:
    """Within it (or in a function it decorates), the models take float pixels unchecked:
    they come from vaelab's own data (uint8 made floats, binarized or corrupted draws), in
    [0, 1] as made, and a check would cost each batch a reduction and, on a GPU, a wait."""
    token = _PREPARED.set(True)
    try:
        yield
    finally:
        _PREPARED.reset(token)


class Autoencoder(nn.Module):
    """The tutorial's AE: encoder -> code z -> decoder -> the likelihood's parameters of each
    pixel; the likelihood turns them into the image drawn (a sigmoid, for the tutorial's) and
    scores reconstructions.

    ``encode`` returns the code itself: each image is mapped to one point.
    """

    has_posterior: ClassVar[bool] = False
    has_prior: ClassVar[bool] = False
    conditional: ClassVar[bool] = False

    def __init__(self, config: ModelConfig, image_shape: tuple[int, int, int],
                 classes: int = 0) -> None:
        super().__init__()
        if self.conditional and classes < 2:
            raise VaelabError(f"a {config.model.upper()} is conditioned on class labels, and "
                              f"this data has none; choose --model vae")
        shape = tuple(image_shape)
        if len(shape) != 3 or not all(isinstance(n, numbers.Integral) and n > 0 for n in shape):
            raise VaelabError(f"image_shape must be (C, H, W), three whole numbers from 1, got "
                              f"{image_shape!r}; a grey 28 x 28 image is (1, 28, 28)")
        self.config = config
        self.image_shape = tuple(map(int, shape))
        self.classes = classes if self.conditional else 0
        self.encoder, self.decoder = build_nets(config, self.image_shape,
                                                self._encoder_outputs(), side=self.classes)
        self.likelihood = build_likelihood(config.likelihood, self.image_shape)

    def _encoder_outputs(self) -> int:
        return self.config.latent_dims

    @property
    def latent_dims(self) -> int:
        return self.config.latent_dims

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def side(self, y: torch.Tensor | None) -> torch.Tensor | None:
        """What the nets take beside the image or the code: a conditional model's labels as
        one-hot rows (B, K), from class numbers (B,) or given as rows already (a mix of
        classes, say); nothing for the others, whose labels are ignored."""
        if not self.conditional:
            return None
        if y is None:
            raise VaelabError("this model is conditioned on class labels; pass y")
        y = self.labels(y)
        dtype = self.encoder.head[0].weight.dtype
        if y.dtype == torch.bool:  # True and False would be read as classes 1 and 0
            raise VaelabError(f"y must hold {self.labels_asked}, not booleans")
        if y.dim() == 2 and y.shape[1] == self.classes:
            near = max(1e-3, torch.finfo(y.dtype).eps) if y.is_floating_point() else 0.5
            rows = (y >= 0).all(dim=1) & ((y.sum(dim=1, dtype=torch.float64) - 1).abs() < near)
            if not bool(rows.all()):  # NaN fails both
                bad = int((~rows).nonzero()[0])
                shown = ", ".join(f"{v:g}" for v in y[bad, :5].tolist())
                raise VaelabError(f"y's rows must be one-hot, or a mix of classes (no value "
                                  f"below 0, each row adding up to 1); row {bad} is [{shown}"
                                  f"{', ...' if self.classes > 5 else ''}]")
            return y.to(self.device, dtype)
        if y.dim() != 1:
            raise VaelabError(f"y must hold {self.labels_asked}, got shape {tuple(y.shape)}")
        if y.is_floating_point() and not bool((y == y.round()).all()):
            shown = ", ".join(f"{v:g}" for v in y[:5].tolist())
            raise VaelabError(f"y must hold whole class numbers, got [{shown}]")
        try:  # on the caller's device (the CPU's checks the numbers), then the model's
            return F.one_hot(y.long(), self.classes).to(self.device, dtype)
        except RuntimeError:  # a class number out of range: one_hot has checked them (on CPU)
            raise self.out_of_range(y) from None

    @property
    def labels_asked(self) -> str:
        return f"one class number per image (B,) or one-hot rows (B, {self.classes})"

    def labels(self, y: torch.Tensor | object) -> torch.Tensor:
        """``y`` as a tensor (a list or an array from a user; training passes tensors), or an
        error in one line."""
        if isinstance(y, torch.Tensor):
            return y
        try:
            return torch.as_tensor(y, device=self.device)
        except (TypeError, ValueError, RuntimeError):
            raise VaelabError(f"y must hold {self.labels_asked}, got {y!r}") from None

    def one_for_all(self, y: torch.Tensor, n: int) -> torch.Tensor:
        """``y`` as it is, or one class number (0-d) given for all as n of them, checked here
        to be a whole class number: on a GPU one_hot would not check it, and its device-side
        assert ends the process."""
        if y.dim() != 0:
            return y
        if (y.is_floating_point() and y != y.round()) or not 0 <= y.item() < self.classes:
            raise VaelabError(f"y must be a class number from 0 to {self.classes - 1}, got "
                              f"{y.item():g}")
        return y.to(torch.long).expand(n)

    def out_of_range(self, y: torch.Tensor) -> VaelabError:
        """The error for class numbers ``y`` of which some are not classes of this model."""
        return VaelabError(f"class numbers go from 0 to {self.classes - 1}, got "
                           f"{y.min().item()} to {y.max().item()}")

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None
               ) -> torch.Tensor | DiagonalGaussian:
        """Images (B, C, H, W), pixels in [0, 1] or uint8 -> codes (B, d)."""
        return self.encoded(x, y)

    def encoded(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's output for images ``x`` (checked, and made float pixels). Outside
        training, float pixels are checked to lie in [0, 1]: images of 0 to 255 as floats
        would be encoded without a word, each code far from any the model has seen."""
        x = self.given(x, self.image_shape, "images")
        if x.is_floating_point() and not self.training and len(x) and not _PREPARED.get():
            low, high = torch.aminmax(x)
            if not (low >= 0 and high <= 1):  # NaN too, which aminmax gives as both
                held = ("hold NaN" if low.isnan() else
                        f"are floats from {pixel_bound(low.item())} to "
                        f"{pixel_bound(high.item())}")
                raise VaelabError(f"images {held}; give floats in [0, 1] or uint8 pixels (0 to "
                                  f"255)")
        if x.dtype == torch.uint8:  # made float32 pixels, then the weights' precision, which
            x = to_unit(x).to(next(self.parameters()).dtype)  # given() gave the floats
        return self.encoder(x, self.given_side(y, len(x)))

    def given(self, t: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
        """``t`` (a tensor, or an array or list made one) as the nets take it: (B, *shape),
        at the weights' precision (uint8 images as they are); else an error in one line that
        names the shape, or the integers that images cannot be. About a microsecond for
        float32 or uint8, as training gives them."""
        if not isinstance(t, torch.Tensor):
            try:
                t = torch.as_tensor(t, device=self.device)
            except (TypeError, ValueError, RuntimeError):  # a Pillow image, say
                raise VaelabError(f"{what} cannot be read as a tensor ({type(t).__name__}); "
                                  f"give a tensor, NumPy array or list, such as "
                                  f"torch.from_numpy(np.asarray(image))[None, None] for one "
                                  f"grey Pillow image") from None
        elif t.device != self.device:  # a CPU tensor for a model on a GPU, say
            t = t.to(self.device)
        if t.dim() != 1 + len(shape) or tuple(t.shape[1:]) != shape:
            asked = ", ".join(["B", *map(str, shape)])
            raise VaelabError(f"{what} must have the shape ({asked}) for this model, got "
                              f"{tuple(t.shape)}")
        dtype = next(self.parameters()).dtype
        if t.dtype == dtype or (t.dtype == torch.uint8 and what == "images"):
            return t  # as training gives them
        if not t.is_floating_point() and what == "images":  # 0 to 255? 0 to 65535?
            raise VaelabError(f"images must be uint8 pixels (0 to 255) or floats in [0, 1], "
                              f"got {t.dtype}")
        return t.to(dtype)  # float64 arrays, whole-number codes, a float64 model's: 6 us

    @staticmethod
    def how_many(n: int) -> int:
        """``n`` samples, a whole number from 1, or an error in one line."""
        return draw_count(n, "samples")

    def prior_draws(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """n codes from N(0, I), (n, d) at the weights' precision and on their device. They
        are drawn in blocks of DRAW_BLOCK, each of one size, and the first n kept: PyTorch
        draws n at once in an order of its own for each n, so that 7 draws would not be the
        first 7 of 16 from the same generator state; these are, on any device."""
        check_generator(generator)
        weight, n = next(self.parameters()), self.how_many(n)
        blocks = [torch.randn(DRAW_BLOCK, self.latent_dims, generator=generator,
                              device=weight.device, dtype=weight.dtype)
                  for _ in range(math.ceil(n / DRAW_BLOCK))]
        return torch.cat(blocks)[:n]

    def given_side(self, y: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        """``side(y)``, checked to hold a label for each of ``batch`` images or codes (one
        class number, as a CVAE's sample takes it too, for all)."""
        if self.conditional and y is not None:
            y = self.one_for_all(self.labels(y), batch)
        side = self.side(y)
        if side is not None and len(side) != batch:
            raise VaelabError(f"y holds {len(side)} labels for {batch} images or codes; give "
                              f"one per image")
        return side

    def embed(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The deterministic code of each image: the code itself here. (B, C, H, W) -> (B, d)"""
        return self.encode(x, y)

    def decode_params(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Codes (B, d) -> the parameters of p(x|z) for every pixel (B, C, H, W): logits, or
        locations for the likelihoods that take them as they are."""
        z = self.given(z, (self.latent_dims,), "codes")
        return self.decoder(z, self.given_side(y, len(z)))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Codes (B, d) -> images (B, C, H, W) with pixels in [0, 1]."""
        return self.likelihood.mean(self.decode_params(z, y))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """decode(embed(x)): (B, C, H, W) -> (B, C, H, W)."""
        return self.decode(self.embed(x, y), y)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``model(x)`` is ``model.reconstruct(x)``, for tools that call a module (a summary, a
        hook); training computes its objective from encode and decode_params instead."""
        return self.reconstruct(x, y)

    def sample(self, n: int, generator: torch.Generator | None = None,
               y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode n draws from the prior, (n, C, H, W) images: a model with a prior (VAE,
        CVAE) does; an AE has none and refuses."""
        raise VaelabError(f"an AE has no prior to sample from; train a VAE "
                          f"({named('--model vae', 'model=' + repr('vae'))}) for that")
