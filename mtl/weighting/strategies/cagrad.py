"""CAGrad: the update that maximises the worst task's improvement within a ball around the mean gradient.

Reference: Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning", NeurIPS 2021.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class CAGradOptions(Options):
    """Liu et al. 2021: the best worst-case improvement within a ball around the mean gradient."""

    c: float = Field(
        0.4,
        ge=0.0,
        le=100.0,
        description="Radius of the ball around the mean gradient, relative to its norm (paper: 0.4; 0 = mean).",
    )
    rescale: Literal[0, 1, 2] = Field(
        1,
        description="Divide the update by 1 (0), 1 + c² (1, the official code's default) or 1 + c (2).",
    )


SPEC = WeightingSpec(
    name="cagrad", implementation="CAGrad", level="gradient", options=CAGradOptions
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize

from mtl.data.tasks import TaskSpec
from mtl.weighting.gradient import GradientStrategy


class CAGrad(GradientStrategy):
    """Shared update d = g₀ + (√φ/‖g_w‖)·g_w, rescaled, with g₀ the mean gradient and √φ = c·‖g₀‖.

    g_w = Σ_t w_t g_t, w = argmin_{w ∈ simplex} g_wᵀg₀ + √φ·‖g_w‖, the dual of
    max_d min_t g_tᵀd subject to ‖d − g₀‖ ≤ c·‖g₀‖. Solved on the Gramian as in the
    official code (scipy's SLSQP, here with the exact gradient), see :func:`cagrad_weights`.
    torchjd's ``CAGradWeighting`` solves the same problem through cvxpy, about ten times
    slower per step; the tests check both agree. The reported weight of task t is
    (1/T + √φ/‖g_w‖·w_t) / s, with s = 1, 1 + c² or 1 + c per ``rescale``.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`CAGradOptions` (``c``, ``rescale``).
    """

    name = SPEC.name

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = CAGradOptions.model_validate(self.options)

    def aggregate(self, gramian: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
        return cagrad_weights(gramian, self.config.c, self.config.rescale)


def cagrad_weights(gramian: torch.Tensor, c: float, rescale: int = 1) -> torch.Tensor:
    """CAGrad's weights of the task gradients from their Gramian.

    The dual min_{w ∈ simplex} wᵀa + r·√(wᵀGw) (a = G·1/T, r = c·‖g₀‖) is solved exactly by
    an active-set method on its optimality conditions (:func:`_active_set`, a few
    T×T solves); when that does not settle (a singular Gramian), by scipy's SLSQP as in the
    official code (:func:`_slsqp`).

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
    if c == 0.0 or scale <= 0.0 or not np.isfinite(scale):
        weights = mean  # the mean gradient (c = 0), or every gradient is zero
    else:
        g = g / scale  # the solution is scale-invariant; this conditions the solvers
        a = g @ mean  # (T,): g_tᵀg₀
        sqrt_phi = c * np.sqrt(max(mean @ a, 0.0))
        w = _active_set(g, a, sqrt_phi)
        if w is None:
            w = _slsqp(g, a, sqrt_phi)
        gw_norm = np.sqrt(max(w @ g @ w, 0.0))
        weights = mean + (sqrt_phi / (gw_norm + 1e-8)) * w
    weights = weights / {0: 1.0, 1: 1.0 + c**2, 2: 1.0 + c}[rescale]
    return torch.as_tensor(weights, dtype=gramian.dtype, device=gramian.device)


def _active_set(g: np.ndarray, a: np.ndarray, r: float, tol: float = 1e-9) -> np.ndarray | None:
    """The dual's minimiser from its KKT conditions, or ``None`` if they cannot be solved.

    On a support S (w_t > 0 exactly for t in S), stationarity a_S + (r/s)·G_S w_S = λ·1 with
    s = ‖Jᵀw‖ and 1ᵀw = 1 give, with H = G_S⁻¹, α = 1ᵀH1, β = 1ᵀHa_S, γ = a_SᵀHa_S:
    λ = (β + √(β² − α(γ − r²)))/α and w_S = H(λ1 − a_S)/(λα − β). A negative w_t leaves S;
    so does the task with the largest a_t when S has no such point; a task outside S with
    a_t + (r/s)(Gw)_t < λ enters it. The problem is convex, so a support that satisfies
    all the conditions (checked at the end) gives the minimiser; the leaving rules only
    decide how fast it is found.
    """
    n_tasks = len(a)
    support = list(range(n_tasks))
    scale = max(1.0, float(np.abs(a).max()))
    for _ in range(4 * n_tasks):
        sub = g[np.ix_(support, support)]
        try:
            h_one, h_a = np.linalg.solve(
                sub, np.stack([np.ones(len(support)), a[support]], axis=1)
            ).T
            alpha, beta, gamma = h_one.sum(), h_a.sum(), a[support] @ h_a
            disc = beta * beta - alpha * (gamma - r * r)
            solvable = alpha > 0 and disc > 0
        except np.linalg.LinAlgError:
            solvable = False
        if not solvable:
            if len(support) == 1:
                return None
            del support[int(np.argmax(a[support]))]
            continue
        lam = (beta + np.sqrt(disc)) / alpha
        ratio = lam * alpha - beta  # r / s
        w_support = (lam * h_one - h_a) / ratio
        if w_support.min() < -tol:
            del support[int(np.argmin(w_support))]
            continue
        w = np.zeros(n_tasks)
        w[support] = np.clip(w_support, 0.0, None)
        w /= w.sum()
        gradient = a + r * (g @ w) / np.sqrt(max(w @ g @ w, 1e-300))  # ∂/∂w of the objective
        inside = gradient[support]
        if (
            np.abs(inside - inside.mean()).max() > 1e-6 * scale
        ):  # stationarity, against ill-conditioning
            return None
        outside = [t for t in range(n_tasks) if t not in support]
        if outside:
            slack = gradient[outside] - inside.mean()
            if slack.min() < -1e-9 * scale:
                support = sorted([*support, outside[int(np.argmin(slack))]])
                continue
        return w
    return None


def _slsqp(g: np.ndarray, a: np.ndarray, r: float) -> np.ndarray:
    """The dual's minimiser by scipy's SLSQP (the official code's solver), with the exact gradient."""
    n_tasks = len(a)
    mean = np.full(n_tasks, 1.0 / n_tasks)

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        gw = g @ w
        norm = np.sqrt(w @ gw + 1e-8)
        return float(w @ a + r * norm), a + r * gw / norm

    result = minimize(
        objective,
        mean,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_tasks,
        constraints=(
            {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)},
        ),
        options={"ftol": 1e-12, "maxiter": 200},
    )
    w = np.clip(result.x, 0.0, None)
    return w / w.sum() if w.sum() > 0 else mean
