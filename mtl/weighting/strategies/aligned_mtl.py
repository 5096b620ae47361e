"""Aligned-MTL: the task gradients aligned to an orthogonal system of equal norms, then summed.

Reference: Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for Multi-Task Learning", CVPR 2023.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class AlignedMTLOptions(Options):
    """Senushkin et al. 2023: gradients aligned to an orthogonal, equal-norm system."""

    scale_mode: Literal["min", "median", "rmse"] = Field(
        "min",
        description="Eigenvalue that sets the scale: smallest (paper), median, or mean (`rmse`).",
    )


SPEC = WeightingSpec(
    name="aligned-mtl", implementation="AlignedMTL", level="gradient", options=AlignedMTLOptions
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Callable

import torch
from torchjd.aggregation import AlignedMTLWeighting

from mtl.weighting.gradient import GramianWeightingStrategy


class AlignedMTL(GramianWeightingStrategy):
    """Shared update Jᵀ·B·(1/T), with B = √λ·V Σ⁻¹ Vᵀ from the eigen-decomposition G = V Σ² Vᵀ.

    This removes conflict and dominance: the aligned gradients are orthogonal and of equal
    norm, scaled by the chosen eigenvalue λ (the smallest one in the paper). Computed on
    the Gramian by torchjd's ``AlignedMTLWeighting``. The reported weights are B·(1/T).

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`AlignedMTLOptions` (``scale_mode``).
    """

    name = SPEC.name

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.config = AlignedMTLOptions.model_validate(self.options)
        return AlignedMTLWeighting(scale_mode=self.config.scale_mode)
