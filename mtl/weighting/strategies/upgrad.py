"""UPGrad: every task gradient projected onto the dual cone of all of them, then averaged (never conflicts).

Reference: Quinton, Rey, "Jacobian Descent for Multi-Objective Optimization", arXiv:2406.16232, 2024.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchjd.aggregation import UPGradWeighting
from torchjd.linalg import QuadprogProjector

from mtl.weighting.gradient import GramianWeightingStrategy
from mtl.weighting.options import UPGradOptions

NAME = "upgrad"


class Strategy(GramianWeightingStrategy):
    """Shared update (1/T)·Σ_i π(g_i), π = projection onto {d : d·g_t ≥ 0 for every t}.

    Computed on the Gramian by torchjd's ``UPGradWeighting`` with the quadprog solver. The
    update has a non-negative inner product with every task gradient. The reported weight
    w_t is the coefficient of g_t in the update (w_t ≥ 1/T; all 1/T when nothing conflicts).

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`~mtl.weighting.options.UPGradOptions` (``norm_eps``, ``reg_eps``).
    """

    name = NAME

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.config = UPGradOptions.model_validate(self.options)
        projector = QuadprogProjector(norm_eps=self.config.norm_eps, reg_eps=self.config.reg_eps)
        return UPGradWeighting(projector=projector)
