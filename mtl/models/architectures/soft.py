"""Soft sharing: one tower per task, with an L2 penalty pulling corresponding layers together.

The penalty is ``model.soft_lambda`` × Σ over encoder layers × Σ over task pairs of
‖W_i − W_j‖² (weights and biases); heads are left free since their widths differ.

Reference: L. Duong, T. Cohn, S. Bird, P. Cook, "Low Resource Dependency Parsing: Cross-lingual Parameter Sharing in a Neural Network Parser", ACL 2015.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtl.models.plan import description, tower_labels
from mtl.models.spec import ArchitectureSpec

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig


def describe(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    """No layer is computed once for all; each task lists its tower, tied by the penalty."""
    towers = tower_labels(cfg, input_shape, heads)
    coupling = f"L2 penalty (λ = {cfg.soft_lambda:g}) between corresponding encoder layers"
    return description(SPEC.name, input_shape, heads, [], towers, coupling)


SPEC = ArchitectureSpec(
    name="soft", implementation="SoftSharing", describe=describe, settings=("soft_lambda",)
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from itertools import combinations

from torch import Tensor, nn

from mtl.models.base import TowerModel


class SoftSharing(TowerModel):
    """One tower per task; :meth:`penalty` ties the towers' encoder layers together.

    The towers' encoder parameters count as shared (the penalty couples every task's
    copy); the heads are task-specific.

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images.
        heads: task name → output width.
    """

    def __init__(
        self, cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
    ) -> None:
        super().__init__(SPEC.name, input_shape, heads)
        self.description = describe(cfg, self.input_shape, self.heads)
        self.soft_lambda = cfg.soft_lambda
        self.add_towers(cfg)

    def penalty(self) -> Tensor:
        """``soft_lambda`` × Σ over task pairs and encoder parameters of the squared difference."""
        total = super().penalty()
        for first, second in combinations(self.tower_list(), 2):
            pairs = zip(first.encoder.parameters(), second.encoder.parameters(), strict=True)
            for mine, theirs in pairs:
                total = total + (mine - theirs).pow(2).sum()
        return self.soft_lambda * total

    def shared_parameters(self) -> list[nn.Parameter]:
        """Every tower's encoder parameters (softly shared through the penalty)."""
        return [p for tower in self.tower_list() for p in tower.encoder.parameters()]

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """The head of ``task``."""
        return list(self.tower_list()[self.task_index(task)].head.parameters())
