"""PCGrad: each task gradient projected off the normal plane of every task gradient it conflicts with.

Reference: Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning", NeurIPS 2020.
"""

from __future__ import annotations

from mtl.weighting.spec import WeightingSpec

SPEC = WeightingSpec(name="pcgrad", implementation="PCGrad", level="gradient")

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Callable

import numpy as np
import torch

from mtl.weighting.gradient import GramianWeightingStrategy


class PCGrad(GramianWeightingStrategy):
    """Shared update Σ_i g_i^PC, where g_i^PC is g_i projected, in random order, off every g_j with g_i^PC·g_j < 0.

    Computed on the Gramian by :func:`pcgrad_weights` (torchjd's ``PCGradWeighting``, the
    same loop in numpy): the reported weight w_t is the coefficient of the original
    gradient g_t in Σ_i g_i^PC (1 for every task when no pair conflicts). The projection
    order is drawn from torch's global generator (seeded by ``train.seed``). No options.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: none.
    """

    name = SPEC.name

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        return pcgrad_weights


def pcgrad_weights(gramian: torch.Tensor) -> torch.Tensor:
    """PCGrad's weights from the Gramian (T, T), as torchjd's ``PCGradWeighting`` computes them.

    For each task i, in a fresh ``torch.randperm(T)`` order (the same draws from torch's
    global generator as torchjd, so the same seed gives the same order), the coefficients c
    of g_i^PC (starting at e_i) gain −(G_j·c)/G_jj on g_j whenever G_j·c < 0. The loop runs
    on numpy scalars (T² steps of microseconds rather than T² torch calls).

    Returns:
        Weights (T,), same dtype and device as ``gramian``.
    """
    g = gramian.detach().cpu().numpy().astype(np.float64)  # (T, T)
    n_tasks = g.shape[0]
    weights = np.zeros(n_tasks)
    for i in range(n_tasks):
        order = torch.randperm(n_tasks).tolist()
        current = np.zeros(n_tasks)
        current[i] = 1.0
        for j in order:
            if j == i:
                continue
            inner = g[j] @ current  # g_i^PC · g_j
            if inner < 0.0:
                current[j] -= inner / g[j, j]
        weights += current
    return torch.as_tensor(weights, dtype=gramian.dtype, device=gramian.device)
