"""Transfer learning: copy a finished run's layers into a new model, then freeze or slow them.

:func:`transfer_weights` copies the source model's shared encoder (``model.init_layers:
encoder``) or all matching layers (``all``: the encoder plus the heads of tasks with the same
name) into the new model, checking every shape first: a mismatch is one line naming the layer
and both shapes (:class:`~mtl.errors.ConfigError`), and nothing is copied. :class:`Freezer`
keeps the copied parameters fixed for ``model.freeze_epochs`` epochs (or for good), and
:func:`param_groups` gives them their own learning-rate factor (``model.init_lr_factor``).

The source checkpoint is read with ``weights_only=True`` (:func:`mtl.train.checkpoint.load_checkpoint`);
the path comes from the run store (:mod:`mtl.runs.lineage`), never from the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.errors import ConfigError
from mtl.models.base import MultiTaskModel
from mtl.train.checkpoint import load_checkpoint

__all__ = ["Freezer", "param_groups", "transfer_weights"]


def _names(model: nn.Module, params: Iterable[nn.Parameter]) -> list[str]:
    """The state-dict names of ``params`` in ``model``, in the order given."""
    by_id = {id(p): name for name, p in model.named_parameters()}
    return [by_id[id(p)] for p in params]


def _pairs(
    source: MultiTaskModel, target: MultiTaskModel, layers: str, source_id: str
) -> list[tuple[str, str, str]]:
    """(what, source name, target name) of each parameter to copy."""
    src_shared = _names(source, source.shared_parameters())
    dst_shared = _names(target, target.shared_parameters())
    if not dst_shared:
        raise ConfigError(
            f"model.init_from: this model ({target.kind}) shares no encoder to copy into; "
            "use a sharing that shares layers or model.init_layers: all"
            if layers == "encoder"
            else f"model.init_from: this model ({target.kind}) has no shared encoder"
        )
    if len(src_shared) != len(dst_shared):
        raise ConfigError(
            f"model.init_from: run {source_id}'s shared encoder has {len(src_shared)} parameter "
            f"tensors, this model's has {len(dst_shared)} (sharing {source.kind} vs "
            f"{target.kind}); use the same model.sharing, hidden and branch_depth"
        )
    pairs = [("encoder", s, d) for s, d in zip(src_shared, dst_shared, strict=True)]
    if layers == "all":
        common = [task for task in target.tasks if task in source.heads]
        if not common:
            raise ConfigError(
                f"model.init_from: run {source_id} has tasks {', '.join(source.tasks)}; none "
                f"matches this run's ({', '.join(target.tasks)}); use model.init_layers: encoder"
            )
        for task in common:
            src = _names(source, source.task_parameters(task))
            dst = _names(target, target.task_parameters(task))
            if len(src) != len(dst):
                raise ConfigError(
                    f"model.init_from: task {task!r} has {len(src)} head parameter tensors in run "
                    f"{source_id} and {len(dst)} here; use the same model.head_hidden"
                )
            pairs += [(f"task {task!r}", s, d) for s, d in zip(src, dst, strict=True)]
    return pairs


def transfer_weights(
    model: MultiTaskModel, checkpoint: Path, cfg: ModelConfig, source_id: str
) -> list[nn.Parameter]:
    """Copy the source run's layers into ``model``; return the parameters that were copied.

    Args:
        model: the new model (its own initialisation is overwritten where copied).
        checkpoint: the source run's ``checkpoint.pt`` (resolved by the run store).
        cfg: the new run's model config (``init_layers``).
        source_id: the source run's id, for the messages.

    Raises:
        ConfigError: one line naming the layer (or task) that does not match.
        CheckpointError: the source checkpoint cannot be read.
    """
    source = load_checkpoint(checkpoint).model
    pairs = _pairs(source, model, cfg.init_layers, source_id)
    src_state = dict(source.named_parameters())
    dst_state = dict(model.named_parameters())
    for what, s, d in pairs:
        have, want = tuple(src_state[s].shape), tuple(dst_state[d].shape)
        if have != want:
            raise ConfigError(
                f"model.init_from: {what} layer {d} is {_shape(have)} in run {source_id} but "
                f"{_shape(want)} here (different inputs or widths); use the same data.features, "
                "model.hidden and task outputs"
            )
    with torch.no_grad():
        for _, s, d in pairs:
            dst_state[d].copy_(src_state[s])
    return [dst_state[d] for _, _, d in pairs]


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def param_groups(
    model: nn.Module, transferred: list[nn.Parameter], factor: float
) -> list[dict[str, object]]:
    """Optimizer parameter groups: the transferred parameters with ``lr_factor``, the rest 1.

    The trainer sets each group's learning rate to the schedule's value times its ``lr_factor``.
    """
    chosen = {id(p) for p in transferred}
    rest = [p for p in model.parameters() if id(p) not in chosen]
    groups: list[dict[str, object]] = [{"params": rest, "lr_factor": 1.0}]
    if transferred:
        groups.append({"params": list(transferred), "lr_factor": factor})
    return groups


class Freezer:
    """Keeps the transferred parameters fixed for the first ``epochs`` epochs (``"all"``: always).

    Args:
        params: the transferred parameters.
        epochs: ``model.freeze_epochs``.
    """

    def __init__(self, params: list[nn.Parameter], epochs: int | str) -> None:
        self.params = params
        self.epochs = epochs

    def epoch_start(self, epoch: int) -> None:
        """Freeze or unfreeze for ``epoch`` (0-based)."""
        frozen = self.epochs == "all" or (isinstance(self.epochs, int) and epoch < self.epochs)
        for p in self.params:
            p.requires_grad_(not frozen)
