"""Early stopping as a small policy object: fed one monitored value per epoch, it says when to stop.

The trainer feeds it the epoch's monitored value (the sum of the validation losses, or of
the training losses without a validation split) and reads back whether the value improved
(the best weights are kept then) and whether training should stop. The plateau learning-rate
schedule (:class:`mtl.train.schedule.PlateauSchedule`) counts stalled epochs the same way.
"""

from __future__ import annotations

import math
from typing import Literal

Mode = Literal["min", "max"]


class EarlyStopping:
    """Stop after ``patience`` epochs in a row without an improvement of the monitored value.

    Args:
        patience: stalled epochs tolerated; ``None`` never stops (the best value and its
            epoch are still tracked).
        mode: ``"min"`` (a loss: lower is better) or ``"max"`` (a score).
        min_delta: how much better than the best value a new value must be to count as an
            improvement.

    Raises:
        ValueError: ``patience`` below 1, an unknown ``mode`` or a negative ``min_delta``.
    """

    def __init__(self, patience: int | None, mode: Mode = "min", min_delta: float = 1e-12) -> None:
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1 (or None), found {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', found {mode!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be ≥ 0, found {min_delta}")
        self.patience = patience
        self.mode: Mode = mode
        self.min_delta = min_delta
        self.best = math.inf if mode == "min" else -math.inf
        """The best value seen so far (±inf before the first update)."""
        self.best_epoch = -1
        """The 0-based index of the update that gave :attr:`best` (-1 before any)."""
        self.stalled = 0
        """Updates in a row without an improvement."""
        self.improved = False
        """Whether the last update improved on the best value."""
        self._updates = 0

    def update(self, value: float) -> bool:
        """Record one epoch's value; ``True`` when ``patience`` epochs in a row did not improve.

        A NaN value never counts as an improvement.
        """
        if self.mode == "min":
            self.improved = value < self.best - self.min_delta
        else:
            self.improved = value > self.best + self.min_delta
        if self.improved:
            self.best, self.best_epoch, self.stalled = value, self._updates, 0
        else:
            self.stalled += 1
        self._updates += 1
        return self.patience is not None and self.stalled >= self.patience

    def restart_count(self) -> None:
        """Count stalled epochs from zero again, keeping the best value (after an LR drop)."""
        self.stalled = 0


__all__ = ["EarlyStopping", "Mode"]
