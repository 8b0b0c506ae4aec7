"""How a step computes: its precision (autocast, fp16's gradient scaler), torch.compile, and on
a GPU where the training images live. The tests that need a GPU skip without one."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from safetensors.torch import load_file

from vaelab.cli import main
from vaelab.config import RunConfig
from vaelab.errors import ConfigError
from vaelab.training import placement
from vaelab.training.loop import resume, train

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _config(precision: str = "fp32", epochs: int = 2) -> RunConfig:
    return RunConfig.from_dict({"model": {"hidden_dims": [32]},
                                "data": {"train_subset": 256},
                                "train": {"epochs": epochs, "batch_size": 32,
                                          "precision": precision}})


def _weights(run) -> dict[str, torch.Tensor]:
    return load_file(run.path / "model.safetensors")


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_trains_on_the_cpu_and_is_saved_with_the_run(tiny, tmp_path, precision):
    run = train(_config(precision), tmp_path / "run", data=tiny, progress=False, device="cpu")
    losses = [m["train"]["loss"] for m in run.metrics]
    assert all(math.isfinite(loss) for loss in losses) and losses[1] < losses[0]
    assert RunConfig.load(run.path / "config.json").train.precision == precision
    full = train(_config("fp32"), tmp_path / "fp32", data=tiny, progress=False, device="cpu")
    assert losses[-1] == pytest.approx(full.metrics[-1]["train"]["loss"], rel=0.05)
    assert losses != [m["train"]["loss"] for m in full.metrics]  # autocast did round


def test_fp16_resumes_bitwise_with_its_gradient_scaler(tiny, tmp_path):
    whole = train(_config("fp16"), tmp_path / "whole", data=tiny, progress=False, device="cpu")
    half = train(_config("fp16", epochs=1), tmp_path / "half", data=tiny, progress=False,
                 device="cpu")
    done = resume(half.path, epochs=2, data=tiny, progress=False)
    for name, value in _weights(whole).items():
        assert torch.equal(value, _weights(done)[name]), name


def test_an_unknown_precision_is_one_line(capsys):
    with pytest.raises(ConfigError, match="unknown precision 'fp8'; choose one of: fp32, bf16"):
        RunConfig.from_dict({"train": {"precision": "fp8"}})
    assert main(["train", "--precision", "fp8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "vaelab: error: --precision 'fp8' is not one of: fp32, bf16, fp16"


@pytest.mark.slow
def test_a_compiled_step_trains_as_the_eager_one(tiny, tmp_path, caplog):
    eager = train(_config(epochs=1), tmp_path / "eager", data=tiny, progress=False)
    compiled = train(_config(epochs=1), tmp_path / "compiled", data=tiny, progress=False,
                     compile=True)
    for name, value in _weights(eager).items():
        torch.testing.assert_close(_weights(compiled)[name], value, rtol=1e-4, atol=1e-5)
    # Dynamo's note that DDP's profiler ranges are left out (every process's, under torchrun)
    # is not passed on; its other warnings are.
    dynamo = logging.getLogger("torch._dynamo.variables.ctx_manager")
    with caplog.at_level("WARNING", logger=dynamo.name):
        dynamo.warning("Profiler record function %s will be ignored", "record_function")
        dynamo.warning("Graph break")
    assert [r.getMessage() for r in caplog.records if r.name == dynamo.name] == ["Graph break"]


@CUDA
def test_images_in_pinned_host_memory_train_as_images_on_the_gpu(tiny, tmp_path, monkeypatch):
    resident = train(_config(), tmp_path / "resident", data=tiny, progress=False,
                     device="cuda")
    monkeypatch.setattr(placement, "ROOM", 0.0)  # no room on the GPU: pinned copies
    assert not placement.fits(1, torch.device("cuda"))
    copied = train(_config(), tmp_path / "copied", data=tiny, progress=False, device="cuda")
    for name, value in _weights(resident).items():
        assert torch.equal(value, _weights(copied)[name]), name


@CUDA
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_learns_on_the_gpu(tiny, tmp_path, precision):
    run = train(_config(precision, epochs=3), tmp_path / "run", data=tiny, progress=False,
                device="cuda")
    losses = [m["train"]["loss"] for m in run.metrics]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0]


def test_half_precision_on_a_cpu_is_told_that_it_pays_on_gpus(tiny, tmp_path, caplog):
    """Once, when the run starts: --resume keeps the run's precision, so it is not told again."""
    told = "precision bf16 on a CPU: most CPUs train slower in it than in fp32 (it pays on GPUs)"
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        train(_config("bf16", epochs=1), tmp_path / "run", data=tiny, progress=False,
              device="cpu")
    assert caplog.text.count(told) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vaelab"):
        resume(tmp_path / "run", 2, data=tiny, progress=False, device="cpu")
        train(_config("fp32", epochs=1), tmp_path / "fp32", data=tiny, progress=False,
              device="cpu")
    assert "precision" not in caplog.text
