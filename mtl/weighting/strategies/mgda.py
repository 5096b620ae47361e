"""MGDA: the minimum-norm point in the convex hull of the task gradients (a common descent direction).

Reference: Sener, Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchjd.aggregation import MGDAWeighting

from mtl.weighting.gradient import GramianWeightingStrategy
from mtl.weighting.options import MGDAOptions

NAME = "mgda"


class Strategy(GramianWeightingStrategy):
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

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.config = MGDAOptions.model_validate(self.options)
        return MGDAWeighting(epsilon=self.config.epsilon, max_iters=self.config.max_iters)
