"""Every model of the family on MNIST and Fashion-MNIST, at latent sizes 2 and 16, with one
epoch budget, measured as vaelab eval measures a run; prints a table and writes it (Markdown
and CSV) with every run folder.

    python benchmarks/models.py                         # the table in docs/results.md
    python benchmarks/models.py --epochs 2 --k 20 --datasets mnist --latents 2   # a quick look

All models share the tutorial's layer sizes (784-512-d; conv: two stride-2 convolutions of 32
and 64 channels, then 512) and the discretised logistic likelihood, so that every NLL is in
bits per dimension of the 8-bit images and comparable across models and datasets. Runs are
trained two at a time, one CPU core each.
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import torch

from timing import run_main
from vaelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from vaelab.data import load_dataset
from vaelab.measuring.classifier import load_judge, train_judge
from vaelab.measuring.evaluation import evaluate_run
from vaelab.measuring.scorecard import load_scorecard
from vaelab.pictures.figures import write_run_figures
from vaelab.training.loop import train_all
from vaelab.training.runs import load_run

LIKELIHOOD = "logistic"

# name -> (model settings, training settings), the rest as the tutorial's
FAMILY = {
    "AE": (dict(model="ae"), {}),
    "denoising AE (mask 0.5)": (dict(model="ae"), dict(noise="mask:0.5")),
    "VAE": (dict(model="vae"), {}),
    "β-VAE (β = 4)": (dict(model="vae"), dict(beta=4.0)),
    "VAE, IWAE objective (k = 5)": (dict(model="vae"), dict(objective="iwae", k=5)),
    "VAE, ELBO of 5 draws (k = 5)": (dict(model="vae"), dict(k=5)),
    "CVAE": (dict(model="cvae"), {}),
    "conv VAE": (dict(model="vae", arch="conv"), {}),
}

COLUMNS = [  # (header, eval.json key, digits)
    ("−ELBO (nats)", "neg_elbo", 1),
    ("recon (nats)", "recon", 1),
    ("KL (nats)", "kl", 2),
    ("NLL (bits/dim)", "bits_per_dim", 4),
    ("active units", "active_units", 0),
    ("linear probe", "linear_probe", 3),
    ("samples: Fréchet", "sample_frechet", 1),
    ("samples: class asked", "sample_asked", 3),
]


def configs(dataset: str, latent_dims: int, epochs: int, names: list[str]
            ) -> dict[str, RunConfig]:
    out = {}
    for name in names:
        model, train = FAMILY[name]
        out[name] = RunConfig(ModelConfig(latent_dims=latent_dims, likelihood=LIKELIHOOD, **model),
                              DataConfig(dataset=dataset), TrainConfig(epochs=epochs, **train))
    return out


def cell(card, key: str, digits: int) -> str:
    score = card.metrics.get(key)
    if score is None or score.value is None:
        return "—"
    return f"{score.value:.{digits}f}"


def slug(name: str) -> str:
    """The row's folder name: 'β-VAE (β = 4)' -> 'beta-vae-beta-4'."""
    name = name.lower().replace("β", "beta")
    return "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in name).split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--k", type=int, default=200, help="importance samples for the NLL")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist"])
    parser.add_argument("--latents", nargs="+", type=int, default=[2, 16])
    parser.add_argument("--models", nargs="+", default=list(FAMILY), choices=list(FAMILY))
    parser.add_argument("--out", type=Path, default=Path("benchmark-runs/models"))
    parser.add_argument("--figures", action="store_true", help="draw every run's figures too")
    parser.add_argument("--from-runs", action="store_true",
                        help="only write the table again, from the runs already under --out")
    args = parser.parse_args()
    rows = []
    if args.from_runs:  # the table again, from run folders trained and measured before
        for dataset in args.datasets:
            for latent_dims in args.latents:
                for name in args.models:
                    folder = args.out / dataset / f"d{latent_dims}" / slug(name)
                    card = load_scorecard(folder) if (folder / "config.json").exists() else None
                    if card is not None:
                        rows.append(row_for(dataset, latent_dims, name, load_run(folder), card))
        if not rows:
            raise SystemExit(f"no measured runs under {args.out}")
        write_tables(rows, args.out)
        return
    print(f"{args.epochs} epochs each, NLL with k = {args.k} on the whole test set, "
          f"{torch.get_num_threads()} threads, PyTorch {torch.__version__}")
    for dataset in args.datasets:
        data = load_dataset(dataset, progress=False)
        judge = load_judge(dataset) or train_judge(data, progress=False)
        print(f"\n{dataset}: classifier test accuracy {judge.accuracy:.4f}")
        for latent_dims in args.latents:
            named = configs(dataset, latent_dims, args.epochs, args.models)
            folders = [args.out / dataset / f"d{latent_dims}" / slug(name) for name in named]
            runs = []
            items = list(zip(named.items(), folders, strict=True))
            for i in range(0, len(items), 2):  # two at a time, one core each
                pair = items[i:i + 2]
                runs += train_all([config for (_, config), _ in pair],
                                  [folder for _, folder in pair], data=data, progress=False)
            for (name, _), run in zip(named.items(), runs, strict=True):
                card = evaluate_run(run, data, k=args.k if run.model.has_posterior else None,
                                    judge=judge, progress=False)
                rows.append(row_for(dataset, latent_dims, name, run, card))
                print("  " + "  ".join(f"{v}" for v in rows[-1].values()), flush=True)
                if args.figures:
                    write_run_figures(run, data)
    write_tables(rows, args.out)


def row_for(dataset: str, latent_dims: int, name: str, run, card) -> dict[str, object]:
    """A table row. Training seconds are the median epoch's times the epochs, which a pause
    of the machine in one epoch does not move; evaluation seconds are those the scorecard
    records."""
    epochs = [m["train_seconds"] for m in run.metrics]
    return {"dataset": dataset, "d": latent_dims, "model": name,
            **{header: cell(card, key, digits) for header, key, digits in COLUMNS},
            "train s": f"{statistics.median(epochs) * len(epochs):.0f}",
            "eval s": f"{sum(card.seconds.values()):.0f}"}


def write_tables(rows: list[dict[str, object]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(row[h]) for h in headers) + " |" for row in rows]
    (out / "models.md").write_text("\n".join(lines) + "\n")
    with open(out / "models.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=headers)
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n{len(rows)} runs; tables in {out / 'models.md'} and {out / 'models.csv'}")
    print("\n".join(lines))


if __name__ == "__main__":
    run_main(main)
