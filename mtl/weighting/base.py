"""The interface every loss-weighting strategy implements.

A strategy turns the per-task losses of one step into one backward pass and reports the
effective weight it gave each task. Loss-level strategies only override
:meth:`WeightingStrategy.weights` (or :meth:`WeightingStrategy.backward` when they add a
term of their own, like uncertainty weighting): one weighted backward, no per-task
gradients. Gradient-level strategies derive from
:class:`mtl.weighting.gradient.GradientStrategy`, which computes the per-task gradients on
the shared parameters and aggregates them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch

from mtl.data.tasks import TaskSpec


class WeightingStrategy:
    """Base class: combine task losses as Σ_t w_t · L_t and backpropagate once.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: the strategy's hyperparameters (``loss.options``), validated against
            the options model in the strategy's ``SPEC`` by the subclasses that have any.
    """

    level: ClassVar[str] = "loss"
    """``"loss"`` (one weighted backward) or ``"gradient"`` (per-task gradients aggregated)."""

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        self.tasks = list(tasks)
        self.options = dict(options or {})

    def attach(self, model: torch.nn.Module) -> None:
        """Called once by the trainer with the model (gradient-level strategies keep its
        shared parameters; loss-level ones need nothing)."""

    def parameters(self) -> list[torch.nn.Parameter]:
        """Learnable parameters of the strategy itself (optimised with the model)."""
        return []

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        """Task weights for this step, shape (T,), given the task losses, shape (T,)."""
        raise NotImplementedError

    def backward(
        self,
        losses: torch.Tensor,
        active: torch.Tensor | None = None,
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Backpropagate the combined loss; return the effective weights (T,), detached.

        Args:
            losses: per-task losses (T,), each a scalar with a graph.
            active: 0/1 mask (T,) of tasks that train at this step (task scheduling and
                tasks without labels in the batch); ``None`` when all of them do.
            extra: an additional scalar added to the loss (regularisation penalties).
        """
        weights = self.active_weights(losses, active)  # (T,)
        if weights.requires_grad:  # learnable weights: differentiate through the sum
            minimise(torch.dot(weights, losses), extra)
        else:  # constant weights are the gradient of Σ_t w_t · L_t: no sum node to build
            minimise_weighted(losses, weights, extra)
        return weights.detach()

    def active_weights(self, losses: torch.Tensor, active: torch.Tensor | None) -> torch.Tensor:
        """This step's weights (T,) with the tasks that do not train at zero.

        :meth:`backward` calls it once per training step. Strategies whose weights depend on
        which tasks train, or that update state at each step, override this instead of
        :meth:`backward`.

        Args:
            losses: per-task losses (T,).
            active: 0/1 mask (T,) of the tasks that train; ``None`` when all of them do.
        """
        weights = self.weights(losses)  # (T,)
        return weights if active is None else weights * active

    def epoch_end(self, epoch: int, train_losses: dict[str, float]) -> None:
        """Called after each epoch with the mean training loss per task (stateful methods)."""

    def reset(self) -> None:
        """Forget any state (stateful methods override it)."""


def minimise(total: torch.Tensor, extra: torch.Tensor | None = None) -> None:
    """Backpropagate the scalar ``total``, plus ``extra`` (regularisation penalties) when given."""
    if extra is not None:
        total = total + extra
    total.backward()


def minimise_weighted(
    losses: torch.Tensor, weights: torch.Tensor, extra: torch.Tensor | None = None
) -> None:
    """Backpropagate Σ_t w_t · L_t (+ ``extra``) for constant weights (T,).

    The same gradients as ``minimise(torch.dot(weights, losses), extra)``, without
    building and differentiating the dot product: ``weights`` is passed as the gradient
    of the loss vector (one backward call).
    """
    if extra is None or not extra.requires_grad:  # a constant adds no gradient
        torch.autograd.backward(losses, grad_tensors=weights)
    else:
        torch.autograd.backward((losses, extra), grad_tensors=(weights, torch.ones_like(extra)))
