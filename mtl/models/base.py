"""The base class of every sharing architecture: one input batch in, one output per task out."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mtl.models.encoders import Tower, modules_as
from mtl.models.plan import check_heads


class MultiTaskModel(nn.Module):
    """A network with one output per task and a known split of shared and task parameters.

    Subclasses build their layers in ``__init__`` (and set :attr:`description` from their
    spec's ``describe``) and implement :meth:`forward`, :meth:`shared_parameters` and
    :meth:`task_parameters`. Every
    parameter is either shared or belongs to exactly one task, so gradient-level
    weighting (PCGrad, MGDA) can treat the two groups separately.

    Args:
        kind: the sharing architecture's registry name ("hard").
        input_shape: shape of one sample: ``(F,)`` for tables, ``(C, H, W)`` for images.
        heads: task name → output width (1 for a binary logit, k for k classes or outputs).

    Raises:
        ValueError: if ``heads`` is empty or an output width is below 1.
    """

    def __init__(self, kind: str, input_shape: tuple[int, ...], heads: dict[str, int]) -> None:
        super().__init__()
        check_heads(heads)
        self.kind = kind
        self.input_shape = tuple(int(size) for size in input_shape)
        self.heads: dict[str, int] = {name: int(width) for name, width in heads.items()}
        self.description: dict[str, Any] = {}
        """What :meth:`describe` returns (set by the subclass from its spec's ``describe``)."""

    @property
    def tasks(self) -> list[str]:
        """Task names in the order of ``heads``."""
        return list(self.heads)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Raw outputs (logits or values) of every task.

        Args:
            x: a batch, ``(B, *input_shape)``.

        Returns:
            Task name → ``(B, heads[task])`` tensor.
        """
        raise NotImplementedError

    def shared_parameters(self) -> list[nn.Parameter]:
        """Parameters used by more than one task (empty when nothing is shared)."""
        raise NotImplementedError

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """Parameters used by ``task`` only.

        Args:
            task: a key of ``heads``.

        Raises:
            KeyError: for an unknown task name.
        """
        raise NotImplementedError

    def penalty(self) -> Tensor:
        """Extra loss term the architecture adds to the training loss (zero by default)."""
        reference = next(self.parameters())
        return torch.zeros((), device=reference.device, dtype=reference.dtype)

    def describe(self) -> dict[str, Any]:
        """A JSON-able picture of the structure for diagrams: what the architecture's
        ``SPEC.describe`` gives for the config the model was built from."""
        return copy.deepcopy(self.description)

    def task_index(self, task: str) -> int:
        """Position of ``task`` in ``heads``; ``KeyError`` naming the known tasks otherwise."""
        if task not in self.heads:
            raise KeyError(f"unknown task {task!r}; the model has: {', '.join(self.heads)}")
        return self.tasks.index(task)


class TowerModel(MultiTaskModel):
    """A :class:`MultiTaskModel` with one :class:`~mtl.models.encoders.Tower` per task.

    Subclasses call :meth:`add_towers` in ``__init__``. By default every tower runs on the
    input and a task's parameters are its whole tower; subclasses that share a trunk, mix
    the towers or tie them override :meth:`forward` or :meth:`task_parameters`.
    """

    towers: nn.ModuleList
    """One tower per task, in the order of ``heads``."""

    def add_towers(self, cfg: Any, start: int = 0) -> None:
        """Build :attr:`towers` from the model config (``cfg``).

        Args:
            cfg: the model section of the config.
            start: leading encoder blocks left out of every tower (a trunk the subclass owns).
        """
        self.towers = nn.ModuleList(
            Tower.from_config(cfg, self.input_shape, w, start=start) for w in self.heads.values()
        )

    def tower_list(self) -> Sequence[Tower]:
        """:attr:`towers`, typed as towers."""
        return modules_as(self.towers, Tower)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """Each task's tower on the same input: task → ``(B, out_dim)``."""
        return {task: tower(x) for task, tower in zip(self.tasks, self.towers, strict=True)}

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        """The whole tower of ``task``."""
        return list(self.towers[self.task_index(task)].parameters())


MAX_TRAINING_BYTES = 4 * 2**30
"""Largest model trained: parameters, gradients and two optimizer states (16 bytes per parameter)."""
BYTES_PER_PARAMETER = 16  # float32 weight + gradient + Adam's two moments


def count_parameters(
    build: Callable[[Any, tuple[int, ...], dict[str, int]], MultiTaskModel],
    cfg: Any,
    input_shape: tuple[int, ...],
    heads: dict[str, int],
) -> int:
    """The number of parameters ``build(cfg, input_shape, heads)`` would have, counted on
    PyTorch's ``meta`` device: shapes only, no memory allocated."""
    with torch.device("meta"):
        model = build(cfg, input_shape, heads)
    return sum(p.numel() for p in model.parameters())


def check_model_size(
    build: Callable[[Any, tuple[int, ...], dict[str, int]], MultiTaskModel],
    cfg: Any,
    input_shape: tuple[int, ...],
    heads: dict[str, int],
) -> int:
    """The parameter count, after checking the model fits :data:`MAX_TRAINING_BYTES`.

    Raises:
        ValueError: one line naming ``model.hidden`` (and the other size settings) and the estimate.
    """
    n = count_parameters(build, cfg, input_shape, heads)
    need = n * BYTES_PER_PARAMETER
    if need > MAX_TRAINING_BYTES:
        raise ValueError(
            f"model.hidden {list(cfg.hidden)} (with model.head_hidden {list(cfg.head_hidden)}, "
            f"{int(np.prod(input_shape))} inputs and {len(heads)} task(s)) gives {n:.3g} parameters, about "
            f"{_bytes(need)} to train, above the {_bytes(MAX_TRAINING_BYTES)} limit; use smaller layer widths "
            "(model.hidden, model.head_hidden, model.channels, model.experts)"
        )
    return n


def _bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"
