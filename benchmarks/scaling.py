"""How vaelab scales with processes on this machine: training and the likelihood of vaelab eval,
in one process and in several started by torchrun, measured in the same run.

Each configuration is the real command line, ``vaelab train`` (or ``torchrun --nproc-per-node
N -m vaelab train``), in rounds that take every configuration in turn, so that a machine that
slows down shifts every row alike. Training's images per second are the training set's size
over an epoch's training time as metrics.jsonl records it (the first epoch, which warms up, is
left out; the median of the rest); the likelihood's are the test images over the seconds that
eval.json gives the bound. Every process has one thread, as torchrun gives it; one process with
as many threads as the others have processes is there too, the other way to use the cores.

Usage: python benchmarks/scaling.py [--processes 1 2] [--train-subset 20000] [--epochs 4]
                                    [--k 100] [--rounds 2] [--model vae] [--arch mlp]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import at_least


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(processes: int, args: list[str]) -> list[str]:
    if processes == 1:
        return [sys.executable, "-m", "vaelab", *args]
    return [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={processes}",
            "--master-addr=127.0.0.1", f"--master-port={_free_port()}", "-m", "vaelab", *args]


def run(processes: int, threads: int, args: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command(processes, args), env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command(processes, args))}\n{done.stderr[-2000:]}")


def train_rate(folder: Path, processes: int, threads: int, train: list[str]) -> float:
    """Training images per second of one run: the median over its epochs after the first."""
    run(processes, threads, ["train", *train, "--out", str(folder), "--no-plots", "--quiet",
                             "--checkpoint-every", "epoch"])
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    images = json.loads((folder / "config.json").read_text())["data"]["train_subset"]
    return images / statistics.median(r["train_seconds"] for r in records[1:])


def eval_rate(folder: Path, processes: int, threads: int, k: int) -> float:
    """Test images per second of the importance-weighted bound with k samples."""
    run(processes, threads, ["eval", str(folder), "-k", str(k), "--quiet"])
    card = json.loads((folder / "eval.json").read_text())
    return card["images"] / card["seconds"]["likelihood"]


def table(title: str, rates: dict[str, list[float]], unit: str) -> str:
    base = statistics.median(next(iter(rates.values())))
    lines = [f"\n{title}\n", f"| {'':34} | {unit:>10} | {'vs 1 process':>12} |",
             f"|{'-' * 36}|{'-' * 11}:|{'-' * 13}:|"]
    for name, values in rates.items():
        rate = statistics.median(values)
        lines.append(f"| {name:34} | {rate:10,.0f} | {rate / base:12.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=at_least(1), nargs="+", default=[1, 2],
                        help="processes of each setup; one process is always measured, as "
                             "the others' base")
    parser.add_argument("--train-subset", type=int, default=20_000)
    parser.add_argument("--epochs", type=at_least(2), default=4,
                        help="epochs of each run (2 or more: the first, which warms up, is "
                             "left out)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--rounds", type=at_least(1), default=2)
    parser.add_argument("--model", default="vae")
    parser.add_argument("--arch", default="mlp")
    args = parser.parse_args()
    train = ["--model", args.model, "--arch", args.arch, "--train-subset",
             str(args.train_subset), "--epochs", str(args.epochs), "--batch-size",
             str(args.batch_size)]
    processes = sorted({1, *args.processes})  # the first row, "vs 1 process"
    most = max(processes)
    setups = [(f"{p} process{'es' if p > 1 else ''}, 1 thread each" if p > 1
               else "1 process, 1 thread", p, 1) for p in processes]
    if most > 1:
        setups.insert(1, (f"1 process, {most} threads", 1, most))
    training: dict[str, list[float]] = {name: [] for name, _, _ in setups}
    likelihood: dict[str, list[float]] = {name: [] for name, _, _ in setups}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for i, (name, processes, threads) in enumerate(setups):
                folder = Path(tmp) / f"{round_}-{i}"
                training[name].append(train_rate(folder, processes, threads, train))
                likelihood[name].append(eval_rate(folder, processes, threads, args.k))
    print(f"{args.model.upper()} ({args.arch}), {args.train_subset:,} MNIST training images, "
          f"batch {args.batch_size} (the global batch), median of {args.rounds} round"
          f"{'s' * (args.rounds != 1)}; "
          f"{os.cpu_count()} CPU cores")
    print(table("Training (images/s over an epoch, after the first)", training, "images/s"))
    print(table(f"vaelab eval's NLL, k = {args.k}, 10,000 test images", likelihood, "images/s"))


if __name__ == "__main__":
    main()
