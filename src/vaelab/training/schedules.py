"""What changes during training, as functions of where training is: the learning rate and the
KL's weight. Plain functions of the epoch and the share of it done, so that a resumed run
takes exactly the steps an uninterrupted one would."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from vaelab.config import TrainConfig

log = logging.getLogger("vaelab")

IWAE_STAGES = 8  # the IWAE paper's schedule: stages i = 0..7 of 3^i epochs each, 3280 in all


def iwae_stage(epoch: int) -> int:
    """The stage of the IWAE paper's schedule that epoch ``epoch`` (from 1) falls in: stage i
    lasts 3^i epochs, so stage 0 is epoch 1, stage 1 epochs 2-4, stage 2 epochs 5-13, ...;
    past the last stage (epoch 3280) the last rate stays."""
    stage, end = 0, 1
    while epoch > end and stage < IWAE_STAGES - 1:
        stage += 1
        end += 3 ** stage
    return stage


def learning_rate(config: TrainConfig, epoch: int, done: float = 0.0) -> float:
    """Adam's rate for a step of epoch ``epoch`` (from 1) when ``done`` (0 to 1) of it is done.

    'constant': lr throughout. 'cosine': lr * (1 + cos(pi t)) / 2, t running from 0 at the
    first step to 1 at the end of the run's last epoch. 'iwae': lr * 10^(-i/7) in stage i of
    the IWAE paper's schedule (Burda, Grosse & Salakhutdinov 2016, section 5)."""
    if config.lr_schedule == "cosine":
        t = min(1.0, (epoch - 1 + done) / config.epochs)
        return config.lr * 0.5 * (1 + math.cos(math.pi * t))
    if config.lr_schedule == "iwae":
        return config.lr * 10 ** (-iwae_stage(epoch) / 7)
    return config.lr


def kl_weight(config: TrainConfig, epoch: int, done: float = 0.0) -> float:
    """The weight of the KL term: beta, times the share of the warm-up done, which rises
    linearly from 0 at the first step to 1 after ``kl_warmup`` epochs."""
    if config.kl_warmup == 0:
        return config.beta
    return config.beta * min(1.0, (epoch - 1 + done) / config.kl_warmup)


def say_if_the_rate_jumps(path: Path, before: TrainConfig, now: TrainConfig, done: int) -> None:
    """A cosine schedule spans the run's epochs: resumed with another number, its curve is
    stretched over the new total, and the rate jumps where the run goes on. Say so."""
    if now.lr_schedule != "cosine" or now.epochs == before.epochs or done >= now.epochs:
        return
    then, next_ = learning_rate(before, done, 1.0), learning_rate(now, done + 1)
    log.warning("%s: its cosine schedule now spans %d epochs, not %d: the learning rate goes "
                "from %.2g at the end of epoch %d to %.2g", path, now.epochs, before.epochs,
                then, done, next_)
