"""Hard sharing: a shared trunk of encoder layers, then one branch and head per task.

``model.branch_depth`` is the number of encoder blocks in the shared trunk (conv blocks
first, then fully connected blocks): empty = all of them, so every head sits on the last
shared layer; 0 = no shared layer. Each task gets its own copy of the remaining blocks.

Reference: R. Caruana, "Multitask Learning", Machine Learning 28, 1997.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtl.models.plan import description, encoder_plan, tower_labels
from mtl.models.spec import ArchitectureSpec

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig


def describe(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    """The trunk's block labels as shared; each task's remaining blocks and head.

    Raises:
        ValueError: if ``model.branch_depth`` exceeds the number of encoder blocks.
    """
    blocks = encoder_plan(cfg, input_shape)
    depth = len(blocks) if cfg.branch_depth is None else cfg.branch_depth
    if depth > len(blocks):
        raise ValueError(
            f"model.branch_depth = {depth} is larger than the encoder, which has {len(blocks)} "
            f"blocks; the maximum is {len(blocks)}"
        )
    towers = tower_labels(cfg, input_shape, heads, start=depth)
    shared = [block.label for block in blocks[:depth]]
    return {**description(SPEC.name, input_shape, heads, shared, towers), "branch_depth": depth}


def unshared(cfg: ModelConfig) -> str | None:
    """``branch_depth: 0`` shares no layer."""
    return (
        "model.sharing 'hard' with model.branch_depth 0 shares none"
        if cfg.branch_depth == 0
        else None
    )


SPEC = ArchitectureSpec(
    name="hard",
    implementation="HardSharing",
    describe=describe,
    settings=("branch_depth",),
    unshared=unshared,
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from torch import Tensor, nn

from mtl.models.base import TowerModel
from mtl.models.encoders import encoder_blocks


class HardSharing(TowerModel):
    """A shared trunk (one module used by every task) followed by one tower per task.

    A task's parameters are its tower: the remaining encoder blocks and its head.

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
        super().__init__(SPEC.name, input_shape, heads)
        self.description = describe(cfg, self.input_shape, self.heads)
        blocks = encoder_blocks(cfg, input_shape)
        depth = self.branch_depth = self.description["branch_depth"]
        self.trunk = nn.Sequential(*blocks[:depth])
        self.add_towers(cfg, start=depth)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """The trunk once, then each task's tower: task → ``(B, out_dim)``."""
        shared = self.trunk(x)  # (B, *trunk_out_shape)
        return {task: tower(shared) for task, tower in zip(self.tasks, self.towers, strict=True)}

    def shared_parameters(self) -> list[nn.Parameter]:
        """The trunk's parameters (empty when ``branch_depth`` is 0)."""
        return list(self.trunk.parameters())
