"""MMoE: shared expert encoders mixed per task by a softmax gate on the input.

``model.experts`` full encoders are shared by all tasks; each task has a gate (a Linear on
the flattened input, then softmax over experts) and a head on the gate-weighted mixture
of the expert outputs.

Reference: J. Ma, Z. Zhao, X. Yi, J. Chen, L. Hong, E. H. Chi, "Modeling Task Relationships in Multi-task Learning with Multi-gate Mixture-of-Experts", KDD 2018.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mtl.models.plan import description, encoder_plan, head_plan, output_shape
from mtl.models.spec import ArchitectureSpec

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig


def describe(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    """One expert's blocks (×E) as shared; each task's gate and head."""
    blocks = encoder_plan(cfg, input_shape)
    count = cfg.experts
    expert_width = math.prod(output_shape(blocks, input_shape))
    shared = [f"{count}× {block.label}" for block in blocks]
    gate = f"Gate Linear {math.prod(input_shape)}→{count} + Softmax"
    tasks = {
        task: [gate, *(b.label for b in head_plan(cfg, (expert_width,), w))]
        for task, w in heads.items()
    }
    coupling = f"gate-weighted mixture of {count} experts per task"
    return description(SPEC.name, input_shape, heads, shared, tasks, coupling)


SPEC = ArchitectureSpec(
    name="mmoe", implementation="MMoE", describe=describe, settings=("experts",)
)

# ---- implementation (imports torch; the registry reads only what is above) ----

import torch
from torch import Tensor, nn

from mtl.models.base import MultiTaskModel
from mtl.models.encoders import encoder_blocks, head_blocks


class MMoE(MultiTaskModel):
    """Shared experts; per task a softmax gate and a head.

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
        expert_blocks = [encoder_blocks(cfg, input_shape) for _ in range(cfg.experts)]
        self.experts = nn.ModuleList(nn.Sequential(*blocks) for blocks in expert_blocks)
        self.expert_width = math.prod(output_shape(encoder_plan(cfg, input_shape), input_shape))
        input_width = math.prod(self.input_shape)
        self.gates = nn.ModuleList(nn.Linear(input_width, cfg.experts) for _ in heads)
        self.task_heads = nn.ModuleList(
            nn.Sequential(*head_blocks(cfg, (self.expert_width,), w)) for w in heads.values()
        )

    def gate_weights(self, x: Tensor) -> dict[str, Tensor]:
        """Each task's softmax weights over the experts: task → ``(B, experts)``, rows sum to 1."""
        flat = torch.flatten(x, 1)  # (B, input_width)
        return {
            task: torch.softmax(gate(flat), dim=-1)  # (B, experts)
            for task, gate in zip(self.tasks, self.gates, strict=True)
        }

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Experts once, then per task a gated mixture and its head: task → ``(B, out_dim)``."""
        expert_out = torch.stack([torch.flatten(e(x), 1) for e in self.experts], dim=1)  # (B, E, D)
        outputs = {}
        for (task, weights), head in zip(
            self.gate_weights(x).items(), self.task_heads, strict=True
        ):
            mixed = torch.einsum("be,bed->bd", weights, expert_out)  # (B, D)
            outputs[task] = head(mixed)  # (B, out_dim)
        return outputs

    def shared_parameters(self) -> list[nn.Parameter]:
        """The experts' parameters."""
        return list(self.experts.parameters())

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """The gate and the head of ``task``."""
        index = self.task_index(task)
        return [*self.gates[index].parameters(), *self.task_heads[index].parameters()]
