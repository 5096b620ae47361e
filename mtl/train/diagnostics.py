"""Task-conflict diagnostics: gradient norms, gradient cosines and inter-task affinity.

Opt-in per run (``train.diagnostics_every``, ``train.affinity``). Every N steps, before
the weighted backward, :class:`Diagnostics` computes each task's gradient on the shared
parameters, J (T, P), and reports, as metric rows of split ``diag``:

- ``grad_norm`` per task: ‖g_t‖ on the shared parameters;
- ``cosine`` per task pair ``a|b`` (a before b in task order): g_a·g_b / (‖g_a‖‖g_b‖),
  negative = the tasks pull the shared layers in conflicting directions;
- with ``train.affinity``, ``affinity`` per ordered pair ``i|j`` (i = the task stepped on,
  j = the task measured; i = j included): the lookahead affinity of Fifty et al. 2021,
  Z(i→j) = 1 − L_j(θ_s − lr·g_i) / L_j(θ_s), on the same batch, in eval mode (no dropout,
  batch-norm running statistics), with the current learning rate; and ``affinity_mean``,
  its running mean over the run so far (the last row is the average over training).

An undefined value (a task with a zero gradient or a zero loss in the batch) is a row
with value ``None`` and a reason, like undefined metrics. The rows travel in a
:class:`DiagnosticsEnd` event through the callbacks' ``on_diagnostics`` hook.

Measuring does not change training: it uses no random numbers and does not touch the
parameters or their gradients. A gradient-level strategy reuses the Jacobian, so for it
the diagnostics cost only the cosines (and the affinity's forward passes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from mtl.data.tasks import TaskSpec
from mtl.models.base import MultiTaskModel
from mtl.train.callbacks import MetricRow
from mtl.weighting.base import WeightingStrategy
from mtl.weighting.gradient import GradientStrategy, task_jacobian

SPLIT = "diag"
"""Split name of every diagnostics row."""

PAIR = "|"
"""Separator of the two task names in a pair row's task column: ``"a|b"``."""

ZERO_GRADIENT = (
    "zero gradient on the shared parameters (no labelled rows in the batch or a constant loss)"
)
ZERO_LOSS = "zero loss on this batch"


@dataclass(frozen=True)
class DiagnosticsEnd:
    """Every ``train.diagnostics_every`` steps: the diagnostics rows of that step."""

    step: int
    epoch: int
    wall_time: float
    rows: list[MetricRow]


def pair_name(first: str, second: str) -> str:
    """The task column of a pair row: ``"first|second"``."""
    return f"{first}{PAIR}{second}"


