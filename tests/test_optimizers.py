"""vaelab's Adam and L-BFGS (vaelab.optimizers) leave torch._dynamo unloaded, and compute and
save as PyTorch's own: a CPU run trains, checkpoints, resumes and is measured without
importing it (0.8 s and 70 MB), and where it is loaded their methods are PyTorch's."""

from __future__ import annotations

import subprocess
import sys

import torch

from vaelab import optimizers
from vaelab.training import lean

TRAINED_WITHOUT_DYNAMO = """
import sys
import torch
import vaelab
from vaelab.config import ModelConfig, RunConfig, TrainConfig

g = torch.Generator().manual_seed(0)
def images(n):
    return torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
def labels(n):
    return torch.arange(n) % 10
data = vaelab.ImageData("mnist", tuple("0123456789"), images(300), labels(300),
                        images(100), labels(100))
config = RunConfig(model=ModelConfig(model="vae"), train=TrainConfig(epochs=1, batch_size=64))
run = vaelab.train(config, sys.argv[1], data=data, progress=False, device="cpu")
run = vaelab.resume(run, epochs=2, data=data, progress=False)
card = vaelab.evaluate_run(run, data, k=2, samples=20, judge=None, progress=False)
print(sorted(name for name in sys.modules if name.startswith(("torch._dynamo", "sympy"))))
"""


def test_a_cpu_run_trains_resumes_and_is_measured_without_importing_dynamo(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(TRAINED_WITHOUT_DYNAMO)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "[]"


def _pair() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    torch.manual_seed(0)
    ours = [torch.randn(7, 5, requires_grad=True), torch.randn(5, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    return ours, theirs


def test_adam_steps_and_saves_as_torch_s_adam():
    """The first step making the state (lean.adam_step), the later ones, and the state saved
    and loaded again: the same numbers and the same saved form as torch.optim.Adam's."""
    ours, theirs = _pair()
    mine = optimizers.Adam(ours, lr=1e-2, eps=1e-6, fused=True)
    torch_s = torch.optim.Adam(theirs, lr=1e-2, eps=1e-6, fused=True)
    for _ in range(3):
        for a, b in zip(ours, theirs, strict=True):
            a.grad = torch.randn(a.shape)
            b.grad = a.grad.clone()
        lean.adam_step(mine)
        torch_s.step()
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    saved, expected = mine.state_dict(), torch_s.state_dict()
    assert saved["param_groups"] == expected["param_groups"]
    for index, state in expected["state"].items():
        assert saved["state"][index].keys() == state.keys()
        for name, value in state.items():
            assert saved["state"][index][name].dtype == value.dtype
            assert torch.equal(saved["state"][index][name], value)
    again = optimizers.Adam([p.detach().clone().requires_grad_() for p in ours], lr=1.0)
    again.load_state_dict(saved)
    assert again.param_groups[0]["lr"] == 1e-2
    assert torch.equal(again.state[again.param_groups[0]["params"][0]]["exp_avg"],
                       mine.state[ours[0]]["exp_avg"])


def test_lbfgs_minimises_as_torch_s():
    target = torch.tensor([3.0, -1.0], dtype=torch.float64)
    results = []
    for kind in (optimizers.LBFGS, torch.optim.LBFGS):
        x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        optimizer = kind([x], max_iter=20, line_search_fn="strong_wolfe")

        def loss(x=x, optimizer=optimizer):
            optimizer.zero_grad()
            value = ((x - target) ** 4).sum() + (x - target).square().sum()
            value.backward()
            return value

        optimizer.step(loss)
        results.append(x.detach())
    assert torch.equal(*results)
    assert torch.allclose(results[0], target, atol=1e-3)


def test_where_dynamo_is_loaded_the_methods_are_torch_s():
    import torch._dynamo  # what a compiled step loads

    for name in ("add_param_group", "state_dict", "load_state_dict", "zero_grad"):
        method = getattr(torch.optim.Optimizer, name)
        assert optimizers._unwrapped(method) is method


def test_only_torch_s_lazy_wrapper_is_taken_off(monkeypatch):
    """While torch._dynamo is not loaded, the wrapper that would import it is taken off; a
    method wrapped by anything else (a later PyTorch, a user's decorator) is kept."""
    import functools

    monkeypatch.delitem(sys.modules, "torch._dynamo", raising=False)

    def plain(self):
        return "plain"

    @functools.wraps(plain)
    def other(self):
        return "other"

    lazy = torch._disable_dynamo(plain)
    assert optimizers._unwrapped(lazy) is plain
    assert optimizers._unwrapped(torch.optim.Optimizer.state_dict) is not (
        torch.optim.Optimizer.state_dict)
    assert optimizers._unwrapped(other) is other
    assert optimizers._unwrapped(plain) is plain
