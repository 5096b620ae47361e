"""Per-task losses with label masks: a row without a label for a task adds nothing to it."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mtl.data.tasks import TaskSpec


class TaskLoss:
    """The loss of one task by kind: cross-entropy, BCE with logits, MSE or Huber.

    Args:
        spec: the task.
        huber_delta: the Huber loss's delta (standardised units).
        device: where the class-weight tensor lives.
    """

    def __init__(self, spec: TaskSpec, huber_delta: float, device: torch.device) -> None:
        self.spec = spec
        self.huber_delta = huber_delta
        weights = spec.class_weights
        self.class_weights = (
            None if weights is None else torch.tensor(weights, dtype=torch.float32, device=device)
        )

    def per_row(self, output: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unreduced loss (B,) and each row's weight in the mean (B,)."""
        kind, loss = self.spec.kind, self.spec.loss
        if kind == "multiclass":
            # unweighted rows; the class weights enter once, through the weighted mean in __call__
            rows = F.cross_entropy(output, y, reduction="none")  # (B,)
            scale = (
                self.class_weights[y] if self.class_weights is not None else torch.ones_like(rows)
            )
            return rows, scale
        if kind == "binary":
            logits = output.reshape(-1)  # (B,)
            pos_weight = None
            if self.class_weights is not None:
                pos_weight = self.class_weights[1] / self.class_weights[0]
            rows = F.binary_cross_entropy_with_logits(
                logits, y, pos_weight=pos_weight, reduction="none"
            )
            return rows, torch.ones_like(rows)
        pred = output.reshape(y.shape)  # (B, k)
        if loss == "huber":
            rows = F.huber_loss(pred, y, delta=self.huber_delta, reduction="none").mean(dim=1)
        else:
            rows = ((pred - y) ** 2).mean(dim=1)
        return rows, torch.ones_like(rows)

    def unmasked(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean loss when every row has a label and no class weights apply (one fused op).

        Equal to ``self(output, y, ones)[0]``; the trainer uses it on the hot path when a
        task's training labels are complete.
        """
        kind, loss = self.spec.kind, self.spec.loss
        if kind == "multiclass":
            return F.cross_entropy(output, y)
        if kind == "binary":
            return F.binary_cross_entropy_with_logits(output.reshape(-1), y)
        pred = output.reshape(y.shape)  # (B, k)
        if loss == "huber":
            return F.huber_loss(pred, y, delta=self.huber_delta)
        return F.mse_loss(pred, y)

    def __call__(
        self, output: torch.Tensor, y: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked mean loss (scalar) and the number of labelled rows (scalar tensor)."""
        rows, scale = self.per_row(output, y)
        weight = scale * mask  # (B,)
        count = mask.sum()
        return (rows * weight).sum() / weight.sum().clamp_min(1e-12), count
