"""Geometric Loss Strategy: minimise the geometric mean of the task losses, (Π_t L_t)^(1/T).

Reference: Chennupati, Sistu, Yogamani, Rawashdeh, "MultiNet++: Multi-Stream Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019.
"""

from __future__ import annotations

from mtl.weighting.spec import WeightingSpec

SPEC = WeightingSpec(name="gls", implementation="GLS")

# ---- implementation (imports torch; the registry reads only what is above) ----

import torch

from mtl.weighting.base import WeightingStrategy

EPS = 1e-12
"""Losses are clamped to at least this before the logarithm."""


class GLS(WeightingStrategy):
    """The gradient of (Π_t L_t)^(1/T) as one weighted backward: w_t = GM / (T·L_t).

    GM is the geometric mean of the active tasks' losses, T their number. A task with a
    small loss gets a large weight, so tasks on different scales pull equally in relative
    terms (the method is invariant to rescaling any one loss). Weights carry no graph.
    """

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.active_weights(losses, None)

    def active_weights(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        """GM / (T·L_t) over the active tasks only (0 for the others)."""
        logs = torch.log(losses.detach().clamp_min(EPS))  # (T,)
        count: int | torch.Tensor
        if active is None:
            count = losses.shape[0]
            mean_log = logs.mean()
        else:
            count = active.sum().clamp_min(1.0)
            mean_log = (logs * active).sum() / count
        weights = torch.exp(mean_log - logs) / count  # GM / (T·L_t)
        return weights if active is None else weights * active
