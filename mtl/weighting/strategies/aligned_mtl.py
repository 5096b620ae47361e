"""Aligned-MTL: the task gradients aligned to an orthogonal system of equal norms, then summed.

Reference: Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for Multi-Task Learning", CVPR 2023.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchjd.aggregation import AlignedMTLWeighting

from mtl.weighting.gradient import GramianWeightingStrategy
from mtl.weighting.options import AlignedMTLOptions

NAME = "aligned-mtl"


class Strategy(GramianWeightingStrategy):
    """Shared update Jᵀ·B·(1/T), with B = √λ·V Σ⁻¹ Vᵀ from the eigen-decomposition G = V Σ² Vᵀ.

    This removes conflict and dominance: the aligned gradients are orthogonal and of equal
    norm, scaled by the chosen eigenvalue λ (the smallest one in the paper). Computed on
    the Gramian by torchjd's ``AlignedMTLWeighting``. The reported weights are B·(1/T).

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`~mtl.weighting.options.AlignedMTLOptions` (``scale_mode``).
    """

    name = NAME

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.config = AlignedMTLOptions.model_validate(self.options)
        return AlignedMTLWeighting(scale_mode=self.config.scale_mode)
