"""CAGrad: the update that maximises the worst task's improvement within a ball around the mean gradient.

Reference: Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from mtl.data.tasks import TaskSpec
from mtl.weighting.gradient import GradientStrategy
from mtl.weighting.options import CAGradOptions

NAME = "cagrad"


class Strategy(GradientStrategy):
    """Shared update d = g₀ + (√φ/‖g_w‖)·g_w, rescaled, with g₀ the mean gradient and √φ = c·‖g₀‖.

    g_w = Σ_t w_t g_t, w = argmin_{w ∈ simplex} g_wᵀg₀ + √φ·‖g_w‖, the dual of
    max_d min_t g_tᵀd subject to ‖d − g₀‖ ≤ c·‖g₀‖. Solved on the Gramian as in the
    official code (scipy's SLSQP, here with the exact gradient), see :func:`cagrad_weights`.
    torchjd's ``CAGradWeighting`` solves the same problem through cvxpy, about ten times
    slower per step; the tests check both agree. The reported weight of task t is
    (1/T + √φ/‖g_w‖·w_t) / s, with s = 1, 1 + c² or 1 + c per ``rescale``.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`~mtl.weighting.options.CAGradOptions` (``c``, ``rescale``).
    """

    name = NAME

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = CAGradOptions.model_validate(self.options)

    def aggregate(self, gramian: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
        return cagrad_weights(gramian, self.config.c, self.config.rescale)


def cagrad_weights(gramian: torch.Tensor, c: float, rescale: int = 1) -> torch.Tensor:
    """CAGrad's weights of the task gradients from their Gramian.

    Args:
        gramian: G = J Jᵀ, shape (T, T).
        c: the ball radius relative to the mean gradient's norm (c ≥ 0).
        rescale: 0, 1 or 2: divide by 1, 1 + c² or 1 + c (the official code's options).

    Returns:
        Weights (T,) such that the update is weightsᵀJ, same dtype and device as ``gramian``.
    """
    g = gramian.detach().double().cpu().numpy()  # (T, T)
    n_tasks = g.shape[0]
    scale = float(np.trace(g))
    mean = np.full(n_tasks, 1.0 / n_tasks)
    if scale <= 0.0 or not np.isfinite(scale):
        weights = mean  # every gradient is zero: any weights give a zero update
    else:
        g = g / scale  # the solution is scale-invariant; this conditions the solver
        a = g @ mean  # (T,): g_tᵀg₀
        sqrt_phi = c * np.sqrt(mean @ a + 1e-8)

        def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
            gw = g @ w
            norm = np.sqrt(w @ gw + 1e-8)
            return float(w @ a + sqrt_phi * norm), a + sqrt_phi * gw / norm

        result = minimize(
            objective, mean, jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n_tasks,
            constraints=({"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)},),
            options={"ftol": 1e-12, "maxiter": 200},
        )
        w = np.clip(result.x, 0.0, None)
        w = w / w.sum() if w.sum() > 0 else mean
        gw_norm = np.sqrt(max(w @ g @ w, 0.0))
        weights = mean + (sqrt_phi / (gw_norm + 1e-8)) * w
    weights = weights / {0: 1.0, 1: 1.0 + c**2, 2: 1.0 + c}[rescale]
    return torch.as_tensor(weights, dtype=gramian.dtype, device=gramian.device)
