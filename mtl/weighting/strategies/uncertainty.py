"""Uncertainty weighting: each task's loss scaled by a learned homoscedastic noise, 1/σ².

Reference: Kendall, Gal, Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and Semantics", CVPR 2018.
"""

from __future__ import annotations

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class UncertaintyOptions(Options):
    """Kendall et al. 2018: one learnable log-variance s_t = log σ_t² per task."""

    init_log_var: float = Field(
        0.0,
        ge=-10.0,
        le=10.0,
        description="Initial log σ² of every task (0: weight 1 for classification, ½ for regression).",
    )


SPEC = WeightingSpec(
    name="uncertainty", implementation="UncertaintyWeighting", options=UncertaintyOptions
)

# ---- implementation (imports torch; the registry reads only what is above) ----

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from mtl.data.tasks import TaskSpec
from mtl.weighting.base import WeightingStrategy, minimise


class UncertaintyWeighting(WeightingStrategy):
    """Loss Σ_t c_t·exp(−s_t)·L_t + ½·s_t with a learnable s_t = log σ_t² per task.

    As in the paper, c_t = ½ for a regression task (Gaussian likelihood) and 1 for a
    classification task (softmax likelihood); ½·s_t = log σ_t keeps σ from growing without
    bound. The log-variances are optimised with the model (:meth:`parameters`). The
    reported weight is c_t·exp(−s_t); at the optimum σ_t² equals the task's loss (for MSE,
    its noise variance). Stateful (the learned s_t): :meth:`reset` re-initialises them.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`UncertaintyOptions` (``init_log_var``).
    """

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = UncertaintyOptions.model_validate(self.options)
        self.log_var = nn.Parameter(torch.full((len(self.tasks),), float(self.config.init_log_var)))
        self._log_scale = torch.tensor(
            [math.log(0.5 if t.kind == "regression" else 1.0) for t in self.tasks]
        )  # (T,)

    def parameters(self) -> list[nn.Parameter]:
        return [self.log_var]

    def attach(self, model: nn.Module) -> None:
        device = next(model.parameters()).device
        if self.log_var.device != device:  # before the trainer builds its optimizer
            self.log_var = nn.Parameter(self.log_var.detach().to(device))
            self._log_scale = self._log_scale.to(device)

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        """c_t·exp(−s_t), shape (T,), with a graph to the log-variances."""
        return torch.exp(self._log_scale - self.log_var)

    def backward(
        self,
        losses: torch.Tensor,
        active: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        weights = self.weights(losses)  # (T,)
        log_var: torch.Tensor = self.log_var
        if active is not None:
            weights = weights * active
            log_var = log_var * active
        total = torch.add(
            torch.dot(weights, losses), log_var.sum(), alpha=0.5
        )  # Σ w_t·L_t + log σ_t
        minimise(total, extra)
        return weights.detach()

    def reset(self) -> None:
        with torch.no_grad():
            self.log_var.fill_(float(self.config.init_log_var))
