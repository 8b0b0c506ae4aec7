"""Test log-likelihoods against the literature, and every eval metric for the tutorial's models.

Part 1, the IWAE paper's MNIST setting (Burda, Grosse & Salakhutdinov 2016, section 5): a VAE
with two deterministic layers of 200 tanh units on each side and 50 latent units, a Bernoulli
decoder, dynamically binarized MNIST, Adam. The paper trains 3,280 epochs (batch 20, learning
rate 1e-3 * 10^(-i/7) for 3^i epochs, i = 0..7) and reports a test NLL of 86.76 nats for that
VAE with k = 5000. Here: as many epochs as --epochs says, batch 100 and a constant 1e-3; the
NLL is measured along the way (k = 1000 on the first 2,000 test images), and at the end with
k = 5000 on the whole test set. A curve a + b * epochs^-c is fitted to the measurements and
its value at 3,280 epochs printed as what it is: an extrapolation.

Part 2, the tutorial's architecture (784-512-2, ReLU) for 20 epochs: AE, VAE with squared
error, VAE with a Bernoulli decoder on dynamically binarized images; all eval metrics side by
side (k = 1000, with the classifier if it is in the cache: vaelab classifier train).

Usage: python benchmarks/likelihood.py [--epochs 100] [--out benchmark-runs] [--part 1 2]
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import load_dataset, prepare
from vaelab.measuring.estimators import iwae_log_px_of
from vaelab.measuring.evaluation import evaluate_run
from vaelab.pictures.comparison import compare_runs
from vaelab.training.loop import resume, train, train_all

PAPER_NLL = 86.76  # IWAE paper, table 1: VAE with one stochastic layer, trained with k = 1


def iwae_setting(epochs: int) -> RunConfig:
    return RunConfig(
        ModelConfig(model="vae", latent_dims=50, hidden_dims=(200, 200), activation="tanh",
                    likelihood="bce"),
        DataConfig(binarize="dynamic"),
        TrainConfig(epochs=epochs, batch_size=100, lr=1e-3),
    )


def nll(run, images: torch.Tensor, k: int) -> tuple[float, float]:
    """Mean test NLL over images (uint8, binarized) and its standard error."""
    generator = torch.Generator().manual_seed(0)
    values = -iwae_log_px_of(run.model, images, None, k, generator)
    return values.mean().item(), values.std().item() / math.sqrt(len(values))


def fit_power_law(epochs: list[int], values: list[float]) -> tuple[float, float, float]:
    """a, b, c of a + b * epochs^-c by least squares: c on a grid, a and b exactly for each."""
    e = torch.tensor(epochs, dtype=torch.float64)
    y = torch.tensor(values, dtype=torch.float64)
    best = None
    for c in torch.linspace(0.02, 2.0, 199).tolist():
        design = torch.stack([torch.ones_like(e), e ** -c], dim=1)
        solution = torch.linalg.lstsq(design, y.unsqueeze(1)).solution.squeeze(1)
        error = (design @ solution - y).square().sum().item()
        if best is None or error < best[0]:
            best = (error, solution[0].item(), solution[1].item(), c)
    return best[1], best[2], best[3]


def part_one(epochs: int, out: Path) -> None:
    data = load_dataset("mnist")
    config = iwae_setting(1)
    test = prepare(data, "dynamic", config.data.binarize_seed).test_images
    stages = [e for e in (1, 3, 10, 30, 100, 300, 1000, 3280) if e < epochs] + [epochs]
    print(f"IWAE setting: 784-200-200-50 tanh, Bernoulli, dynamic binarization, batch 100, "
          f"Adam 1e-3, up to {epochs} epochs on {torch.get_num_threads()} CPU threads")
    print(f"{'epochs':>7} {'train s':>8} {'NLL k=1000, 2000 imgs':>22}")
    curve = []
    run, trained = None, 0.0
    for stage in stages:
        started = time.perf_counter()
        if run is None:
            run = train(iwae_setting(stage), out / "iwae", data=data, progress=False)
        else:
            run = resume(run.path, stage, data=data, progress=False)
        trained += time.perf_counter() - started
        value, error = nll(run, test[:2000], 1000)
        curve.append((stage, value))
        print(f"{stage:>7} {trained:>8.0f} {value:>15.2f} ± {error:.2f}", flush=True)
    started = time.perf_counter()
    final, error = nll(run, test, 5000)
    seconds = time.perf_counter() - started
    print(f"\nafter {epochs} epochs: test NLL {final:.2f} ± {error:.2f} nats "
          f"(k = 5000, all {len(test):,} test images, {seconds:.0f} s to evaluate)")
    print(f"the paper, after 3280 epochs: {PAPER_NLL} nats")
    if len(curve) >= 3:
        a, b, c = fit_power_law(*zip(*curve, strict=True))
        at = a + b * 3280 ** -c
        print(f"fit of the k=1000 curve: NLL ~ {a:.2f} + {b:.2f} * epochs^-{c:.2f}; at 3280 "
              f"epochs that gives {at:.2f} nats (an extrapolation from {epochs} epochs, with a "
              f"constant learning rate: read it as a rough guide only)")


def part_two(out: Path) -> None:
    data = load_dataset("mnist")
    shared = TrainConfig(epochs=20)
    configs = {
        "ae": RunConfig(ModelConfig(model="ae"), train=shared),
        "vae-sse": RunConfig(ModelConfig(model="vae"), train=shared),
        "vae-bce": RunConfig(ModelConfig(model="vae", likelihood="bce"),
                             DataConfig(binarize="dynamic"), shared),
    }
    started = time.perf_counter()
    runs = train_all(list(configs.values()), [out / name for name in configs], data=data,
                     progress=False)
    print(f"\ntutorial architecture, 20 epochs each, trained side by side in "
          f"{time.perf_counter() - started:.0f} s")
    for run in runs:
        started = time.perf_counter()
        evaluate_run(run, data, progress=False)
        print(f"evaluated {run.path} in {time.perf_counter() - started:.0f} s", flush=True)
    comparison, folder = compare_runs(runs, out / "compare", data=data, progress=False)
    print()
    print(comparison.markdown())
    print(f"(table, CSV and figure in {folder})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs of the IWAE setting")
    parser.add_argument("--out", type=Path, default=Path("benchmark-runs"),
                        help="new folder for the runs")
    parser.add_argument("--part", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    args = parser.parse_args()
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if 1 in args.part:
        part_one(args.epochs, args.out)
    if 2 in args.part:
        part_two(args.out)


if __name__ == "__main__":
    main()
