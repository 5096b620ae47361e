"""Random Loss Weighting: fresh random weights (softmax of a random draw) at every step.

Reference: Lin, Ye, Xu, Shi, Zhang, "Reasonable Effectiveness of Random Weighting: A Litmus Test for Multi-Task Learning", TMLR 2022.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class RLWOptions(Options):
    """Lin et al. 2022: random weights, softmax of a fresh random draw at every step."""

    distribution: Literal["normal", "uniform"] = Field(
        "normal",
        description="Distribution of the logits before the softmax (paper's default: standard normal).",
    )


SPEC = WeightingSpec(name="rlw", implementation="RLW", options=RLWOptions)

# ---- implementation (imports torch; the registry reads only what is above) ----

from collections.abc import Sequence
from typing import Any

import torch

from mtl.data.tasks import TaskSpec
from mtl.weighting.base import WeightingStrategy


class RLW(WeightingStrategy):
    """w = softmax(λ̃), λ̃ ~ N(0, I) (or U(0, 1)) drawn anew at each step; the weights sum to 1.

    The draw uses torch's global generator, which the trainer seeds with ``train.seed``,
    so a run is reproducible.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`RLWOptions` (``distribution``).
    """

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = RLWOptions.model_validate(self.options)

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        n_tasks = losses.shape[0]
        draw = (
            torch.randn(n_tasks) if self.config.distribution == "normal" else torch.rand(n_tasks)
        )  # (T,)
        return torch.softmax(draw, dim=0).to(device=losses.device, dtype=losses.dtype)
