"""Every task weighs 1: the plain sum of task losses.

Reference: Caruana, "Multitask Learning", Machine Learning 28, 1997.
"""

from __future__ import annotations

from mtl.weighting.spec import WeightingSpec

SPEC = WeightingSpec(name="equal", implementation="EqualWeighting")

# ---- implementation (imports torch; the registry reads only what is above) ----

import torch

from mtl.weighting.base import WeightingStrategy


class EqualWeighting(WeightingStrategy):
    """w_t = 1 for every task."""

    _ones: torch.Tensor | None = None

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        if (
            self._ones is None
            or self._ones.shape != losses.shape
            or self._ones.device != losses.device
        ):
            self._ones = torch.ones_like(losses, requires_grad=False).detach()
        return self._ones
