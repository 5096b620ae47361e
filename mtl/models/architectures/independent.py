"""Independent: one full network per task, nothing shared (the single-task baseline).

Each task gets its own encoder and head, so training them together is the same as
training one model per task. It is the baseline every sharing mode is compared with.

Reference: R. Caruana, "Multitask Learning", Machine Learning 28, 1997 (single-task nets as the contrast to MTL).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from mtl.models.base import MultiTaskModel
from mtl.models.encoders import Tower, modules_as

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig

NAME = "independent"


class Independent(MultiTaskModel):
    """One tower (encoder + head) per task.

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images.
        heads: task name → output width.
    """

    def __init__(
        self, cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
    ) -> None:
        super().__init__(NAME, input_shape, heads)
        self.towers = nn.ModuleList(Tower.from_config(cfg, input_shape, w) for w in heads.values())

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Each task's tower on the same input: task → ``(B, out_dim)``."""
        return {task: tower(x) for task, tower in zip(self.tasks, self.towers, strict=True)}

    def shared_parameters(self) -> list[nn.Parameter]:
        """Always empty: no parameter serves two tasks."""
        return []

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """The whole tower of ``task``."""
        return list(self.towers[self.task_index(task)].parameters())

    def describe(self) -> dict[str, Any]:
        """No shared layers; each task lists its full tower."""
        towers = {
            task: tower.labels()
            for task, tower in zip(self.tasks, modules_as(self.towers, Tower), strict=True)
        }
        return self._description([], towers)


def build(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> MultiTaskModel:
    """One independent network per task; arguments as in :data:`mtl.models.ARCHITECTURES`."""
    return Independent(cfg, input_shape, heads)
