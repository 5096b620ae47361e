"""Fixed weights from tasks[].weight: Σ_t w_t · L_t.

Reference: the weighted-sum objective of multi-task learning (e.g. Ruder, "An Overview of Multi-Task Learning in Deep Neural Networks", 2017).
"""

from __future__ import annotations

from mtl.weighting.spec import WeightingSpec

SPEC = WeightingSpec(name="manual", implementation="ManualWeighting")

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Sequence
from typing import Any

import torch

from mtl.data.tasks import TaskSpec
from mtl.weighting.base import WeightingStrategy


class ManualWeighting(WeightingStrategy):
    """w_t = ``tasks[t].weight``, constant through training."""

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self._weights = torch.tensor([t.weight for t in self.tasks], dtype=torch.float32)

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        if self._weights.device != losses.device:
            self._weights = self._weights.to(losses.device)
        return self._weights
