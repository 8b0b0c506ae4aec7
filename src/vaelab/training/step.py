"""How one optimiser step computes: in which precision, compiled or not, in one process or
in several (DistributedDataParallel), on this process's rows of the batch.

The losses are sums over pixels and over the batch, and the step must be the one of the whole
batch whether one process computes it or several. DistributedDataParallel averages the
gradients of the processes, so each process multiplies its partial sum by the number of
processes: the average of those is the gradient of the sum over the whole batch, exactly
(for a power of two) the gradient that one process computes. Adam's learning rate keeps its
meaning: the step of the global batch's summed loss, whatever the number of processes.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import torch
from torch import nn

from vaelab.config import TrainConfig
from vaelab.distributed import SINGLE, World
from vaelab.models import Autoencoder
from vaelab.objectives import loss_terms
from vaelab.training import lean

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Objective(nn.Module):
    """A batch's loss as a module's forward, the form that DistributedDataParallel wraps (it
    syncs the gradients of a forward call) and torch.compile compiles. The model itself keeps
    its loss outside, as a plain function; this adapter belongs to training."""

    def __init__(self, model: Autoencoder, config: TrainConfig, scale: int = 1) -> None:
        super().__init__()
        self.model, self.config, self.scale = model, config, scale

    def forward(self, x: torch.Tensor, inputs: torch.Tensor, y: torch.Tensor | None,
                eps: torch.Tensor | None, kl_weight: float
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(what is minimised, summed over these rows and times ``scale``; the reported
        (loss, recon, kl) sums, detached (3,))."""
        terms = loss_terms(self.model, x, self.config, None, y, inputs, eps)
        minimised, sums = terms.summed(kl_weight)
        return minimised * self.scale if self.scale != 1 else minimised, sums


class Step:
    """One optimiser step of a model on a batch's rows: the forward under autocast where the
    precision asks for it, the backward (scaled for fp16), clipping, Adam. The tutorial's
    dense models on a CPU take the backward written out (``vaelab.training.lean``), which
    gives autograd's gradients bit for bit, faster; ``by_hand`` says whether this one does,
    decided when it is made (a hook registered later is not seen)."""

    def __init__(self, model: Autoencoder, optimizer: torch.optim.Optimizer,
                 config: TrainConfig, world: World = SINGLE, compile: bool = False) -> None:
        self.model, self.optimizer, self.config, self.world = model, optimizer, config, world
        device = model.device
        self.dtype = DTYPES[config.precision]
        self.device_type = device.type
        # fp16's narrow range needs the loss scaled before the backward (bf16's does not). A
        # loss summed over a batch's pixels has large gradients already: the scale starts at
        # 1, not at 2^16, which overflows them and would skip the first dozen steps.
        self.scaler = (torch.amp.GradScaler(device.type, init_scale=1.0)
                       if config.precision == "fp16" else None)
        objective: nn.Module = Objective(model, config, world.size)
        if world.size > 1:
            ids = [device.index] if device.type == "cuda" else None
            # The models keep no buffers, so there is nothing to sync besides the gradients.
            objective = nn.parallel.DistributedDataParallel(objective, device_ids=ids,
                                                            gradient_as_bucket_view=True)
        self.objective = torch.compile(objective) if compile else objective
        self.by_hand = lean.covers(model, config, world.size, compile)
        if compile:  # a note of every process's on DDP's profiler ranges, nothing to act on
            logging.getLogger("torch._dynamo.variables.ctx_manager").addFilter(_not_profiler)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def __call__(self, x: torch.Tensor, inputs: torch.Tensor, y: torch.Tensor | None,
                 eps: torch.Tensor | None, kl_weight: float) -> torch.Tensor:
        """Take the step; returns this process's (loss, recon, kl) sums, (3,)."""
        clip, scaler = self.config.grad_clip, self.scaler
        if self.by_hand:  # fp32, no scaler; every gradient is set, none added to
            sums = lean.gradients(self.model, x, inputs, eps, kl_weight)
        else:
            with self.autocast():
                minimised, sums = self.objective(x, inputs, y, eps, kl_weight)
            self.optimizer.zero_grad(set_to_none=True)
            (minimised if scaler is None else scaler.scale(minimised)).backward()
        if scaler is None:
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            lean.adam_step(self.optimizer)
            return sums.float()
        if clip is not None:
            scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        scaler.step(self.optimizer)
        scaler.update()
        return sums.float()

    def scaler_state(self) -> dict[str, Any] | None:
        """fp16's loss scale and its counters, for the checkpoint; None without them."""
        scaler = self.scaler
        return None if scaler is None or not scaler.is_enabled() else scaler.state_dict()


def _not_profiler(record: logging.LogRecord) -> bool:
    """Whether a record of Dynamo's is other than its note that a profiler range is left out
    of the compiled step (DistributedDataParallel's, under torchrun)."""
    return not str(record.msg).startswith("Profiler record function")
