"""Every task weighs 1: the plain sum of task losses.

Reference: Caruana, "Multitask Learning", Machine Learning 28, 1997.
"""

from __future__ import annotations

import torch

from mtl.weighting.base import WeightingStrategy

NAME = "equal"


class Strategy(WeightingStrategy):
    """w_t = 1 for every task."""

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(losses)
