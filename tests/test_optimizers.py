"""vaelab's Adam and L-BFGS (vaelab.optimizers) leave torch._dynamo unloaded, and compute and
save as PyTorch's own: a CPU run trains, checkpoints, resumes and is measured without
importing it (0.8 s and 71 MB), and where it is loaded their methods are PyTorch's.

Each check runs in a fresh process: pytest's own has often loaded torch._dynamo already,
and with it vaelab's optimizers are PyTorch's, which a comparison there could not tell."""

from __future__ import annotations

import subprocess
import sys

import torch

from vaelab import optimizers

LOADED = 'sorted(name for name in sys.modules if name.startswith(("torch._dynamo", "sympy")))'

TRAINED = f"""
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
print("loaded:", {LOADED})
"""

COMPARED = f"""
import sys
import torch
from vaelab import optimizers
from vaelab.training import lean

def parameters():
    torch.manual_seed(0)
    return [torch.randn(7, 5).t().requires_grad_(),  # laid out by columns
            torch.randn(5, requires_grad=True)]

def adam(kind, step):
    params = parameters()
    optimizer = kind(params, lr=1e-2, eps=1e-6, fused=True)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        optimizer.zero_grad()
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        with torch.device("meta"):  # what is made without a device is made elsewhere
            step(optimizer)
    return params, optimizer

def lbfgs(kind):
    target = torch.tensor([3.0, -1.0], dtype=torch.float64)
    x = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    optimizer = kind([x], max_iter=20, line_search_fn="strong_wolfe")
    def loss():
        optimizer.zero_grad()
        value = ((x - target) ** 4).sum() + (x - target).square().sum()
        value.backward()
        return value
    optimizer.step(loss)
    return x.detach()

ours, mine = adam(optimizers.Adam, lean.adam_step)
saved = mine.state_dict()
again = optimizers.Adam(parameters(), lr=1.0, fused=True)
again.load_state_dict(saved)
minimum = lbfgs(optimizers.LBFGS)
print("loaded:", {LOADED})

theirs, torch_s = adam(torch.optim.Adam, lambda optimizer: optimizer.step())
expected = torch_s.state_dict()
print("weights:", all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True)))
print("groups:", saved["param_groups"] == expected["param_groups"])
print("state:", all(
    list(saved["state"][i]) == list(state)
    and all(torch.equal(saved["state"][i][k], v) and saved["state"][i][k].dtype == v.dtype
            and saved["state"][i][k].device == v.device
            and saved["state"][i][k].stride() == v.stride() for k, v in state.items())
    for i, state in expected["state"].items()))
print("loaded again:", again.param_groups[0]["lr"] == 1e-2 and all(
    torch.equal(again.state[p]["exp_avg"], mine.state[q]["exp_avg"])
    for p, q in zip(again.param_groups[0]["params"], ours, strict=True)))
print("lbfgs:", torch.equal(minimum, lbfgs(torch.optim.LBFGS)))
print("torch's own once loaded:", "torch._dynamo" in sys.modules and all(
    optimizers._unwrapped(getattr(torch.optim.Optimizer, name))
    is getattr(torch.optim.Optimizer, name)
    for name in ("add_param_group", "state_dict", "load_state_dict", "zero_grad")))
"""


def _printed(script: str, tmp_path, *args: str) -> dict[str, str]:
    """What a script run in a fresh process printed, as {'name': 'value'} of its lines."""
    path = tmp_path / "script.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path), *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)


def test_a_cpu_run_trains_resumes_and_is_measured_without_importing_dynamo(tmp_path):
    assert _printed(TRAINED, tmp_path, str(tmp_path / "run"))["loaded"] == "[]"


def test_adam_and_lbfgs_compute_and_save_as_torch_s_without_importing_dynamo(tmp_path):
    """Adam's first step making its state (lean.adam_step), two more, its state saved and
    loaded again, and L-BFGS's minimum: as PyTorch's optimizers, the same numbers in the same
    layout, and the same saved form (key order, dtype, device)."""
    printed = _printed(COMPARED, tmp_path)
    assert printed.pop("loaded") == "[]"
    assert printed == {name: "True" for name in ("weights", "groups", "state", "loaded again",
                                                  "lbfgs", "torch's own once loaded")}


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
