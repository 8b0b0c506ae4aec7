"""Test log-likelihoods against the literature, and every eval metric for the tutorial's models.

Part 1, the IWAE paper's MNIST setting (Burda, Grosse & Salakhutdinov 2016, section 5): a VAE
with two deterministic layers of 200 tanh units on each side and 50 latent units, a Bernoulli
decoder, dynamically binarized MNIST, Adam. The paper trains 3,280 epochs (batch 20, learning
rate 1e-3 * 10^(-i/7) for 3^i epochs, i = 0..7) and reports a test NLL of 86.76 nats for that
VAE with k = 5000, and 84.78 for the same model trained with the IWAE objective at k = 50
(85.54 at k = 5; the ELBO averaged over 5 and 50 draws gives 86.47 and 86.35). Here: as many
epochs as --epochs says, the paper's schedule (--schedule iwae, the default) or a constant
rate, batch --batch-size (100 by default: 20 is the paper's, and slower on a CPU), Adam's ε
--adam-eps (PyTorch's 1e-8 by default; 1e-4 is the paper's), the decoder's output bias at the
start --output-bias (PyTorch's draw by default; the paper's code starts it at the logit of the
training images' mean: data-mean), the ELBO or the IWAE objective (--objective iwae), with
--k-train posterior draws per image (default 1 for the ELBO, 5 for IWAE). The NLL is measured
(k = 1000 on the first 2,000 test images) at the end of each stage, or after the epochs that
--at names, and always after the last epoch; then, at the end, with
k = 5000 on the whole test set (kept in the run's final.json, and printed from there when the
command is run again). Short of 3,280 epochs, a curve a + b * epochs^-c is fitted to the
measurements and its value at 3,280 epochs printed as what it is: an extrapolation.

Part 2, the tutorial's architecture (784-512-2, ReLU) for 20 epochs: AE, VAE with squared
error, VAE with a Bernoulli decoder on dynamically binarized images; all eval metrics side by
side (k = 1000, with the classifier if it is in the cache: vaelab classifier train).

Usage: python benchmarks/likelihood.py [--epochs 3280] [--objective elbo|iwae] [--k-train K]
       [--schedule iwae|constant] [--batch-size 100] [--adam-eps 1e-8]
       [--output-bias default|data-mean] [--at EPOCHS ...]
       [--out benchmark-runs] [--part 1 2]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from timing import run_main
from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import load_dataset, prepare
from vaelab.measuring.estimators import iwae_log_px_of
from vaelab.measuring.evaluation import evaluate_run
from vaelab.pictures.comparison import compare_runs
from vaelab.training.loop import resume, train, train_all
from vaelab.training.runs import load_run, read_metrics
from vaelab.training.stopping import Interrupted

# IWAE paper, table 1, one stochastic layer, NLL at k = 5000: the model trained on the ELBO
# (its "VAE", the ELBO averaged over k draws) at k = 1, 5 and 50, and on the IWAE bound at
# k = 5 and 50 (its k = 1 is the ELBO).
PAPER_NLL = {("elbo", 1): 86.76, ("elbo", 5): 86.47, ("elbo", 50): 86.35,
             ("iwae", 5): 85.54, ("iwae", 50): 84.78}


def iwae_setting(epochs: int, objective: str = "elbo", k: int | None = None,
                 schedule: str = "iwae",
                 batch_size: int = 100, adam_eps: float = 1e-8, output_bias: str = "default"
                 ) -> RunConfig:
    return RunConfig(
        ModelConfig(model="vae", latent_dims=50, hidden_dims=(200, 200), activation="tanh",
                    likelihood="bce"),
        DataConfig(binarize="dynamic"),
        TrainConfig(epochs=epochs, batch_size=batch_size, lr=1e-3, adam_eps=adam_eps,
                    objective=objective, k=k, lr_schedule=schedule, output_bias=output_bias),
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


STAGE_ENDS = (1, 4, 13, 40, 121, 364, 1093, 3280)  # of the paper's 3^i epochs, i = 0..7


def part_one(epochs: int, out: Path, at: list[int] | None = None, **settings: object) -> None:
    data = load_dataset("mnist")
    config = iwae_setting(1, **settings)
    test = prepare(data, "dynamic", config.data.binarize_seed).test_images
    stages = sorted({e for e in (at or STAGE_ENDS) if 0 < e < epochs} | {epochs})
    train_config = config.train
    k_train = train_config.draws
    print(f"IWAE setting: 784-200-200-50 tanh, Bernoulli, dynamic binarization, batch "
          f"{train_config.batch_size}, Adam 1e-3 ({train_config.lr_schedule} schedule, "
          f"ε {train_config.adam_eps:g}), output bias {train_config.output_bias}, "
          f"{train_config.objective} objective (k = {k_train}), up to {epochs} epochs on "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'epochs':>7} {'train s':>8} {'NLL k=1000, 2000 imgs':>22}")
    curve = []
    run, trained = None, 0.0
    # The first runs used batch 100 and Adam's default ε; other settings name their folder.
    folder = out / (f"iwae-setting-{train_config.objective}-k{k_train}"
                    + (f"-b{train_config.batch_size}" if train_config.batch_size != 100 else "")
                    + (f"-eps{train_config.adam_eps:g}" if train_config.adam_eps != 1e-8 else "")
                    + ("-mean-bias" if train_config.output_bias == "data-mean" else ""))
    measured = folder / "stages.jsonl"  # one line per stage: its NLL, and the training seconds
    if (folder / "checkpoint.safetensors").exists():  # a run stopped earlier goes on from there
        run = load_run(folder)
        done = read_metrics(folder)[-1]["epoch"]
        earlier = [json.loads(line) for line in measured.read_text().splitlines()] \
            if measured.exists() else []
        for row in earlier:
            curve.append((row["epochs"], row["nll"]))
            trained = row["train_s"]
            print(f"{row['epochs']:>7} {row['train_s']:>8.0f} {row['nll']:>15.2f} ± "
                  f"{row['se']:.2f}")
        print(f"({folder} has all its {done} epochs)" if done >= epochs else
              f"(going on from epoch {done} of {folder})")
        # A stop between a stage's last epoch and its measurement loses nothing: the stage the
        # run ended on is measured again (the same draws, so the same figure).
        stages = [stage for stage in stages if stage >= done and stage not in dict(curve)]
        trained += sum(row["train_seconds"] for row in read_metrics(folder)
                       if row["epoch"] > (earlier[-1]["epochs"] if earlier else 0))
    for stage in stages:
        started = time.perf_counter()
        if run is not None and run.epochs_done == stage:
            pass  # trained already, measured below
        elif run is None:
            run = train(iwae_setting(stage, **settings), folder, data=data, progress=False)
        else:
            run = resume(run.path, stage, data=data, progress=False)
        trained += time.perf_counter() - started
        value, error = nll(run, test[:2000], 1000)
        curve.append((stage, value))
        print(f"{stage:>7} {trained:>8.0f} {value:>15.2f} ± {error:.2f}", flush=True)
        with measured.open("a") as log:
            log.write(json.dumps({"epochs": stage, "train_s": round(trained, 1), "nll": value,
                                  "se": error}) + "\n")
    result = folder / "final.json"  # the k = 5000 figure on the whole test set, once measured
    kept = json.loads(result.read_text()) if result.exists() else None
    if kept is not None and kept["epochs"] == run.epochs_done:
        final, error, seconds = kept["nll"], kept["se"], kept["eval_s"]
    else:
        started = time.perf_counter()
        final, error = nll(run, test, 5000)
        seconds = time.perf_counter() - started
        result.write_text(json.dumps({"epochs": run.epochs_done, "k": 5000, "images": len(test),
                                      "nll": final, "se": error,
                                      "eval_s": round(seconds, 1)}) + "\n")
    print(f"\nafter {epochs} epochs: test NLL {final:.2f} ± {error:.2f} nats "
          f"(k = 5000, all {len(test):,} test images, {seconds:.0f} s to evaluate)")
    paper = PAPER_NLL.get((train_config.objective, k_train))
    if paper is not None:
        print(f"the paper, after 3280 epochs: {paper} nats")
    if len(curve) >= 3 and epochs < 3280:  # after the schedule, the figure above is measured
        a, b, c = fit_power_law(*zip(*curve, strict=True))
        at = a + b * 3280 ** -c
        print(f"fit of the k=1000 curve: NLL ~ {a:.2f} + {b:.2f} * epochs^-{c:.2f}; at 3280 "
              f"epochs that gives {at:.2f} nats (an extrapolation from {epochs} epochs: read it "
              f"as a rough guide only)")


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
    parser.add_argument("--epochs", type=int, default=3280, help="epochs of the IWAE setting")
    parser.add_argument("--objective", choices=["elbo", "iwae"], default="elbo")
    parser.add_argument("--k-train", type=int, default=None,
                        help="posterior draws per image in training (default: 1 for the ELBO, "
                             "5 for IWAE)")
    parser.add_argument("--schedule", choices=["iwae", "constant"], default="iwae")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--adam-eps", type=float, default=1e-8, help="Adam's ε (paper: 1e-4)")
    parser.add_argument("--output-bias", choices=["default", "data-mean"], default="default",
                        help="the decoder's output bias at the start (paper's code: data-mean)")
    parser.add_argument("--at", type=int, nargs="+", default=None, metavar="EPOCHS",
                        help="epochs after which to measure the NLL (default: the ends of the "
                             "paper's stages below --epochs: 1, 4, 13, 40, ...); the last epoch "
                             "is always measured")
    parser.add_argument("--out", type=Path, default=Path("benchmark-runs"),
                        help="folder for the runs: a run of these settings found there goes "
                             "on from its checkpoint")
    parser.add_argument("--part", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    args = parser.parse_args()
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads\n")
    try:
        if 1 in args.part:
            part_one(args.epochs, args.out, args.at, objective=args.objective, k=args.k_train,
                     schedule=args.schedule, batch_size=args.batch_size,
                     adam_eps=args.adam_eps, output_bias=args.output_bias)
        if 2 in args.part:
            part_two(args.out)
    except Interrupted as stopped:  # Ctrl-C or SIGTERM: the run kept a checkpoint
        print(f"stopped ({stopped}); the same command goes on from the last checkpoint",
              flush=True)
        raise SystemExit(stopped.code) from None


if __name__ == "__main__":
    run_main(main)
