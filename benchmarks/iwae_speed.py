"""Speed of the importance-weighted NLL estimate, against the matrix products it must do.

For each architecture, the rows time in this one process, one after another (round robin, so
a noisy machine shifts every row alike):

  vaelab IWAE     vaelab.measuring.estimators.iwae_log_px_of, as vaelab eval calls it, over
                  binarized images with k samples each:
                  encoder, k x images codes through the decoder in chunks, Bernoulli
                  log-likelihood, prior and posterior log-densities, logsumexp
  matmul floor    the decoder's matrix products for the same number of codes, in the same
                  chunks, and nothing else: what any implementation must do at least

and print images x k per second and the ratio of the two (the target is at least 0.6).

Usage: python benchmarks/iwae_speed.py [--k 1000] [--images 64] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from collections.abc import Callable

import torch

from timing import machine, time_round_robin
from vaelab.config import ModelConfig, RunConfig
from vaelab.measuring.estimators import CHUNK, iwae_log_px_of
from vaelab.models import build_model

ARCHITECTURES = {
    "tutorial VAE (784-512-2, ReLU)": ModelConfig(latent_dims=2, hidden_dims=(512,)),
    "IWAE paper (784-200-200-50, tanh)": ModelConfig(latent_dims=50, hidden_dims=(200, 200),
                                                     activation="tanh"),
}


def iwae_run(config: RunConfig, x: torch.Tensor, k: int) -> Callable[[], None]:
    torch.manual_seed(0)
    model = build_model(config.model, (1, 28, 28)).eval()

    def run() -> None:  # as vaelab eval does it
        iwae_log_px_of(model, x, None, k, torch.Generator().manual_seed(0))

    return run


def floor_run(config: RunConfig, n_images: int, k: int) -> Callable[[], None]:
    """The decoder's GEMMs (with bias, as addmm) for n_images x k codes, CHUNK rows at once,
    each layer writing into an output made once."""
    sizes = [config.model.latent_dims, *reversed(config.model.hidden_dims), 784]
    weights = [(torch.randn(n_out, n_in) / n_in**0.5, torch.zeros(n_out))
               for n_in, n_out in itertools.pairwise(sizes)]
    outputs = [torch.empty(CHUNK, n_out) for n_out in sizes[1:]]
    codes = torch.randn(CHUNK, sizes[0])
    passes, rest = divmod(n_images * k, CHUNK)

    @torch.inference_mode()
    def run() -> None:
        for rows in [CHUNK] * passes + ([rest] if rest else []):
            h = codes[:rows]
            for (weight, bias), out in zip(weights, outputs, strict=True):
                h = torch.addmm(bias, h, weight.T, out=out[:rows])

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=1000, help="importance samples per image")
    parser.add_argument("--images", type=int, default=64, help="images per timed round")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x = torch.bernoulli(torch.rand(args.images, 1, 28, 28, generator=torch.Generator()
                                   .manual_seed(0)))
    print(f"{machine()}\nk = {args.k}, {args.images} images per round, chunk {CHUNK} codes, "
          f"{torch.get_num_threads()} threads\n")
    print(f"{'architecture':36} {'row':14} {'images x k / s':>15} {'ratio to floor':>15}"
          f"  (target: 0.6 or more)")
    for name, model_config in ARCHITECTURES.items():
        config = RunConfig(model=dataclasses.replace(model_config, likelihood="bce"))
        seconds = time_round_robin({"vaelab IWAE": iwae_run(config, x, args.k),
                                    "matmul floor": floor_run(config, args.images, args.k)},
                                   args.repeats)
        floor = seconds["matmul floor"]
        for row, s in seconds.items():
            rate = args.images * args.k / s
            print(f"{name:36} {row:14} {rate:15,.0f} {floor / s:15.2f}")


if __name__ == "__main__":
    main()
