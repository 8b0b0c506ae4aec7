"""vaelab.memory: glibc's heap is told to map large blocks and to hand free pages back (the
first demo's peak memory, measured by benchmarks/demo_time.py, depends on it)."""

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from vaelab import memory
from vaelab.cli import main

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
HWM = Path("/proc/self/status").exists()
PEAK = ("def peak():  # KiB: the process's own resident peak since it started\n"
        "    with open('/proc/self/status') as status:\n"
        "        hwm = next(line for line in status if line.startswith('VmHWM'))\n"
        "    return int(hwm.split()[1])\n")


@pytest.mark.skipif(not GLIBC, reason="only glibc has mallopt and malloc_trim")
def test_on_glibc_both_take_effect():
    assert memory.map_large_blocks()
    blocks = [bytearray(100_000) for _ in range(300)]  # 30 MB of heap blocks, under 2 MB each
    del blocks
    assert memory.hand_back_free_memory() is True  # their pages went back


def test_without_glibc_both_do_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.map_large_blocks() is False
    assert memory.hand_back_free_memory() is False


def test_every_command_maps_large_blocks(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("vaelab.memory.map_large_blocks", lambda: calls.append(True))
    assert main(["plot", str(tmp_path / "none")]) == 2  # even one that ends in an error
    assert calls == [True]


@pytest.mark.skipif(not GLIBC, reason="only glibc has mallopt")
def test_a_training_step_does_not_fault_its_blocks_in_again(tmp_path):
    """The blocks a step frees stay in the heap for the next step, in a thread of its own as
    train_all's runs train: with glibc's trim threshold left at 128 kB beside the fixed mmap
    threshold, a step of the tutorial's VAE took 257 page faults (its gradients handed back
    and zeroed again), 76 with 4 MB kept; now it takes 6.5."""
    script = tmp_path / "steps.py"
    script.write_text(
        "import resource, threading, torch\n"
        "from vaelab import memory\n"
        "from vaelab.config import ModelConfig, RunConfig, TrainConfig\n"
        "from vaelab.training.epoch import train_epoch\n"
        "from vaelab.training.jobs import initial_state\n"
        "torch.set_num_threads(1)\n"
        "assert memory.map_large_blocks()\n"
        "config = RunConfig(ModelConfig(model='vae'), train=TrainConfig(epochs=1))\n"
        "model, optimizer, generator = initial_state(config, torch.device('cpu'))\n"
        "images = torch.randint(0, 256, (128 * 60, 1, 28, 28), dtype=torch.uint8)\n"
        "faults = []\n"
        "def train():\n"
        "    train_epoch(model, optimizer, images[:128 * 10], config.train, generator)\n"
        "    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt\n"
        "    train_epoch(model, optimizer, images, config.train, generator)\n"
        "    faults.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)\n"
        "side = threading.Thread(target=train)\n"
        "side.start()\n"
        "side.join()\n"
        "print(faults[0] / 60)\n")
    assert _last_number(script) < 25  # page faults per step


def test_rows_per_block_keeps_a_pass_under_the_mmap_threshold():
    assert memory.rows_per_block((1, 28, 28), 2000) == 668  # 668 MNIST images of floats
    assert 668 * 4 * 784 <= memory.MMAP_THRESHOLD < 669 * 4 * 784
    assert memory.rows_per_block((60_000,), most=50) == 8  # distances to 60,000 codes
    assert memory.rows_per_block((2,), 2000) == 2000  # at most `most`
    assert memory.rows_per_block((3, 2048, 2048), 2000) == 1  # at least one


@pytest.mark.skipif(not HWM, reason="the kernel's peak of a process's own memory is Linux's")
def test_binarizing_a_training_set_holds_a_batch_of_floats_not_all_of_them(tmp_path):
    """binarize() of MNIST's 60,000 images: the uint8 draws (47 MB) and one batch of floats at
    a time, not every batch's floats and their concatenation (556 MB more at its peak)."""
    script = tmp_path / "draw.py"
    script.write_text(
        "import torch\n"
        "from vaelab.data.images import binarize\n"
        f"{PEAK}"
        "images = torch.randint(0, 256, (60_000, 1, 28, 28), dtype=torch.uint8)\n"
        "torch.bernoulli(torch.rand(10), generator=torch.Generator())\n"
        "before = peak()\n"
        "drawn = binarize(images, seed=0)\n"
        "print((peak() - before) / 1024)\n")
    assert _last_number(script) < 300  # MB more at the peak


@pytest.mark.skipif(not HWM, reason="the kernel's peak of a process's own memory is Linux's")
def test_the_peak_that_a_memory_test_reads_is_its_own_process_s_not_its_parents(tmp_path):
    """A process started by a large one (pytest, in the whole suite, holds gigabytes) counts
    the parent's resident memory in its maximum resident set (ru_maxrss), so that a growth
    under that size read as 0 MB; VmHWM counts the process's own pages alone."""
    script = tmp_path / "grow.py"
    script.write_text(
        f"{PEAK}"
        "before = peak()\n"
        "grown = bytearray(200 * 1024 * 1024)\n"
        "grown[::4096] = b'x' * len(grown[::4096])  # every page touched\n"
        "print((peak() - before) / 1024)\n")
    held = bytearray(400 * 1024 * 1024)  # this process larger than the script's growth
    held[::4096] = b"x" * len(held[::4096])
    assert 190 < _last_number(script) < 260


def _last_number(script) -> float:
    """The last number that a script, run in a fresh process, prints."""
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          check=True)
    return float(done.stdout.split()[-1])
