"""Timing shared by the benchmarks."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from vaelab.errors import VaelabError


def at_least(least: int) -> Callable[[str], int]:
    """An argparse type: a whole number of ``least`` or more, refused in argparse's own words
    otherwise (a median of no timings is no figure)."""
    def whole(text: str) -> int:
        value = int(text)
        if value < least:
            raise argparse.ArgumentTypeError(f"{text} is below {least}")
        return value

    whole.__name__ = "int"  # argparse's words for a value that is none: "invalid int value"
    return whole


def run_main(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``; an error of vaelab's (data not found, say) ends it in that
    one line, as vaelab's commands end, not in a traceback."""
    try:
        main()
    except VaelabError as err:
        sys.exit(f"{Path(sys.argv[0]).stem}: {err}")


def time_round_robin(runs: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median seconds of each run over ``repeats`` rounds, after one round to warm up. Each
    round calls every run once, so that a machine that slows down or speeds up in the
    middle of the benchmark shifts every row alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine(device: torch.device | None = None) -> str:
    """What the figures were measured on, for a benchmark's first line: the CPU's model name
    (Linux's /proc/cpuinfo, else the platform's word for it), the cores this process may use,
    a CUDA ``device``'s name, and PyTorch's version."""
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = (f", {torch.cuda.get_device_name(device)}"
           if device is not None and device.type == "cuda" else "")
    return f"{name}, {cores} cores{gpu}, PyTorch {torch.__version__}"
