"""Shared fixtures: tiny synthetic data for fast tests, and the real MNIST files when present."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from vaelab.data import DATASETS, ImageData

# CI sets VAELAB_FUZZ=fixed: the same examples every run (a new draw finding a fault there would
# fail a change that did not cause it); elsewhere a new draw each run, its failures kept.
settings.register_profile("fixed", derandomize=True, database=None)
if os.environ.get("VAELAB_FUZZ") == "fixed":
    settings.load_profile("fixed")

REPO = Path(__file__).resolve().parents[1]


def _real_data_root() -> Path | None:
    for root in (os.environ.get("VAELAB_DATA"), REPO.parent / "shared" / "datasets"):
        if root and all((Path(root) / "mnist" / name).exists()
                        for name in DATASETS["mnist"].file_names):
            return Path(root)
    return None


REAL_DATA = _real_data_root()  # read before any test changes the environment


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder that holds mnist/ with the four original files (skips the test if absent)."""
    if REAL_DATA is None:
        pytest.skip("the MNIST files are not here; set VAELAB_DATA to a folder holding mnist/")
    return REAL_DATA


@pytest.fixture(scope="session")
def mnist(data_root: Path) -> ImageData:
    from vaelab.data import load_dataset

    return load_dataset("mnist", data_root, download=False)


def synthetic_digits(n_train: int = 512, n_test: int = 128, seed: int = 0) -> ImageData:
    """MNIST-shaped images of ten classes: class c is a bright bar at a place of its own, with
    noise, so that models have something to learn and classes something to separate."""
    g = torch.Generator().manual_seed(seed)

    def make(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 10, (n,), generator=g)
        images = torch.rand(n, 1, 28, 28, generator=g) * 40
        for i, c in enumerate(labels.tolist()):
            row, col = 3 + 2 * c, 4 + (c % 5) * 4
            images[i, 0, row:row + 4, col:col + 9] += 200
        return images.clamp(0, 255).to(torch.uint8), labels

    classes = DATASETS["mnist"].classes
    return ImageData("mnist", classes, *make(n_train), *make(n_test))


@pytest.fixture
def command_line_voice() -> Iterator[None]:
    """Messages name options as the command line spells them, as inside a command."""
    from vaelab.errors import spoken_on_the_command_line

    before = spoken_on_the_command_line(True)
    try:
        yield
    finally:
        spoken_on_the_command_line(before)


@pytest.fixture(scope="session")
def tiny() -> ImageData:
    return synthetic_digits()


def mnist_folder(data: ImageData, root: Path) -> Path:
    """``data`` written as root/mnist/ in MNIST's four IDX files, for a vaelab process started
    with VAELAB_DATA=root; returns root."""
    from vaelab.data import write_idx

    folder = root / "mnist"
    folder.mkdir(parents=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", data.train_images[:, 0])
    write_idx(folder / "train-labels-idx1-ubyte.gz", data.train_labels)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", data.test_images[:, 0])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", data.test_labels)
    return root


def run_cli(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    """``vaelab ARGS`` in this process: (exit status, stdout, stderr)."""
    from vaelab.cli import main

    try:
        code = main(args)
    except SystemExit as exit_:  # --help and parse errors leave through argparse
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def browser():
    """Chromium, headless, for the while of a module (see test_explore_page.launched)."""
    from test_explore_page import launched

    yield from launched()


@pytest.fixture
def visit(browser):
    """Opens pages in ``browser`` and checks what they logged and asked for."""
    from test_explore_page import visits

    yield from visits(browser)


def patch_loss_terms(monkeypatch: pytest.MonkeyPatch, replacement) -> None:
    """Training steps take their terms from ``replacement`` instead of
    ``vaelab.objectives.loss_terms``: every step goes through autograd, as the written-out
    backward (``vaelab.training.lean``) computes its terms itself."""
    monkeypatch.setattr("vaelab.training.step.loss_terms", replacement)
    monkeypatch.setattr("vaelab.training.lean.covers", lambda *args: False)


@pytest.fixture(autouse=True)
def _vaelab_logger_kept():
    """A command run in this process (run_cli) points the "vaelab" logger at stderr alone,
    as the command line does: the next test gets it back as it was, for caplog to see."""
    log = logging.getLogger("vaelab")
    kept = log.handlers[:], log.propagate, log.level
    yield
    log.handlers[:], log.propagate, log.level = kept


@pytest.fixture(autouse=True)
def _threads_kept():
    """A test that changes PyTorch's thread count gives it back: results of float sums, and
    so of seeded trainings, depend on it."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _hermetic_data(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no $VAELAB_DATA and an empty user cache of their own; those that need the
    real files ask for ``data_root`` and pass it on."""
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.delenv("VAELAB_MIRROR", raising=False)  # the published mirrors, as given
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setattr("vaelab.data.sources.cache_root", lambda: cache)
