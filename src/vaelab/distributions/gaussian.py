"""The diagonal Gaussian posterior q(z|x) = N(mean, diag(exp(logvar))) of a VAE's encoder."""

from __future__ import annotations

import math
import numbers

import torch

from vaelab.errors import VaelabError

# exp(-30) ~ 1e-13 and exp(20) ~ 5e8: wide enough for any trained model, narrow enough that
# exp(logvar) and its gradient stay finite in float32 and float16.
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0
LOG_2PI = math.log(2 * math.pi)


def draw_count(n: object, what: str = "draws") -> int:
    """``n`` draws (samples, codes), a whole number from 1, or an error in one line."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise VaelabError(f"n must be a whole number of {what} from 1, got {n!r}")
    return int(n)


def check_generator(generator: object) -> None:
    """Refuse, in one line, a generator that is not a torch.Generator (a seed, say)."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise VaelabError(f"generator must be a torch.Generator (torch.Generator()"
                          f".manual_seed({generator!r}), say), got {generator!r}")


class DiagonalGaussian:
    """A batch of independent Gaussians over R^d, parameterised by mean and log-variance.

    ``mean`` and ``logvar`` have shape (B, d); the log-variance is clamped to a safe range so
    that ``std`` never overflows or underflows.
    """

    def __init__(self, mean: torch.Tensor, logvar: torch.Tensor) -> None:
        if mean.shape != logvar.shape:  # else wrong later, in kl() or a draw
            raise VaelabError(f"DiagonalGaussian: mean and logvar are of one shape, not "
                              f"{tuple(mean.shape)} and {tuple(logvar.shape)}")
        self.mean = mean
        self.logvar = logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    @property
    def var(self) -> torch.Tensor:
        return torch.exp(self.logvar)

    def rsample(self, generator: torch.Generator | None = None, *, n: int | None = None
                ) -> torch.Tensor:
        """z = mean + std * eps with eps ~ N(0, I): differentiable in mean and logvar
        (the reparameterisation trick, Kingma & Welling 2014, section 2.4). (B, d), or with
        ``n``, n draws of each image's code: (n, B, d)."""
        check_generator(generator)
        shape = self.mean.shape if n is None else (draw_count(n), *self.mean.shape)
        eps = torch.randn(shape, generator=generator, device=self.mean.device,
                          dtype=self.mean.dtype)
        return self.mean + self.std * eps

    @torch.no_grad()
    def sample(self, generator: torch.Generator | None = None, *, n: int | None = None
               ) -> torch.Tensor:
        """A draw of z, as ``rsample`` draws it, outside autograd (as torch.distributions
        names the two). (B, d), or (n, B, d)"""
        return self.rsample(generator, n=n)

    def mode(self) -> torch.Tensor:
        """The most likely code, the mean. (B, d)"""
        return self.mean

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) in closed form, summed over the d dimensions. (B, d) -> (B,)

        Per dimension: 0.5 * (var + mean^2 - 1 - logvar); Kingma & Welling 2014, appendix B.
        """
        return 0.5 * (self.var + self.mean.square() - 1.0 - self.logvar).sum(dim=-1)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z|x) summed over dimensions; z is (..., B, d), the result (..., B)."""
        if not isinstance(z, torch.Tensor) or z.shape[-2:] != self.mean.shape:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise VaelabError(f"z must be a tensor of shape (..., {self.mean.shape[0]}, "
                              f"{self.mean.shape[1]}) (draws of this batch's codes), got {got}")
        return -0.5 * ((z - self.mean).square() / self.var + self.logvar + LOG_2PI).sum(dim=-1)

    def __repr__(self) -> str:
        return f"DiagonalGaussian(batch={self.mean.shape[0]}, dims={self.mean.shape[-1]})"

