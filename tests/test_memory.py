"""vaelab.memory: glibc's heap is told to map large blocks and to hand free pages back (the
first demo's peak memory, measured by benchmarks/demo_time.py, depends on it)."""

import platform

import pytest

from vaelab import memory
from vaelab.cli import main

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="only glibc has mallopt and malloc_trim")
def test_on_glibc_both_take_effect():
    assert memory.map_large_blocks()
    assert isinstance(memory.hand_back_free_memory(), bool)


def test_without_glibc_both_do_nothing(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.map_large_blocks() is False
    assert memory.hand_back_free_memory() is False


def test_every_command_maps_large_blocks(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("vaelab.cli.map_large_blocks", lambda: calls.append(True))
    assert main(["plot", str(tmp_path / "none")]) == 2  # even one that ends in an error
    assert calls == [True]