class Diagnostics:
    """Measures task conflict on the shared parameters of ``model`` every ``every`` steps.

    Args:
        model: the multi-task model (its ``shared_parameters()`` are measured).
        tasks: the tasks, in the order of the loss vector.
        every: measure on steps ``every``, ``2·every``, …
        affinity: also measure the lookahead affinity (T + 1 forward passes each time).
        strategy: the weighting strategy; a gradient-level one is handed the Jacobian.

    Raises:
        ValueError: if the model has no shared parameters.
    """

    def __init__(
        self,
        model: nn.Module,
        tasks: Sequence[TaskSpec],
        every: int,
        affinity: bool = False,
        strategy: WeightingStrategy | None = None,
    ) -> None:
        self.model = model
        self.tasks = list(tasks)
        self.every = every
        self.affinity = affinity
        self.strategy = strategy
        names = {id(p): name for name, p in model.named_parameters()}
        self.shared = [
            p for p in cast(MultiTaskModel, model).shared_parameters() if p.requires_grad
        ]
        if not self.shared:
            raise ValueError(
                "train.diagnostics_every measures task gradients on the shared parameters, "
                "but this model shares none; leave it unset"
            )
        self._names = [names[id(p)] for p in self.shared]
        self.sum_across: Callable[[Tensor], Tensor] | None = None
        """Data-parallel training sets it: sums the Jacobian (T, P) over the ranks (each
        holds its share of the global losses' gradients), in place; ``None`` in one process."""
        n_tasks = len(self.tasks)
        self._affinity_sum = [[0.0] * n_tasks for _ in range(n_tasks)]
        self._affinity_count = [[0] * n_tasks for _ in range(n_tasks)]

    def due(self, step: int) -> bool:
        """Whether step number ``step`` (counted from 1) is measured."""
        return step % self.every == 0

    def measure(
        self,
        losses: Tensor,
        x: Tensor,
        losses_of: Callable[[dict[str, Tensor]], Tensor],
        lr: float,
        step: int,
        epoch: int,
        wall_time: float,
    ) -> DiagnosticsEnd:
        """Measure at the current parameters; call before the step's backward.

        Args:
            losses: the step's task losses (T,) with their graph (kept for the backward).
            x: the step's input batch (for the affinity's forward passes).
            losses_of: the task losses (T,) of the model's outputs on ``x`` (task → (B, k)).
            lr: the current learning rate (the affinity's lookahead step size).
            step, epoch, wall_time: stamped on every row.

        Returns:
            The event with the rows.
        """
        jacobian = task_jacobian(losses, self.shared)  # (T, P)
        if self.sum_across is not None:
            jacobian = self.sum_across(jacobian)
        if isinstance(self.strategy, GradientStrategy):
            self.strategy.use_jacobian(jacobian)
        gramian = (jacobian @ jacobian.T).tolist()  # (T, T)
        names = [t.name for t in self.tasks]
        rows: list[MetricRow] = []
        norms = [math.sqrt(max(gramian[t][t], 0.0)) for t in range(len(names))]
        for name, norm in zip(names, norms, strict=True):
            rows.append((step, epoch, wall_time, name, SPLIT, "grad_norm", _finite(norm), None))
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                if norms[a] > 0 and norms[b] > 0:
                    value, reason = _finite(gramian[a][b] / (norms[a] * norms[b])), None
                else:
                    value, reason = None, ZERO_GRADIENT
                rows.append(
                    (
                        step,
                        epoch,
                        wall_time,
                        pair_name(names[a], names[b]),
                        SPLIT,
                        "cosine",
                        value,
                        reason,
                    )
                )
        if self.affinity:
            rows += self._affinity_rows(jacobian, norms, x, losses_of, lr, (step, epoch, wall_time))
        return DiagnosticsEnd(step=step, epoch=epoch, wall_time=wall_time, rows=rows)

    @torch.no_grad()
    def _affinity_rows(
        self,
        jacobian: Tensor,
        norms: list[float],
        x: Tensor,
        losses_of: Callable[[dict[str, Tensor]], Tensor],
        lr: float,
        stamp: tuple[int, int, float],
    ) -> list[MetricRow]:
        names = [t.name for t in self.tasks]
        training = self.model.training
        self.model.eval()
        try:
            before = self._losses(x, losses_of, {}).tolist()  # (T,)
            rows: list[MetricRow] = []
            for i, source in enumerate(names):
                after = None
                if norms[i] > 0:
                    params = self._stepped(jacobian[i], lr)
                    after = self._losses(x, losses_of, params).tolist()  # (T,)
                for j, target in enumerate(names):
                    if after is None:
                        value, reason = None, ZERO_GRADIENT
                    elif not before[j] > 0:
                        value, reason = None, ZERO_LOSS
                    else:
                        value, reason = _finite(1.0 - after[j] / before[j]), None
                    if value is not None:
                        self._affinity_sum[i][j] += value
                        self._affinity_count[i][j] += 1
                    count = self._affinity_count[i][j]
                    mean = self._affinity_sum[i][j] / count if count else None
                    pair = pair_name(source, target)
                    rows.append((*stamp, pair, SPLIT, "affinity", value, reason))
                    rows.append(
                        (*stamp, pair, SPLIT, "affinity_mean", mean, None if count else reason)
                    )
            return rows
        finally:
            self.model.train(training)

    def _stepped(self, gradient: Tensor, lr: float) -> dict[str, Tensor]:
        """The shared parameters after one SGD step of size ``lr`` along ``gradient`` (P,)."""
        params, offset = {}, 0
        for name, p in zip(self._names, self.shared, strict=True):
            params[name] = p - lr * gradient[offset : offset + p.numel()].view_as(p)
            offset += p.numel()
        return params

    def _losses(
        self, x: Tensor, losses_of: Callable[[dict[str, Tensor]], Tensor], params: dict[str, Tensor]
    ) -> Tensor:
        outputs = torch.func.functional_call(self.model, params, (x,), strict=False)
        return losses_of(outputs)

    def affinity_matrix(self) -> list[list[float | None]]:
        """The mean affinity Z(i→j) so far, rows = the task stepped on (``None`` = never measured)."""
        return [
            [s / c if c else None for s, c in zip(sums, counts, strict=True)]
            for sums, counts in zip(self._affinity_sum, self._affinity_count, strict=True)
        ]


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


__all__ = ["PAIR", "SPLIT", "Diagnostics", "DiagnosticsEnd", "pair_name"]
