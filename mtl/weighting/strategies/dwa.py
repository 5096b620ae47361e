"""Dynamic Weight Average: weights from how fast each task's loss fell over the last two epochs.

Reference: Liu, Johns, Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.
"""

from __future__ import annotations

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class DWAOptions(Options):
    """Liu et al. 2019: weights from the ratio of the last two epochs' mean losses."""

    temperature: float = Field(
        2.0,
        gt=0.0,
        le=1000.0,
        description="Softmax temperature T; larger = more uniform weights (paper: 2).",
    )


SPEC = WeightingSpec(name="dwa", implementation="DWA", options=DWAOptions)

# ---- implementation (imports torch; the registry reads only what is above) ----

import math
from collections.abc import Sequence
from typing import Any

import torch

from mtl.data.tasks import TaskSpec
from mtl.weighting.base import WeightingStrategy


class DWA(WeightingStrategy):
    """w_k(t) = K·exp(r_k(t−1)/T) / Σ_i exp(r_i(t−1)/T), with r_k(t−1) = L_k(t−1)/L_k(t−2).

    L_k(t) is task k's mean training loss over epoch t, K the number of tasks and T the
    temperature. The weights sum to K and stay 1 for the first two epochs. A ratio that
    cannot be formed (a missing or zero loss) counts as 1. Stateful (the loss history):
    :meth:`reset` forgets it.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`DWAOptions` (``temperature``).
    """

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = DWAOptions.model_validate(self.options)
        self.history: list[list[float]] = []  # the last two epochs' mean losses
        self._weights = torch.ones(len(self.tasks))

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        if self._weights.device != losses.device:
            self._weights = self._weights.to(losses.device)
        return self._weights

    def epoch_end(self, epoch: int, train_losses: dict[str, float]) -> None:
        self.history = [*self.history, [train_losses[t.name] for t in self.tasks]][-2:]
        self._weights = self.epoch_weights().to(self._weights.device)

    def epoch_weights(self) -> torch.Tensor:
        """The weights (K,) for the next epoch, from :attr:`history`."""
        n_tasks = len(self.tasks)
        if len(self.history) < 2:
            return torch.ones(n_tasks)
        older, newer = self.history
        rates = [
            new / old if math.isfinite(new) and math.isfinite(old) and old != 0 else 1.0
            for old, new in zip(older, newer, strict=True)
        ]
        return (
            n_tasks
            * torch.softmax(
                torch.tensor(rates, dtype=torch.float64) / self.config.temperature, dim=0
            ).float()
        )

    def reset(self) -> None:
        self.history = []
        self._weights = torch.ones(len(self.tasks), device=self._weights.device)
