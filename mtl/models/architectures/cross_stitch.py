"""Cross-stitch: one tower per task, mixed after every encoder block by learnable weights.

After block ℓ each task's activation becomes x'_t = Σ_s α_ℓ[t, s] x_s, with a learnable
T×T matrix α_ℓ per block initialised to 0.9 on the diagonal and 0.1/(T−1) elsewhere.

Reference: I. Misra, A. Shrivastava, A. Gupta, M. Hebert, "Cross-stitch Networks for Multi-task Learning", CVPR 2016.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mtl.models.plan import description, encoder_depth, tower_labels
from mtl.models.spec import ArchitectureSpec

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig


def describe(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    """Each task lists its tower; the cross-stitch units are the shared part."""
    towers = tower_labels(cfg, input_shape, heads)
    size = len(heads)
    shared = [
        f"Cross-stitch {size}×{size} after block {i + 1}"
        for i in range(encoder_depth(cfg, input_shape))
    ]
    coupling = "task activations mixed after every encoder block"
    return description(SPEC.name, input_shape, heads, shared, towers, coupling)


SPEC = ArchitectureSpec(name="cross-stitch", implementation="CrossStitch", describe=describe)

# ---- implementation (imports torch; the registry reads only what is above) ----

import torch
from torch import Tensor, nn

from mtl.models.base import TowerModel


class CrossStitch(TowerModel):
    """Task towers whose activations are linearly mixed by a cross-stitch unit after each block.

    The towers are task-specific; the cross-stitch matrices ``alphas`` are shared.

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
        depth = len(self.tower_list()[0].encoder)
        self.alphas = nn.ParameterList(
            nn.Parameter(initial_alpha(len(heads))) for _ in range(depth)
        )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Run the towers block by block, mixing after each block: task → ``(B, out_dim)``."""
        towers = self.tower_list()
        hidden = [x] * len(towers)
        for index, alpha in enumerate(self.alphas):
            hidden = [tower.encoder[index](h) for tower, h in zip(towers, hidden, strict=True)]
            hidden = cross_stitch(alpha, hidden)
        outputs = [tower.head(h) for tower, h in zip(towers, hidden, strict=True)]
        return dict(zip(self.tasks, outputs, strict=True))

    def shared_parameters(self) -> list[nn.Parameter]:
        """The cross-stitch matrices (empty when the encoder has no blocks)."""
        return list(self.alphas)


def initial_alpha(tasks: int) -> Tensor:
    """The T×T starting mix: 0.9 on the diagonal, 0.1/(T−1) elsewhere; ``[[1]]`` for one task."""
    if tasks == 1:
        return torch.ones(1, 1)
    alpha = torch.full((tasks, tasks), 0.1 / (tasks - 1))
    alpha.fill_diagonal_(0.9)
    return alpha


def cross_stitch(alpha: Tensor, hidden: list[Tensor]) -> list[Tensor]:
    """Mix task activations: ``out[t] = Σ_s alpha[t, s] · hidden[s]``.

    Args:
        alpha: ``(T, T)`` mixing weights.
        hidden: T activations of one shape, ``(B, ...)``.

    Returns:
        T mixed activations of the same shape.
    """
    stacked = torch.stack(hidden)  # (T, B, ...)
    mixed = torch.einsum("ts,s...->t...", alpha, stacked)  # (T, B, ...)
    return list(mixed.unbind(0))
