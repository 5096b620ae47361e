"""MGDA: the minimum-norm point in the convex hull of the task gradients (a common descent direction).

Reference: Sener, Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchjd.aggregation import MGDAWeighting

from mtl.data.tasks import TaskSpec
from mtl.weighting.gradient import GradientStrategy
from mtl.weighting.options import MGDAOptions

NAME = "mgda"


class Strategy(GradientStrategy):
    """Shared update Σ_t α_t g_t with α = argmin_{α ∈ simplex} ‖Σ_t α_t g_t‖.

    Solved on the Gramian with the Frank-Wolfe algorithm of the paper (torchjd's
    ``MGDAWeighting``). The reported weights are α: non-negative and summing to 1, so the
    update is as large as the smallest gradient in the hull (zero at a Pareto-stationary
    point). Task-specific layers still get their own gradient with weight 1.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`~mtl.weighting.options.MGDAOptions` (``epsilon``, ``max_iters``).
    """

    name = NAME

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = MGDAOptions.model_validate(self.options)
        self._weighting = MGDAWeighting(epsilon=self.config.epsilon, max_iters=self.config.max_iters)

    def aggregate(self, gramian: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
        return self._weighting(gramian)
