"""GradNorm: learned weights that equalise the tasks' gradient norms on the last shared layer, paced by training rate.

Reference: Chen, Badrinarayanan, Lee, Rabinovich, "GradNorm: Gradient Normalization for Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018.
"""

from __future__ import annotations

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class GradNormOptions(Options):
    """Chen et al. 2018: learnable weights that equalise gradient norms on the last shared layer."""

    alpha: float = Field(
        1.5,
        ge=0.0,
        le=10.0,
        description="Restoring force α pulling tasks back to a common training rate (paper: 1.5; 0 = equal norms).",
    )


SPEC = WeightingSpec(name="gradnorm", implementation="GradNorm", options=GradNormOptions)

# ---- implementation (imports torch; the registry reads only what is above) ----

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import nn

from mtl.data.tasks import TaskSpec
from mtl.models.base import MultiTaskModel
from mtl.weighting.base import WeightingStrategy
from mtl.weighting.gradient import task_jacobian

MIN_WEIGHT = 1e-3
"""Weights are kept at least this large (before renormalising to sum T)."""


class GradNorm(WeightingStrategy):
    """Weights w_t (summing to T) learned with the model to minimise L_grad, then one weighted backward.

    At each step, with W the last shared layer's weights:

    1. G_t = ‖∇_W w_t·L_t‖ = w_t·‖∇_W L_t‖ for every active task (one small backward per
       task, from its loss down to W only; with data-parallel ranks, each rank's part of
       ∇_W L_t is summed over the ranks first, :attr:`sum_across`, so the norms are those
       of the global losses);
    2. r_t = L̃_t / mean(L̃), L̃_t = L_t / L_t(0), the inverse training rate (L_t(0): the
       task's loss at its first training step);
    3. L_grad = Σ_t |G_t − Ḡ·r_t^α| with the target Ḡ·r_t^α held constant, so
       ∂L_grad/∂w_t = sign(G_t − Ḡ·r_t^α)·‖∇_W L_t‖: written to the weights' ``.grad`` and
       stepped by the trainer's optimizer (:meth:`parameters`);
    4. the network is trained on Σ_t w_t·L_t (weights held constant);
    5. the weights are renormalised to sum to T before the next step.

    "The last shared layer" is found in the autograd graph on the first step: the shared
    weight matrices (conv or linear kernels) nearest to the losses, e.g. the trunk's last
    Linear for hard sharing, the last layer of every expert for MMoE, the last layer of
    every tower for soft sharing. Without shared parameters (``independent``) each task's
    nearest weight matrix is used instead (its head's last layer), so GradNorm still
    balances the tasks. Stateful (weights, L(0)): :meth:`reset`.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`GradNormOptions` (``alpha``).
    """

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = GradNormOptions.model_validate(self.options)
        self.task_weights = nn.Parameter(torch.ones(len(self.tasks)))
        self.initial_losses: list[float] | None = None  # L(0), NaN until a task first trains
        self._shared: list[nn.Parameter] = []
        self._layer: list[torch.Tensor] | None = None
        self.sum_across: Callable[[torch.Tensor], torch.Tensor] | None = None
        """Data-parallel training sets it: sums a (k, |W|) tensor of per-task gradients over
        the ranks (each holds its share of the global losses' gradients), in place; ``None``
        in one process."""

    def attach(self, model: nn.Module) -> None:
        self._shared = [
            p for p in cast(MultiTaskModel, model).shared_parameters() if p.requires_grad
        ]
        device = next(model.parameters()).device
        if self.task_weights.device != device:  # before the trainer builds its optimizer
            self.task_weights = nn.Parameter(self.task_weights.detach().to(device))

    def parameters(self) -> list[nn.Parameter]:
        return [self.task_weights]

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return self.task_weights.detach()

    def active_weights(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        """Steps 5 and 1–3 above (writes the weights' ``.grad``); returns the weights of step 4."""
        # T is small: the bookkeeping is on plain floats (one sync, as the trainer's own).
        n_tasks = losses.shape[0]
        weights = [max(w, MIN_WEIGHT) for w in self.task_weights.detach().tolist()]
        weights = [w * n_tasks / sum(weights) for w in weights]  # step 5 of the previous step
        mask = [True] * n_tasks if active is None else [a > 0 for a in active.tolist()]
        current = losses.detach().tolist()
        if self.initial_losses is None:
            self.initial_losses = [math.nan] * n_tasks
        self.initial_losses = [
            now if on and math.isnan(first) else first
            for now, on, first in zip(current, mask, self.initial_losses, strict=True)
        ]
        rows = [t for t in range(n_tasks) if mask[t]]
        if self._layer is None:
            self._layer = last_shared_layer(losses, self._shared)
        norms = [0.0] * n_tasks
        if rows and self._layer:  # ‖∇_W L_t‖, step 1
            grads = task_jacobian(losses, self._layer, rows)  # (T, |W|), zero where inactive
            if self.sum_across is not None:  # the global losses' gradients: sum the ranks' parts
                grads[rows] = self.sum_across(grads[rows])
            norms = grads.pow(2).sum(dim=1).sqrt().tolist()
        grad = [0.0] * n_tasks
        if rows:
            g_norm = [weights[t] * norms[t] for t in range(n_tasks)]  # G_t
            mean_norm = sum(g_norm[t] for t in rows) / len(rows)
            ratio = [current[t] / max(self.initial_losses[t], 1e-12) for t in range(n_tasks)]  # L̃_t
            mean_ratio = sum(ratio[t] for t in rows) / len(rows)
            for t in rows:  # ∂L_grad/∂w_t = sign(G_t − Ḡ·r_t^α)·‖∇_W L_t‖, step 3
                target = mean_norm * (ratio[t] / mean_ratio) ** self.config.alpha
                grad[t] = (
                    math.copysign(norms[t], g_norm[t] - target) if g_norm[t] != target else 0.0
                )
        with torch.no_grad():
            self.task_weights.copy_(torch.tensor(weights))
        self.task_weights.grad = torch.tensor(
            grad, dtype=self.task_weights.dtype, device=self.task_weights.device
        )
        return torch.tensor(  # step 4 trains on these
            [w if on else 0.0 for w, on in zip(weights, mask, strict=True)],
            dtype=losses.dtype,
            device=losses.device,
        )

    def reset(self) -> None:
        with torch.no_grad():
            self.task_weights.fill_(1.0)
        self.initial_losses = None
        self._layer = None


def last_shared_layer(losses: torch.Tensor, shared: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """The weight matrices (≥ 2-D) nearest to each task loss in the autograd graph.

    For each task, searches breadth-first from its loss and keeps the parameters of
    ``shared`` with two or more dimensions found at the first depth where there is one
    (for hard sharing: the trunk's last Linear weight; for soft sharing: each tower's last
    encoder layer). When ``shared`` is empty, or none of it reaches a loss, the nearest
    weight matrices of any kind count for that task.

    Args:
        losses: the loss vector (T,) with its graph (``torch.stack`` of the task losses).
        shared: the model's shared parameters.

    Returns:
        The parameters, without duplicates; ``[]`` only if no weight matrix reaches the losses.
    """
    root = losses.grad_fn
    if root is None:
        return []
    children = [child for child, _ in root.next_functions]
    roots = (
        children if len(children) == losses.shape[0] and "Stack" in type(root).__name__ else [root]
    )
    wanted = {id(p) for p in shared if p.dim() >= 2}
    layer: dict[int, torch.Tensor] = {}
    for start in roots:
        found = _nearest_weights(start, wanted) if wanted else []
        for p in found or _nearest_weights(start, None):
            layer[id(p)] = p
    return list(layer.values())


def _nearest_weights(start: Any, wanted: set[int] | None) -> list[torch.Tensor]:
    """Breadth-first from ``start``: the ≥ 2-D leaves (in ``wanted`` if given) at the first depth with any."""
    if start is None:
        return []
    variable = getattr(start, "variable", None)
    if variable is not None:
        return (
            [variable] if variable.dim() >= 2 and (wanted is None or id(variable) in wanted) else []
        )
    frontier, seen = [start], {id(start)}
    while frontier:
        found: list[torch.Tensor] = []
        following = []
        for node in frontier:
            for child, _ in node.next_functions:
                if child is None or id(child) in seen:
                    continue
                seen.add(id(child))
                variable = getattr(child, "variable", None)
                if variable is None:
                    following.append(child)
                elif variable.dim() >= 2 and (wanted is None or id(variable) in wanted):
                    found.append(variable)
        if found:
            return found
        frontier = following
    return []
