"""UPGrad: every task gradient projected onto the dual cone of all of them, then averaged (never conflicts).

Reference: Quinton, Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv:2406.16232, 2024.
"""

from __future__ import annotations

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class UPGradOptions(Options):
    """Quinton & Rey 2024: each gradient projected onto the dual cone of all of them, averaged."""

    norm_eps: float = Field(
        1e-4, ge=0.0, le=1.0, description="Below this squared Jacobian norm the update is 0."
    )
    reg_eps: float = Field(
        1e-4, ge=0.0, le=1.0, description="Added to the Gramian's diagonal for the QP solver."
    )


SPEC = WeightingSpec(
    name="upgrad", implementation="UPGrad", level="gradient", options=UPGradOptions
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Callable

import torch
from torchjd.aggregation import UPGradWeighting
from torchjd.linalg import QuadprogProjector

from mtl.weighting.gradient import GramianWeightingStrategy


class UPGrad(GramianWeightingStrategy):
    """Shared update (1/T)·Σ_i π(g_i), π = projection onto {d : d·g_t ≥ 0 for every t}.

    Computed on the Gramian by torchjd's ``UPGradWeighting`` with the quadprog solver. The
    update has a non-negative inner product with every task gradient. The reported weight
    w_t is the coefficient of g_t in the update (w_t ≥ 1/T; all 1/T when nothing conflicts).

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`UPGradOptions` (``norm_eps``, ``reg_eps``).
    """

    name = SPEC.name

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.config = UPGradOptions.model_validate(self.options)
        projector = QuadprogProjector(norm_eps=self.config.norm_eps, reg_eps=self.config.reg_eps)
        return UPGradWeighting(projector=projector)
