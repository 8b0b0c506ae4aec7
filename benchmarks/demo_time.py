"""The first `vaelab demo` a new user runs: its seconds, part by part, and its peak memory,
against the matrix-product floor of the 40 epochs it trains (the AE and the VAE, 20 each),
measured in the same run.

    python benchmarks/demo_time.py                 # one first demo, as a new user meets it
    python benchmarks/demo_time.py --repeats 3     # three, each with an empty user cache

Each demo runs as its own process (`python -m vaelab demo -q`) with an empty user cache (a
fresh XDG_CACHE_HOME), the way it runs on a machine that never ran vaelab; the data come from
VAELAB_DATA. Its peak memory is the process's maximum resident set, as the kernel counts it
(for the demo alone: a small process starts it, not this one, whose own memory would count).
The floor is the time of each training step's eleven matrix products at the step's shapes
and nothing else (benchmarks/train_speed.py), times 60,000 images, times 40 epochs. It is
timed before each demo and after the last, and their median is taken: on shared cores it
moves between runs (57 to 87 s within two hours on one machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from timing import at_least, machine, time_round_robin
from train_speed import matmul_floor

EPOCHS = 40  # the demo's two models, 20 epochs each
TARGET_RATIO = 1.5
TARGET_MB = 600


# Started from this process, which holds PyTorch and the floor's tensors, the demo would count
# this process's resident memory at its start in its own maximum (the kernel carries it over
# through fork and exec): so a small process starts it, and reports the demo's alone.
LAUNCHER = """
import json, os, sys, time
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
json.dump({"wall": time.perf_counter() - started, "status": os.waitstatus_to_exitcode(status),
           "peak_kb": usage.ru_maxrss}, open(sys.argv[1], "w"))
"""


def first_demo(folder: Path) -> tuple[float, float, dict[str, float]]:
    """Wall seconds, peak resident MB and the demo's own timings.json of one first demo."""
    env = dict(os.environ, XDG_CACHE_HOME=str(folder / "cache"))
    report = folder / "launched.json"
    subprocess.run([sys.executable, "-c", LAUNCHER, str(report),
                    "-m", "vaelab", "demo", "-q", "-o", str(folder / "demo")], env=env, check=True)
    launched = json.loads(report.read_text())
    if launched["status"] != 0:
        sys.exit(f"demo_time: the demo failed (exit {launched['status']})")
    parts = json.loads((folder / "demo" / "timings.json").read_text())
    return launched["wall"], launched["peak_kb"] / 1024, parts  # ru_maxrss: KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=at_least(1), default=1, help="first demos to run")
    parser.add_argument("--keep", type=Path, default=None,
                        help="move the last demo's folder here instead of deleting it")
    args = parser.parse_args()
    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        print("(an address-space limit is set; the demo may fail under it)")

    demos, floors = [], []
    floor_epoch = matmul_floor(60_000)
    for _ in range(args.repeats):  # the floor before each demo and after the last: it moves
        floors.append(time_round_robin({"floor": floor_epoch}, repeats=3)["floor"])
        with tempfile.TemporaryDirectory() as tmp:
            demos.append(first_demo(Path(tmp)))
            if args.keep is not None:
                shutil.rmtree(args.keep, ignore_errors=True)
                shutil.move(Path(tmp) / "demo", args.keep)
    floors.append(time_round_robin({"floor": floor_epoch}, repeats=3)["floor"])
    floor_epoch = statistics.median(floors)
    floor = floor_epoch * EPOCHS

    wall = statistics.median(d[0] for d in demos)
    peak = max(d[1] for d in demos)
    print(f"{machine()}\nThe first vaelab demo (20 epochs each of the tutorial's AE and VAE "
          f"on MNIST, figures, evaluation, page), {torch.get_num_threads()} threads, "
          f"{args.repeats} run(s) with an empty user cache\n")
    print("| part       | seconds | share |")
    print("|------------|--------:|------:|")
    parts = {name: statistics.median(d[2].get(name, 0.0) for d in demos) for name in demos[0][2]}
    inside = sum(parts.values())
    for name, seconds in parts.items():
        print(f"| {name:<10} | {seconds:>7.1f} | {seconds / wall:>5.0%} |")
    print(f"| {'start-up':<10} | {wall - inside:>7.1f} | {(wall - inside) / wall:>5.0%} |")
    print(f"| {'whole demo':<10} | {wall:>7.1f} |  100% |")
    print(f"\nmatmul floor of its {EPOCHS} epochs: {floor:.1f} s ({floor_epoch:.2f} s an epoch, "
          f"the median of {len(floors)} timings before, between and after the demos: "
          f"{min(floors) * EPOCHS:.1f} to {max(floors) * EPOCHS:.1f} s)")
    training = parts.get("training", 0.0)
    print(f"the demo takes {wall / floor:.2f}x the floor (target: at most {TARGET_RATIO}x, "
          f"{TARGET_RATIO * floor:.0f} s here); its training alone {training / floor:.2f}x, "
          f"the rest {wall - training:.1f} s")
    print(f"peak memory: {peak:.0f} MB (target: at most {TARGET_MB} MB)")
    if len(demos) > 1:
        walls = ", ".join(f"{d[0]:.1f}" for d in demos)
        peaks = ", ".join(f"{d[1]:.0f}" for d in demos)
        print(f"each demo: {walls} s; {peaks} MB")


if __name__ == "__main__":
    main()
