"""PyTorch's Adam and L-BFGS, made and saved without importing ``torch._dynamo``.

``torch.optim`` turns torch.compile off around an optimizer's methods, and the first such call
(the constructor's ``add_param_group``) imports ``torch._dynamo`` to do so, with sympy and
800 more modules: 0.8 s and 71 MB of a bare process's memory (218 to 289 MB resident,
PyTorch 2.13.0 on an Intel Xeon), and the first demo's peak was 632 MB with it, 467 MB
without. Where nothing has imported it, nothing can be compiling, and each method computes
the same without the wrapper: these optimizers call the undecorated function (the wrapper's
``__wrapped__``) then. Where ``torch._dynamo`` is loaded (a compiled step), or where a
PyTorch version wraps its methods otherwise, they are PyTorch's own. Adam's step imports it
too (to mark a graph break): vaelab's CPU training step calls the fused kernel instead
(``vaelab.training.lean.adam_step``); other steps (autograd's, a GPU's, fp16's scaler) take
Adam's own.
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


class _Undecorated:
    """An optimizer's methods that import ``torch._dynamo``, without importing it: the next
    class's own (``torch.optim.Adam``'s, or what it inherits), undecorated."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _unwrapped(super().add_param_group.__func__)(self, param_group)  # type: ignore[misc]

    def state_dict(self) -> dict[str, Any]:
        return _unwrapped(super().state_dict.__func__)(self)  # type: ignore[misc]

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _unwrapped(super().load_state_dict.__func__)(self, state_dict)  # type: ignore[misc]

    def zero_grad(self, set_to_none: bool = True) -> None:
        _unwrapped(super().zero_grad.__func__)(self, set_to_none)  # type: ignore[misc]


class Adam(_Undecorated, torch.optim.Adam):
    """``torch.optim.Adam``, all of whose methods but ``step`` leave ``torch._dynamo``
    unloaded."""


class LBFGS(_Undecorated, torch.optim.LBFGS):
    """``torch.optim.LBFGS``, which leaves ``torch._dynamo`` unloaded."""
