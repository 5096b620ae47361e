"""PCGrad: each task gradient projected off the normal plane of every task gradient it conflicts with.

Reference: Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchjd.aggregation import PCGradWeighting

from mtl.weighting.gradient import GramianWeightingStrategy

NAME = "pcgrad"


class Strategy(GramianWeightingStrategy):
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

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return PCGradWeighting()
