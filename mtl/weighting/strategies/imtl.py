"""IMTL-G: the update whose projection onto every task's unit gradient is equal (impartial to gradient scale).

Reference: Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task Learning", ICLR 2021.
"""

from __future__ import annotations

from mtl.weighting.spec import WeightingSpec

SPEC = WeightingSpec(name="imtl", implementation="IMTL", level="gradient")

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Callable

import torch
from torchjd.aggregation import IMTLGWeighting

from mtl.weighting.gradient import GramianWeightingStrategy


class IMTL(GramianWeightingStrategy):
    """Shared update g = Σ_t α_t g_t with g·u_t equal for every unit gradient u_t = g_t/‖g_t‖, Σ α_t = 1.

    The paper's closed form (α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹) equals α ∝ G⁺·(‖g_1‖, …, ‖g_T‖) on the
    Gramian G, computed by torchjd's ``IMTLGWeighting`` (which also handles linearly
    dependent gradients). The reported weights are α (they sum to 1; one may be negative).
    This is the gradient part, IMTL-G, on the shared parameters. No options.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: none.
    """

    name = SPEC.name

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return IMTLGWeighting()
