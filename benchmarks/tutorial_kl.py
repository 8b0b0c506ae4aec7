"""What the tutorial's KL line does to a VAE, measured.

The tutorial's code computes sigma^2 + mu^2 - log(sigma) - 1/2 per latent dimension where the
closed form is (sigma^2 + mu^2)/2 - log(sigma) - 1/2. Up to 0.5 * log 2 per dimension, its line
is the KL to N(0, I/2) instead of N(0, I) (docs/theory.md derives this). So the prediction is
that codes trained with it fill a region half as wide in variance: E[mu^2 + sigma^2] per
dimension near 1/2 instead of near 1, while samples are still drawn from N(0, I).

This trains the tutorial's VAE twice, identical but for the KL line (side by side, same seed),
and prints per-image test figures and the latent spread; with --figure, it draws both latent
spaces with the prior's 1- and 2-sigma circles into that file.

Usage: python benchmarks/tutorial_kl.py [--epochs 20] [--out runs/tutorial-kl]
       [--figure docs/figures/tutorial_kl.png] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from timing import run_main
from vaelab.config import RunConfig, TrainConfig
from vaelab.data import load_dataset, to_unit
from vaelab.distributions import DiagonalGaussian
from vaelab.objectives import sse, tutorial_kl
from vaelab.pictures import plots
from vaelab.pictures.saving import save_figure
from vaelab.training.loop import train_all
from vaelab.training.runs import Run


@torch.inference_mode()
def measure(run: Run, images: torch.Tensor) -> dict[str, float]:
    """Per-image test figures of a trained VAE, each KL in both forms, and the spread."""
    images = images.to(run.model.device)
    q: DiagonalGaussian = run.model.encode(to_unit(images))
    z = q.rsample(torch.Generator(images.device).manual_seed(0))
    recon = sse(run.model.decode_params(z), to_unit(images)).mean().item()
    second_moment = (q.mean.square() + q.var).mean(dim=0)  # (d,): E[mu^2 + sigma^2]
    radius95 = q.mean.norm(dim=1).quantile(0.95)  # 95% of the codes lie within this radius
    prior = torch.randn(100_000, q.mean.shape[1], generator=torch.Generator().manual_seed(1),
                        device=images.device)
    return {
        "reconstruction (SSE)": recon,
        "KL, closed form": q.kl().mean().item(),
        "KL, tutorial's line": tutorial_kl(q).mean().item(),
        "-ELBO (SSE + closed-form KL)": recon + q.kl().mean().item(),
        "std of posterior means": q.mean.std(dim=0).mean().item(),
        "mean posterior std": q.std.mean().item(),
        "E[mu^2 + sigma^2] per dimension": second_moment.mean().item(),
        "radius holding 95% of the codes": radius95.item(),
        "prior draws beyond that radius": (prior.norm(dim=1) > radius95).float().mean().item(),
    }


def figure(runs: list[Run], images: torch.Tensor, labels: np.ndarray, classes) -> Figure:
    with plots.style():
        fig = Figure(figsize=(11, 5.2), layout="constrained")
        axes = fig.subplots(1, 2)
        for ax, run in zip(axes, runs, strict=True):
            with torch.inference_mode():
                means = run.model.embed(to_unit(images.to(run.model.device))).cpu().numpy()
            plots.draw_scatter(ax, means, labels, classes, legend=ax is axes[1])
            for radius, style in ((1, "-"), (2, "--")):
                ax.add_patch(Circle((0, 0), radius, fill=False, color="black", lw=1, ls=style))
            ax.set_xlim(-4, 4)
            ax.set_ylim(-4, 4)
            ax.set_aspect("equal", adjustable="box")
            name = {"closed-form": "closed-form KL", "tutorial": "the tutorial's KL line"}
            ax.set_title(f"VAE trained with {name[run.config.train.kl]}")
        fig.suptitle("Test posterior means; circles: 1 and 2 standard deviations of the prior "
                     "N(0, I) that samples are drawn from")
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("runs/tutorial-kl"))
    parser.add_argument("--figure", type=Path, default=None)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    data = load_dataset("mnist", args.data_dir, progress=False)
    configs = [RunConfig(train=TrainConfig(epochs=args.epochs, kl=kl))
               for kl in ("closed-form", "tutorial")]
    runs = train_all(configs, [args.out / c.train.kl for c in configs], data=data,
                     progress=False)
    rows = [measure(run, data.test_images) for run in runs]

    print(f"\nThe tutorial's VAE on MNIST, {args.epochs} epochs, seed 0; per test image:\n")
    print(f"| {'':33} | {'closed-form KL':>14} | {'tutorial KL':>11} |")
    print(f"|{'-' * 35}|{'-' * 15}:|{'-' * 12}:|")
    for key in rows[0]:
        print(f"| {key:33} | {rows[0][key]:14.3f} | {rows[1][key]:11.3f} |")
    print(f"\nPrediction for the tutorial's line: E[mu^2 + sigma^2] -> 1/2, and its KL exceeds "
          f"the KL to N(0, I/2) by 0.5 * log 2 * d = {math.log(2):.3f} for d = 2.")
    if args.figure is not None:
        save_figure(figure(runs, data.test_images, data.test_labels.numpy(), data.classes),
                    args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    run_main(main)
