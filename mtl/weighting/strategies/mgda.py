"""MGDA: the minimum-norm point in the convex hull of the task gradients (a common descent direction).

Reference: Sener, Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class MGDAOptions(Options):
    """Sener & Koltun 2018: the min-norm point in the convex hull of the task gradients."""

    solver: Literal["exact", "frank-wolfe"] = Field(
        "exact",
        description="`exact`: the small quadratic program solved exactly (quadprog, polished); "
        "`frank-wolfe`: the paper's Algorithm 2, which stops early for 3 or more tasks.",
    )
    epsilon: float = Field(
        1e-3, gt=0.0, le=1.0, description="Frank-Wolfe only: stop when the step is below this."
    )
    max_iters: int = Field(
        100, ge=1, le=10_000, description="Frank-Wolfe only: maximum iterations per step."
    )


SPEC = WeightingSpec(name="mgda", implementation="MGDA", level="gradient", options=MGDAOptions)

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Callable

import numpy as np
import quadprog
import torch
from torchjd.aggregation import MGDAWeighting

from mtl.weighting.gradient import GramianWeightingStrategy


class MGDA(GramianWeightingStrategy):
    """Shared update Σ_t α_t g_t with α = argmin_{α ∈ simplex} ‖Σ_t α_t g_t‖.

    By default the quadratic program on the Gramian is solved exactly
    (:func:`min_norm_weights`); ``solver: frank-wolfe`` runs the paper's Frank-Wolfe
    algorithm instead (torchjd's ``MGDAWeighting`` with ``epsilon`` and ``max_iters``),
    which stops early for T ≥ 3. The reported weights are α: non-negative and summing to
    1, so the update is as large as the smallest gradient in the hull (zero at a
    Pareto-stationary point). Task-specific layers still get their own gradient with
    weight 1.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`MGDAOptions` (``solver``, ``epsilon``,
            ``max_iters``).
    """

    name = SPEC.name

    def make_weighting(self) -> Callable[[torch.Tensor], torch.Tensor]:
        self.config = MGDAOptions.model_validate(self.options)
        if self.config.solver == "frank-wolfe":
            return MGDAWeighting(epsilon=self.config.epsilon, max_iters=self.config.max_iters)
        return min_norm_weights


def min_norm_weights(gramian: torch.Tensor) -> torch.Tensor:
    """The exact minimiser α of αᵀGα over the simplex {α ≥ 0, Σ α = 1}.

    Solved in float64 on G scaled to unit trace (α does not depend on the scale): first by
    quadprog (Goldfarb-Idnani) on G plus a ridge of 1e-12 (it needs a positive-definite
    matrix; more if rounding made G slightly indefinite), then polished on the support it found: the equality-constrained problem on
    that support is solved by least squares (exact even when G is singular), and kept if
    it satisfies every optimality condition (α ≥ 0 and (Gα)_t ≥ αᵀGα for every task).

    Args:
        gramian: G = J Jᵀ, shape (T, T).

    Returns:
        α, shape (T,), same dtype and device as ``gramian``; uniform when every gradient is 0.
    """
    g = gramian.detach().double().cpu().numpy()  # (T, T)
    n_tasks = g.shape[0]
    scale = float(np.trace(g))
    if n_tasks == 1 or scale <= 0.0 or not np.isfinite(scale):
        alpha = np.full(n_tasks, 1.0 / n_tasks)
    else:
        g = (g + g.T) / (2.0 * scale)
        alpha = _quadprog(g)
        polished = _on_support(g, alpha > 1e-9)
        if polished is not None and polished @ g @ polished <= alpha @ g @ alpha + 1e-15:
            alpha = polished
    return torch.as_tensor(alpha, dtype=gramian.dtype, device=gramian.device)


def _quadprog(g: np.ndarray) -> np.ndarray:
    """min ½αᵀ(G + r·I)α subject to Σα = 1, α ≥ 0, by quadprog; clipped and renormalised.

    r = 1e-12, or more when rounding left G with a negative eigenvalue (a rank-deficient
    Gramian computed in float32): quadprog needs a positive-definite matrix.
    """
    n_tasks = g.shape[0]
    constraints = np.concatenate([np.ones((n_tasks, 1)), np.eye(n_tasks)], axis=1)  # (T, 1 + T)
    bounds = np.concatenate([[1.0], np.zeros(n_tasks)])
    smallest = float(np.linalg.eigvalsh(g)[0])
    ridge = 1e-12 + max(0.0, -2.0 * smallest)
    alpha = quadprog.solve_qp(
        g + ridge * np.eye(n_tasks), np.zeros(n_tasks), constraints, bounds, meq=1
    )[0]
    alpha = np.clip(alpha, 0.0, None)
    return alpha / alpha.sum()


def _on_support(g: np.ndarray, support: np.ndarray) -> np.ndarray | None:
    """The minimiser with α_t = 0 outside ``support`` if it is optimal for the whole problem, else ``None``.

    On the support S the KKT conditions are G_S α_S = λ·1, 1ᵀα_S = 1: a (|S|+1)-square
    linear system, solved by least squares (its minimum-norm solution when G_S is singular).
    """
    index = np.flatnonzero(support)
    size = len(index)
    if size == 0:
        return None
    kkt = np.zeros((size + 1, size + 1))
    kkt[:size, :size] = g[np.ix_(index, index)]
    kkt[:size, size] = -1.0
    kkt[size, :size] = 1.0
    rhs = np.zeros(size + 1)
    rhs[size] = 1.0
    solution = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    alpha = np.zeros(g.shape[0])
    alpha[index] = solution[:size]
    if alpha.min() < -1e-12 or abs(alpha.sum() - 1.0) > 1e-9:
        return None
    alpha = np.clip(alpha, 0.0, None)
    alpha /= alpha.sum()
    value = alpha @ g @ alpha
    if (g @ alpha).min() < value - 1e-12:  # a task outside S would lower the norm
        return None
    return alpha
