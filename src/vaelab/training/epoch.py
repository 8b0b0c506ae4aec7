"""One pass over the training set, step by step, and where it stands between two steps.

The training set sits on the device as one uint8 tensor; each epoch draws a permutation from
the run's seeded generator and takes batches as index slices of it. The same generator draws
the VAE's noise, the binarized pixels and the corrupted inputs. Between two steps, the epoch's
permutation, the steps done and the running sums (``EpochProgress``), with the generator's
state, are all that is needed to go on exactly as if nothing had happened: a checkpoint in the
middle of an epoch saves them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from vaelab.config import TrainConfig
from vaelab.data import to_unit
from vaelab.models import Autoencoder
from vaelab.objectives import draw_batch, means_per_image
from vaelab.progress import Bar, loss_text
from vaelab.training.placement import gather, host_order
from vaelab.training.schedules import kl_weight, learning_rate
from vaelab.training.step import Step


@dataclass
class EpochProgress:
    """Where an epoch stands between two steps."""

    epoch: int  # from 1
    order: torch.Tensor  # (N,) the epoch's permutation of the training images
    steps: int = 0  # optimiser steps done in this epoch
    totals: torch.Tensor | None = None  # (3,) loss, recon and KL summed over the images seen
    seconds: float = 0.0  # training time of the epoch before it was last resumed
    # (processes, threads each) of the parts of the epoch trained so far, each in turn: one
    # stopped and resumed in others adds up its sums in another order
    computed_in: tuple[tuple[int, int], ...] = ()
    resumed_at: int = 0  # the steps done when this process took the epoch up

    def with_part(self, processes: int) -> EpochProgress:
        """Where the epoch stands, with the part trained since it was taken up (in
        ``processes`` of as many threads each as this one has), if that made a step."""
        if self.steps == self.resumed_at:  # stopped before a step: no part trained here
            return self
        return replace(self, computed_in=added_part(self.computed_in, processes,
                                                    torch.get_num_threads()))

    def images_done(self, batch_size: int) -> int:
        return min(self.steps * batch_size, len(self.order))

    def fits(self, n: int, batch_size: int) -> bool:
        """Whether an epoch over ``n`` images can stand here: its order a permutation of them,
        its steps short of its end, its running sums three (as a damaged checkpoint's may
        not be)."""
        order, totals = self.order, self.totals
        return (self.epoch >= 1 and self.steps >= 0 and self.steps * batch_size < n
                and order.dtype == torch.int64 and order.shape == (n,)
                and torch.equal(order.sort().values.cpu(), torch.arange(n))
                and totals is not None and totals.shape == (3,) and totals.is_floating_point())


def added_part(parts: tuple[tuple[int, int], ...], processes: int, threads: int
               ) -> tuple[tuple[int, int], ...]:
    """``parts`` of an epoch, (processes, threads each) in turn, and then this one (where it
    is not the last already)."""
    now = (processes, threads)
    return parts if parts[-1:] == (now,) else (*parts, now)


LOOK_EVERY = 50  # steps between two looks at the running sums for a loss that is not a number


class Diverged(Exception):
    """The loss stopped being a number in this epoch (seen at most LOOK_EVERY steps late, one
    more in several processes); ``loss`` is their summed loss so far, nan or inf."""

    def __init__(self, loss: float) -> None:
        super().__init__(f"the loss is {loss}")
        self.loss = loss


class Stopped(Exception):
    """Training stopped between two steps, as asked; ``progress`` says where."""

    def __init__(self, progress: EpochProgress) -> None:
        super().__init__(f"stopped in epoch {progress.epoch} after {progress.steps} steps")
        self.progress = progress


def start_epoch(epoch: int, n: int, generator: torch.Generator) -> EpochProgress:
    """A fresh epoch: its permutation is the generator's first draw."""
    return EpochProgress(epoch, torch.randperm(n, generator=generator, device=generator.device))


def train_epoch(model: Autoencoder, optimizer: torch.optim.Optimizer, images: torch.Tensor,
                config: TrainConfig, generator: torch.Generator, bar: Bar | None = None,
                stop: threading.Event | None = None, binarize: bool = False,
                labels: torch.Tensor | None = None, epoch: int = 1,
                progress: EpochProgress | None = None,
                after_step: Callable[[EpochProgress], None] | None = None,
                due: Callable[[EpochProgress], bool] | None = None, step: Step | None = None
                ) -> dict[str, float | None]:
    """One pass over ``images`` (N, C, H, W) uint8 (with their ``labels`` for a conditional
    model) in a random order, epoch ``epoch`` of the run's schedules, from the start or from
    ``progress``; the objective's terms averaged over the images, as they were while the
    model learned. Raises ``Diverged`` once the loss is not a number (looking every
    LOOK_EVERY steps). ``binarize`` draws each batch's pixels as black or white from
    ``generator`` (dynamic binarization). ``after_step`` is told where the epoch stands
    between two steps where ``due`` says so (a checkpoint). Raises ``Stopped`` between two
    steps once ``stop`` is set.

    ``step`` says how a step computes (default: in fp32, in this one process). In one of
    several processes (``step.world``) each takes its rows of every batch of the shared
    permutation, and every process stops, or is told where the epoch stands, after the same
    step."""
    step = step or Step(model, optimizer, config)
    world = step.world
    model.train()
    n = len(images)
    state = progress or start_epoch(epoch, n, generator)
    if state.totals is None:
        state.totals = torch.zeros(3, device=model.device)  # loss, recon, kl over images
    elif not world.main:
        state.totals = torch.zeros_like(state.totals)  # a resumed sum so far is rank 0's
    ballot, first = world.ballot(3), state.steps
    summed = state.images_done(config.batch_size) if world.main else 0  # images in its sums
    on_host = host_order(images, state.order)  # None unless the images stay on the host
    try:
        for start in range(state.steps * config.batch_size, n, config.batch_size):
            looking = state.steps > first and state.steps % LOOK_EVERY == 0  # a sync: rarely
            stopping, saving, diverged = ballot.cast(
                stop is not None and stop.is_set(),
                due is not None and state.steps > first and due(state),
                looking and not bool(torch.isfinite(state.totals).all()))
            if diverged:  # before any checkpoint of the weights it left; every process's sum
                raise Diverged(world.sum(state.totals.clone())[0].item())
            if saving and after_step is not None:
                after_step(state)
            if stopping:
                raise Stopped(state)
            index = state.order[start:start + config.batch_size]  # the whole batch's
            rows_at = index if on_host is None else on_host[start:start + config.batch_size]
            x = to_unit(gather(images, rows_at, index.device))  # (B, C, H, W) in [0, 1]
            rows = world.rows(len(index))
            x_rows, inputs, eps = draw_batch(model, x, config, generator, rows, binarize)
            y = labels[index[rows]] if model.conditional else None
            done = start / n
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, state.epoch, done)
            state.totals += step(x_rows, inputs, y, eps, kl_weight(config, state.epoch, done))
            state.steps, summed = state.steps + 1, summed + len(x_rows)
            # On a redraw, a sync then; none while this process's sums hold no image (one
            # image a batch under torchrun gives rank 0, the one with the bar, none)
            if bar is not None and bar.update(len(x)) and summed:
                bar.set_postfix_str(f"loss {loss_text(state.totals[0].item() / summed, 0)}",
                                   refresh=False)
    finally:
        ballot.close()
    return means_per_image(world.sum(state.totals), n, model.has_posterior)
