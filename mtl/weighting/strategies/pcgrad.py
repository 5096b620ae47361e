"""PCGrad: each task gradient projected off the normal plane of every task gradient it conflicts with.

Reference: Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torchjd.aggregation import PCGradWeighting

from mtl.data.tasks import TaskSpec
from mtl.weighting.gradient import GradientStrategy

NAME = "pcgrad"


class Strategy(GradientStrategy):
    """Shared update Σ_i g_i^PC, where g_i^PC is g_i projected, in random order, off every g_j with g_i^PC·g_j < 0.

    Computed on the Gramian by torchjd's ``PCGradWeighting``: the reported weight w_t is
    the coefficient of the original gradient g_t in Σ_i g_i^PC (1 for every task when no
    pair conflicts). The projection order is drawn from torch's global generator (seeded
    by ``train.seed``). No options.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: none.
    """

    name = NAME

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self._weighting = PCGradWeighting()

    def aggregate(self, gramian: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
        return self._weighting(gramian)
