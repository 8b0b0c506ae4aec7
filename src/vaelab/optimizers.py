"""PyTorch's Adam and L-BFGS, made and saved without importing ``torch._dynamo``.

``torch.optim`` turns torch.compile off around an optimizer's methods, and the first such call
(the constructor's ``add_param_group``) imports ``torch._dynamo`` to do so, with sympy and
800 more modules: 0.8 s and 71 MB of a bare process's memory (218 to 289 MB resident,
PyTorch 2.13.0 on an Intel Xeon), and the first demo's peak was 632 MB with it, 467 MB
without. Where nothing has imported it, nothing can be compiling, and each method computes
the same without the wrapper: these optimizers call the undecorated function (the wrapper's
``__wrapped__``) then. Where ``torch._dynamo`` is loaded (a compiled step), or where a
PyTorch version wraps its methods otherwise, they are PyTorch's own. Adam's step imports it
too (to mark a graph break): vaelab's training steps on a CPU in float32 call the fused kernel
instead (``vaelab.training.lean.adam_step``); a GPU's, fp16's scaler and parameters of other
dtypes take Adam's own step.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch


def _nothing() -> None:
    return None


_lazy = getattr(torch, "_disable_dynamo", None)  # the wrapper's maker, private to torch
_WRAPPER = _lazy(_nothing).__code__ if _lazy is not None else None  # every wrapper's code


def _unwrapped(method: Callable) -> Callable:
    """``method`` without torch's lazily importing wrapper, while ``torch._dynamo`` is not
    loaded; ``method`` itself where it is, or where the wrapper is not that one."""
    wrapped = getattr(method, "__wrapped__", None)
    if (_WRAPPER is None or wrapped is None or "torch._dynamo" in sys.modules
            or getattr(method, "__code__", None) is not _WRAPPER):
        return method
    return wrapped


def _call(method: Callable, *args: Any) -> Any:
    """A bound method called undecorated where ``_unwrapped`` takes its wrapper off; as it
    is where it is no plain function (a later PyTorch's)."""
    function = getattr(method, "__func__", None)
    if function is None:
        return method(*args)
    return _unwrapped(function)(method.__self__, *args)


class _Undecorated:
    """An optimizer's methods that import ``torch._dynamo``, without importing it: the next
    class's own (``torch.optim.Adam``'s, or what it inherits), undecorated."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _call(super().add_param_group, param_group)

    def state_dict(self) -> dict[str, Any]:
        return _call(super().state_dict)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _call(super().load_state_dict, state_dict)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _call(super().zero_grad, set_to_none)


class Adam(_Undecorated, torch.optim.Adam):
    """``torch.optim.Adam``, all of whose methods but ``step`` leave ``torch._dynamo``
    unloaded."""


class LBFGS(_Undecorated, torch.optim.LBFGS):
    """``torch.optim.LBFGS``, which leaves ``torch._dynamo`` unloaded."""
