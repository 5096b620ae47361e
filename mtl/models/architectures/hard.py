"""Hard sharing: a shared trunk of encoder layers, then one branch and head per task.

``model.branch_depth`` is the number of encoder blocks in the shared trunk (conv blocks
first, then fully connected blocks): empty = all of them, so every head sits on the last
shared layer; 0 = no shared layer. Each task gets its own copy of the remaining blocks.

Reference: R. Caruana, "Multitask Learning", Machine Learning 28, 1997.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from mtl.models.base import MultiTaskModel
from mtl.models.encoders import Block, Tower, encoder_blocks, modules_as

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig

NAME = "hard"


class HardSharing(MultiTaskModel):
    """A shared trunk (one module used by every task) followed by one tower per task.

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images.
        heads: task name → output width.

    Raises:
        ValueError: if ``model.branch_depth`` exceeds the number of encoder blocks.
    """

    def __init__(
        self, cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
    ) -> None:
        super().__init__(NAME, input_shape, heads)
        blocks = encoder_blocks(cfg, input_shape)
        depth = len(blocks) if cfg.branch_depth is None else cfg.branch_depth
        if depth > len(blocks):
            raise ValueError(
                f"model.branch_depth = {depth} is larger than the encoder, which has {len(blocks)} "
                f"blocks; the maximum is {len(blocks)}"
            )
        self.branch_depth = depth
        self.trunk = nn.Sequential(*blocks[:depth])
        self.towers = nn.ModuleList(
            Tower.from_config(cfg, input_shape, w, start=depth) for w in heads.values()
        )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """The trunk once, then each task's tower: task → ``(B, out_dim)``."""
        shared = self.trunk(x)  # (B, *trunk_out_shape)
        return {task: tower(shared) for task, tower in zip(self.tasks, self.towers, strict=True)}

    def shared_parameters(self) -> list[nn.Parameter]:
        """The trunk's parameters (empty when ``branch_depth`` is 0)."""
        return list(self.trunk.parameters())

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """The remaining encoder blocks and the head of ``task``."""
        return list(self.towers[self.task_index(task)].parameters())

    def describe(self) -> dict[str, Any]:
        """The trunk's block labels as shared; each task's remaining blocks and head."""
        towers = {
            task: tower.labels()
            for task, tower in zip(self.tasks, modules_as(self.towers, Tower), strict=True)
        }
        description = self._description(
            [block.label for block in modules_as(self.trunk, Block)], towers
        )
        description["branch_depth"] = self.branch_depth
        return description


def build(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> MultiTaskModel:
    """A hard-sharing model branching after ``model.branch_depth`` encoder blocks; arguments as in :data:`mtl.models.ARCHITECTURES`."""
    return HardSharing(cfg, input_shape, heads)
