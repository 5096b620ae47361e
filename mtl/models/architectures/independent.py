"""Independent: one full network per task, nothing shared (the single-task baseline).

Each task gets its own encoder and head, so training them together is the same as
training one model per task. It is the baseline every sharing mode is compared with.

Reference: R. Caruana, "Multitask Learning", Machine Learning 28, 1997 (single-task nets as the contrast to MTL).
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
    """No shared layers; each task lists its full tower."""
    towers = tower_labels(cfg, input_shape, heads)
    return description(SPEC.name, input_shape, heads, [], towers)


def unshared(cfg: ModelConfig) -> str | None:
    """Nothing is ever shared."""
    return "model.sharing 'independent' shares none"


SPEC = ArchitectureSpec(
    name="independent", implementation="Independent", describe=describe, unshared=unshared
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from torch import nn

from mtl.models.base import TowerModel


class Independent(TowerModel):
    """One tower (encoder + head) per task.

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
        self.add_towers(cfg)

    def shared_parameters(self) -> list[nn.Parameter]:
        """Always empty: no parameter serves two tasks."""
        return []
