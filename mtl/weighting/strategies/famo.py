"""FAMO: task logits learned so that all task losses fall at the same relative rate, no per-task gradients.

Reference: Liu, Liu, Jin, Stone, Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023.
"""

from __future__ import annotations

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class FAMOOptions(Options):
    """Liu et al. 2023: task logits learned from the change of log losses between steps."""

    lr: float = Field(
        0.025, gt=0.0, le=10.0, description="Adam learning rate of the task logits (paper: 0.025)."
    )
    weight_decay: float = Field(
        1e-3,
        ge=0.0,
        le=1.0,
        description="Weight decay γ on the task logits (paper's Algorithm 2: 0.001).",
    )


SPEC = WeightingSpec(name="famo", implementation="FAMO", options=FAMOOptions)

# ---- implementation (imports torch; the registry reads only what is above) ----

import math
from collections.abc import Sequence
from typing import Any

import torch

from mtl.data.tasks import TaskSpec
from mtl.weighting.base import WeightingStrategy

EPS = 1e-8
"""Added to every loss before the logarithm (the paper's ε)."""


class FAMO(WeightingStrategy):
    """Loss c·Σ_t z_t·log(L_t + ε), z = softmax(ξ), c = 1/Σ_t (z_t/(L_t + ε)), as one weighted backward.

    Its gradient is Σ_t w_t ∇L_t with w_t = (z_t/(L_t + ε)) / Σ_i (z_i/(L_i + ε)): these
    are the reported weights (they sum to 1). The logits ξ take one Adam step per training
    step (learning rate ``lr``, L2 ``weight_decay``) along the softmax Jacobian applied to
    δ_t = log(L_t + ε) before − after the previous update. Here "after" is the loss at the
    next step (on the next batch), so no extra forward pass is needed; the paper recomputes
    the loss on the same batch. Stateful (the logits and Adam moments): :meth:`reset`.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`FAMOOptions` (``lr``, ``weight_decay``).
    """

    BETAS = (0.9, 0.999)
    ADAM_EPS = 1e-8

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = FAMOOptions.model_validate(self.options)
        self.reset()

    def reset(self) -> None:
        n_tasks = len(self.tasks)
        self.logits = [0.0] * n_tasks  # ξ
        self._m = [0.0] * n_tasks
        self._v = [0.0] * n_tasks
        self._steps = 0
        self._previous: list[float] | None = None  # log(L + ε) at the last step
        self._previous_active = [True] * n_tasks

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.active_weights(losses, None)

    def active_weights(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        """One FAMO step: update ξ from the previous step's losses, then this step's weights."""
        # T is small: plain floats are faster than tensor ops here (one device sync, as the trainer's).
        values = [max(v, 0.0) + EPS for v in losses.detach().tolist()]
        mask = [True] * len(values) if active is None else [a > 0 for a in active.tolist()]
        logs = [math.log(v) for v in values]
        if self._previous is not None:
            delta = [  # log-loss decrease of each task active at both steps
                before - now if on and was else 0.0
                for before, now, on, was in zip(
                    self._previous, logs, mask, self._previous_active, strict=True
                )
            ]
            self._update_logits(delta)
        self._previous, self._previous_active = logs, mask
        z = _softmax(self.logits)
        ratio = [zt / v if on else 0.0 for zt, v, on in zip(z, values, mask, strict=True)]
        total = sum(ratio)
        weights = [r / total for r in ratio] if total > 0 else ratio
        return torch.tensor(weights, dtype=losses.dtype, device=losses.device)

    def _update_logits(self, delta: list[float]) -> None:
        """One Adam step on ξ with gradient J_softmax(ξ)ᵀ δ (+ L2 weight decay, as torch's Adam)."""
        z = _softmax(self.logits)
        mean = sum(zt * d for zt, d in zip(z, delta, strict=True))
        decay = self.config.weight_decay
        grad = [
            zt * (d - mean) + decay * xi for zt, d, xi in zip(z, delta, self.logits, strict=True)
        ]
        beta1, beta2 = self.BETAS
        self._steps += 1
        correction1, correction2 = 1 - beta1**self._steps, 1 - beta2**self._steps
        self._m = [beta1 * m + (1 - beta1) * g for m, g in zip(self._m, grad, strict=True)]
        self._v = [beta2 * v + (1 - beta2) * g * g for v, g in zip(self._v, grad, strict=True)]
        self.logits = [
            xi - self.config.lr * (m / correction1) / (math.sqrt(v / correction2) + self.ADAM_EPS)
            for xi, m, v in zip(self.logits, self._m, self._v, strict=True)
        ]


def _softmax(x: list[float]) -> list[float]:
    top = max(x)
    e = [math.exp(v - top) for v in x]
    total = sum(e)
    return [v / total for v in e]
