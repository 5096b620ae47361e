"""The learning rate as one pure function of training progress."""

from __future__ import annotations

import math

from mtl.config import TrainConfig


def learning_rate(
    cfg: TrainConfig, step: int, steps_per_epoch: int, plateau_scale: float = 1.0
) -> float:
    """Learning rate at global ``step`` (0-based).

    1. Linear warm-up from ``lr / warmup_steps`` to ``lr`` over ``warmup_epochs``.
    2. Then the schedule, by epoch: ``constant``; ``step`` (× gamma every step_size epochs);
       ``cosine`` (from lr to 0 over the epochs after warm-up); ``plateau`` (× the scale
       the trainer lowers when validation loss stalls).
    """
    warmup_steps = cfg.warmup_epochs * steps_per_epoch
    # 1) warm-up
    if step < warmup_steps:
        return cfg.lr * (step + 1) / warmup_steps
    # 2) schedule after warm-up
    epoch = step // steps_per_epoch
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** ((epoch - cfg.warmup_epochs) // cfg.step_size)
    if cfg.schedule == "cosine":
        total = (cfg.epochs - cfg.warmup_epochs) * steps_per_epoch
        progress = min(1.0, (step - warmup_steps) / max(1, total))
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.schedule == "plateau":
        return cfg.lr * plateau_scale
    return cfg.lr
