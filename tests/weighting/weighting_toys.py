"""Small models and task specs for the weighting tests: losses whose gradients are known."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from mtl.data.tasks import TaskSpec
from mtl.weighting import WEIGHTINGS
from mtl.weighting.base import WeightingStrategy


def specs(n_tasks: int, kinds: Sequence[str] | None = None) -> list[TaskSpec]:
    """``n_tasks`` task specs named t0, t1, … (regression unless ``kinds`` says otherwise)."""
    kinds = list(kinds) if kinds is not None else ["regression"] * n_tasks
    return [
        TaskSpec(
            name=f"t{i}",
            kind=kind,
            targets=[f"t{i}"],
            out_dim=1,  # type: ignore[arg-type]
            loss="mse" if kind == "regression" else "auto",
            weight=1.0,
            start_epoch=0,
        )
        for i, kind in enumerate(kinds)
    ]


class LinearToy(nn.Module):
    """Shared θ (2, P/2) and one scalar head h_t per task; L_t = g_t·vec(θ) + c_t + h_t².

    ∂L_t/∂vec(θ) = g_t exactly, so the Jacobian on the shared parameters is the given
    matrix, whatever θ is; each head gets 2·h_t from its own task only.
    """

    kind = "toy"

    def __init__(self, jacobian: Tensor, offsets: Tensor | None = None) -> None:
        super().__init__()
        n_tasks, size = jacobian.shape
        if size % 2:
            raise ValueError("use an even number of columns")
        self.jacobian = jacobian
        self.offsets = offsets if offsets is not None else torch.full((n_tasks,), 10.0)
        self.theta = nn.Parameter(torch.zeros(2, size // 2))
        self.heads = nn.ParameterList(
            nn.Parameter(torch.tensor(0.5 + 0.1 * t)) for t in range(n_tasks)
        )

    def shared_parameters(self) -> list[nn.Parameter]:
        return [self.theta]

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        return [self.heads[int(task.removeprefix("t"))]]

    def losses(self) -> Tensor:
        flat = self.theta.reshape(-1)  # (P,)
        parts = [
            self.jacobian[t] @ flat + self.offsets[t] + self.heads[t] ** 2
            for t in range(len(self.heads))
        ]
        return torch.stack(parts)  # (T,)


class QuadraticToy(nn.Module):
    """Shared θ (2, 3) and per-task heads; L_t = ‖A_t vec(θ) + h_t − y_t‖² / 4 + scale_t (a smooth toy).

    Task t's data (A_t, y_t, scale_t) is drawn from ``seed`` + t, so reordering the tasks
    reorders the losses exactly.
    """

    kind = "toy"

    def __init__(self, order: Sequence[int], seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.theta = nn.Parameter(0.3 * torch.randn(2, 3))
        self.order = list(order)
        data = []
        for t in self.order:
            g = torch.Generator().manual_seed(seed + 100 + t)
            data.append((torch.randn(4, 6, generator=g), torch.randn(4, generator=g), 1.0 + t))
        self.data = data
        self.heads = nn.ParameterList(nn.Parameter(torch.full((4,), 0.1 * t)) for t in self.order)

    def shared_parameters(self) -> list[nn.Parameter]:
        return [self.theta]

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        return [self.heads[int(task.removeprefix("t"))]]

    def losses(self) -> Tensor:
        flat = self.theta.reshape(-1)
        parts = [
            scale * ((a @ flat + head - y) ** 2).mean()
            for (a, y, scale), head in zip(self.data, self.heads, strict=True)
        ]
        return torch.stack(parts)


def strategy(
    name: str,
    model: nn.Module,
    n_tasks: int,
    options: dict[str, Any] | None = None,
    kinds: Sequence[str] | None = None,
) -> WeightingStrategy:
    """The registered strategy ``name``, attached to ``model``."""
    made = WEIGHTINGS.get(name)(specs(n_tasks, kinds), options or {})
    made.attach(model)
    return made
