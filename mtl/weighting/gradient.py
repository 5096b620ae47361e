"""Gradient-level strategies: per-task gradients on the shared parameters, aggregated.

A :class:`GradientStrategy` computes the Jacobian J (T, P) of the task losses with respect
to the model's shared parameters (one backward pass per task, through the shared trunk),
turns its Gramian G = J Jᵀ (T, T) into task weights w, and writes the aggregated gradient
wᵀJ into the shared parameters' ``.grad``. Task-specific parameters get the plain sum of
their own task's gradient (each head only sees its own loss), as in Sener & Koltun 2018,
Yu et al. 2020 and torchjd's ``mtl_backward``; a regularisation term (``extra``) adds its
gradient to every parameter.

Every method here is a weighting of the rows of J (torchjd's ``Weighting`` interface), so
the weights a strategy reports are exactly the coefficients of its update direction:
``shared.grad == w @ J``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

import torch
from torch import Tensor, nn
from torch.autograd.graph import GradientEdge

from mtl.data.tasks import TaskSpec
from mtl.models.base import MultiTaskModel
from mtl.weighting.base import WeightingStrategy


def task_outputs(losses: Tensor) -> list[Tensor | GradientEdge | None]:
    """Per task, what to differentiate to get that task's gradient alone (``None``: no graph).

    When ``losses`` was made by ``torch.stack`` of the task losses (as the trainer does),
    these are the stack's input edges: differentiating ``losses[t]`` instead would go back
    through the stack into every task's head (with zero gradients), T times the head work.
    """
    n_tasks = losses.shape[0]
    node = losses.grad_fn
    if (
        node is not None
        and type(node).__name__ == "StackBackward0"
        and len(node.next_functions) == n_tasks
    ):
        return [
            None if child is None else GradientEdge(child, nr) for child, nr in node.next_functions
        ]
    return [losses[t] if losses.requires_grad else None for t in range(n_tasks)]


def grad_of(
    output: Tensor | GradientEdge, inputs: Sequence[Tensor], like: Tensor
) -> tuple[Tensor, ...]:
    """``torch.autograd.grad`` of one task's scalar loss (a tensor or a stack edge), graph retained,
    zeros for the inputs it does not reach."""
    seed = (
        None if isinstance(output, Tensor) else torch.ones((), dtype=like.dtype, device=like.device)
    )
    return torch.autograd.grad(
        output,
        list(inputs),
        grad_outputs=seed,
        retain_graph=True,
        allow_unused=True,
        materialize_grads=True,
    )


def task_jacobian(
    losses: Tensor,
    params: Sequence[Tensor],
    rows: Sequence[int] | None = None,
    out: Tensor | None = None,
    task_params: Sequence[Sequence[Tensor]] | None = None,
) -> Tensor:
    """The gradient of each task loss with respect to ``params``, flattened: J (T, P).

    One ``torch.autograd.grad`` call per task (the graph is retained). Rows not in ``rows``
    are zero in a new tensor and left as they are in ``out``. Parameters a task does not
    reach get a zero gradient.

    Args:
        losses: the task losses (T,), each with a graph.
        params: the parameters (P values in total, in this order).
        rows: the tasks to differentiate (default: all).
        out: a (T, P) buffer to write into (default: a new tensor).
        task_params: per task, parameters whose gradient of that task's loss is accumulated
            into their ``.grad`` in the same backward pass (the heads); ``None`` = none.

    Returns:
        J, shape (T, P).
    """
    n_tasks = losses.shape[0]
    size = sum(p.numel() for p in params)
    if out is not None:
        jac = out
    elif rows is None or len(rows) == n_tasks:
        jac = losses.new_empty(n_tasks, size)  # every row is written below
    else:
        jac = losses.new_zeros(n_tasks, size)
    outputs = task_outputs(losses)
    for t in range(n_tasks) if rows is None else rows:
        output = outputs[t]
        if output is None:  # a loss without a graph: zero gradient
            jac[t].zero_()
            continue
        own = list(task_params[t]) if task_params is not None else []
        grads = grad_of(output, [*params, *own], losses)
        torch.cat([g.reshape(-1) for g in grads[: len(params)]], out=jac[t])  # (P,)
        for p, g in zip(own, grads[len(params) :], strict=True):
            p.grad = g if p.grad is None else p.grad + g
    return jac


def active_rows(n_tasks: int, active: Tensor | None) -> list[int]:
    """The tasks that train at this step: those set in the 0/1 mask ``active`` (T,), or all
    ``n_tasks`` when it is ``None``."""
    if active is None:
        return list(range(n_tasks))
    return [t for t, a in enumerate(active.tolist()) if a > 0]


def write_flat_grad(params: Sequence[Tensor], flat: Tensor) -> None:
    """Set each parameter's ``.grad`` to its slice of ``flat`` (P,) (accumulating if set)."""
    offset = 0
    for p in params:
        g = flat[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
        p.grad = g if p.grad is None else p.grad + g


class GradientStrategy(WeightingStrategy):
    """Base class of gradient-level strategies.

    Subclasses implement :meth:`aggregate` (weights from the Gramian, and from the Jacobian
    when the method needs it). The strategy needs the model's shared parameters, given by
    :meth:`attach`; a model without any raises ``ValueError``.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: the strategy's hyperparameters (``loss.options``).
    """

    level: ClassVar[str] = "gradient"
    name: ClassVar[str] = "gradient"

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self._shared: list[nn.Parameter] = []
        self._task_params: list[list[nn.Parameter]] = []
        self._provided: Tensor | None = None
        self._jacobian_buffer: Tensor | None = None
        self._size = 0
        self.last_gramian: Tensor | None = None
        """G = J Jᵀ of the last step's active tasks (A, A), detached."""

    def attach(self, model: nn.Module) -> None:
        """Keep the model's shared and task-specific parameters (those that train).

        Args:
            model: a :class:`~mtl.models.base.MultiTaskModel` (or any module with
                ``shared_parameters()`` and ``task_parameters(name)``).

        Raises:
            ValueError: if the model has no shared parameter that trains.
        """
        multi = cast(MultiTaskModel, model)
        self._shared = [p for p in multi.shared_parameters() if p.requires_grad]
        if not self._shared:
            kind = getattr(model, "kind", type(model).__name__)
            raise ValueError(
                f"loss.weighting {self.name!r} needs shared parameters; model.sharing {kind!r} "
                "as configured shares none; use a loss-level weighting"
            )
        self._size = sum(p.numel() for p in self._shared)
        self._task_params = [
            [p for p in multi.task_parameters(t.name) if p.requires_grad] for t in self.tasks
        ]

    def _buffer(self, losses: Tensor) -> Tensor:
        """A (T, P) buffer for the Jacobian, reused between steps (a fresh multi-megabyte
        tensor per step costs page faults); only the rows of active tasks are read."""
        shape = (losses.shape[0], self._size)
        buffer = self._jacobian_buffer
        if (
            buffer is None
            or buffer.shape != shape
            or buffer.dtype != losses.dtype
            or buffer.device != losses.device
        ):
            buffer = self._jacobian_buffer = losses.new_empty(shape)
        return buffer

    @property
    def shared_parameters(self) -> list[nn.Parameter]:
        """The parameters the task gradients are aggregated on."""
        return self._shared

    def use_jacobian(self, jacobian: Tensor) -> None:
        """Use this Jacobian (T, P) of the shared parameters for the next step instead of
        computing it again (the diagnostics hand theirs over)."""
        self._provided = jacobian

    def aggregate(self, gramian: Tensor, jacobian: Tensor) -> Tensor:
        """Task weights (A,) from the Gramian (A, A) and the Jacobian (A, P) of the active tasks."""
        raise NotImplementedError

    def backward(
        self, losses: Tensor, active: Tensor | None = None, extra: Tensor | None = None
    ) -> Tensor:
        """Aggregate the task gradients on the shared parameters; return the weights (T,).

        Args:
            losses: per-task losses (T,), each a scalar with a graph.
            active: 0/1 mask (T,) of tasks that train at this step; ``None`` = all.
            extra: a scalar added to the loss (regularisation); its gradient is added as is.
        """
        if not self._shared:
            raise RuntimeError(
                f"{type(self).__name__}.attach(model) must be called before backward"
            )
        n_tasks = losses.shape[0]
        rows = active_rows(n_tasks, active)
        weights = losses.new_zeros(n_tasks)
        if rows:
            provided, self._provided = self._provided, None
            if provided is None:
                jacobian = task_jacobian(
                    losses,
                    self._shared,
                    rows,
                    out=self._buffer(losses),
                    task_params=self._task_params,
                )
            else:
                jacobian = provided
                heads = [p for t in rows for p in self._task_params[t]]
                if heads:
                    torch.autograd.backward(losses[rows].sum(), inputs=heads, retain_graph=True)
            jac = jacobian if len(rows) == n_tasks else jacobian[rows]  # (A, P)
            gramian = jac @ jac.T  # (A, A)
            chosen = self.aggregate(gramian, jac).to(dtype=jac.dtype)  # (A,)
            write_flat_grad(self._shared, chosen @ jac)  # (P,)
            weights[rows] = chosen
            self.last_gramian = gramian.detach()
        if extra is not None and extra.requires_grad:
            extra.backward()
        return weights.detach()


__all__ = [
    "GradientStrategy",
    "active_rows",
    "grad_of",
    "task_jacobian",
    "task_outputs",
    "write_flat_grad",
]


class GramianWeightingStrategy(GradientStrategy):
    """A gradient-level strategy whose weights come from one torchjd weighting of the Gramian.

    Subclasses implement :meth:`make_weighting` (built once, from ``self.options``).
    """

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self._weighting = self.make_weighting()

    def make_weighting(self) -> Callable[[Tensor], Tensor]:
        """The torchjd weighting: Gramian (A, A) → weights (A,)."""
        raise NotImplementedError

    def aggregate(self, gramian: Tensor, jacobian: Tensor) -> Tensor:
        return self._weighting(gramian)
