"""The learning rate: one pure function of training progress, and the plateau policy's scale."""

from __future__ import annotations

import math

from mtl.config import TrainConfig
from mtl.train.stopping import EarlyStopping, Mode


def learning_rate(
    cfg: TrainConfig, step: int, steps_per_epoch: int, plateau_scale: float = 1.0
) -> float:
    """Learning rate at global ``step`` (0-based).

    1. Linear warm-up from ``lr / warmup_steps`` to ``lr`` over ``warmup_epochs``.
    2. Then the schedule, by epoch: ``constant``; ``step`` (× gamma every step_size epochs);
       ``cosine`` (from lr to 0 over the epochs after warm-up); ``plateau`` (× the scale
       :class:`PlateauSchedule` lowers when the monitored loss stalls).
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


class PlateauSchedule:
    """The ``plateau`` schedule's LR scale: × ``gamma`` after ``patience`` stalled epochs.

    Fed the same monitored value as early stopping, once per epoch; after each drop the
    stalled epochs are counted from zero again (the best value is kept, as in PyTorch's
    ``ReduceLROnPlateau`` with ``cooldown=0``). :func:`learning_rate` multiplies ``lr`` by
    :attr:`scale`.

    Args:
        patience: stalled epochs before a drop (``train.plateau_patience``, ≥ 1).
        gamma: the multiplier at a drop (``train.gamma``, in (0, 1]).
        mode: ``"min"`` (a loss) or ``"max"`` (a score).

    Raises:
        ValueError: ``patience`` below 1 or ``gamma`` outside (0, 1].
    """

    def __init__(self, patience: int, gamma: float, mode: Mode = "min") -> None:
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], found {gamma}")
        self.gamma = gamma
        self.scale = 1.0
        """The current multiplier of the base learning rate."""
        self._stall = EarlyStopping(patience, mode)

    def update(self, value: float) -> float:
        """Record one epoch's monitored value; return the scale for the next epoch."""
        if self._stall.update(value):
            self.scale *= self.gamma
            self._stall.restart_count()
        return self.scale
