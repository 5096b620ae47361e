"""Batch normalisation over the global batch of data-parallel ranks, on CPU (gloo) and GPU.

In training mode a batch-norm layer normalises with its batch's mean and variance; with
ranks, each holds only part of the global batch, so per-rank statistics would train
differently from one process. :func:`normalise_over_ranks` makes every batch-norm layer of a
model use the global batch's statistics instead (``torch.nn.SyncBatchNorm`` does this on
GPUs only):

- forward: one all-reduce of (Σx, Σx², count) per channel (2C + 1 values), from which the
  global mean and the biased variance normalise, and the running statistics are updated as
  one process does (the unbiased variance, the layer's momentum);
- backward: y = γ·x̂ + β with x̂ depending on every rank's rows through the statistics, so
  one all-reduce of (Σ ∂y, Σ ∂y·x̂) per channel (2C values) gives every rank the global sums
  for ∂x; γ's and β's gradients stay each rank's share (the trainer sums them).

Every rank runs the same forwards and backwards in the same order, so the collectives match.
In evaluation mode nothing is exchanged: the running statistics (the same on every rank)
normalise, as in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx

Reduce = Callable[[Tensor], Tensor]
"""Sums a tensor over the ranks, in place, and returns it."""


def _channels(x: Tensor) -> tuple[list[int], tuple[int, ...]]:
    """The dimensions reduced per channel of ``x`` (N, C, *), and the broadcast shape of a (C,)."""
    dims = [0, *range(2, x.dim())]
    return dims, (1, x.shape[1], *([1] * (x.dim() - 2)))


class _GlobalBatchNorm(torch.autograd.Function):
    """y = γ·(x − μ)/σ + β with μ, σ² of the global batch (biased); returns y, μ, σ², n."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        weight: Tensor | None,
        bias: Tensor | None,
        eps: float,
        reduce: Reduce,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        dims, shape = _channels(x)
        width = x.shape[1]
        count = x.new_full((1,), x.numel() / max(width, 1))  # rows × positions here
        sums = reduce(torch.cat([x.sum(dims), (x * x).sum(dims), count]))  # (2C + 1,)
        n = sums[-1]
        mean = sums[:width] / n
        var = (sums[width : 2 * width] / n - mean * mean).clamp_min(0.0)
        invstd = torch.rsqrt(var + eps)
        xhat = (x - mean.view(shape)) * invstd.view(shape)
        out = xhat if weight is None else xhat * weight.view(shape)
        if bias is not None:
            out = out + bias.view(shape)
        ctx.save_for_backward(xhat, invstd, *([] if weight is None else [weight]))
        ctx.reduce = reduce  # type: ignore[attr-defined]
        ctx.n = n  # type: ignore[attr-defined]
        ctx.has_bias = bias is not None  # type: ignore[attr-defined]
        ctx.mark_non_differentiable(mean, var, n)
        return out, mean, var, n

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor, *_: Any) -> tuple[Tensor | None, ...]:
        xhat, invstd, *affine = ctx.saved_tensors
        weight = affine[0] if affine else None
        dims, shape = _channels(xhat)
        width = xhat.shape[1]
        sum_dy = grad_out.sum(dims)  # (C,): this rank's share
        sum_dy_xhat = (grad_out * xhat).sum(dims)
        whole = ctx.reduce(torch.cat([sum_dy, sum_dy_xhat]))  # (2C,): the global sums
        scale = invstd if weight is None else invstd * weight
        grad_x = (scale / ctx.n).view(shape) * (
            ctx.n * grad_out - whole[:width].view(shape) - xhat * whole[width:].view(shape)
        )
        grad_weight = None if weight is None else sum_dy_xhat
        grad_bias = sum_dy if ctx.has_bias else None
        return grad_x, grad_weight, grad_bias, None, None


def _forward(layer: nn.modules.batchnorm._BatchNorm, reduce: Reduce, x: Tensor) -> Tensor:
    """``layer``'s forward with the global batch's statistics (training mode)."""
    if not layer.training:  # each rank evaluates its own rows alone, exchanging nothing
        return nn.modules.batchnorm._BatchNorm.forward(layer, x)
    out, mean, var, n = _GlobalBatchNorm.apply(x, layer.weight, layer.bias, layer.eps, reduce)
    if layer.track_running_stats:
        assert layer.num_batches_tracked is not None
        assert layer.running_mean is not None and layer.running_var is not None
        with torch.no_grad():
            layer.num_batches_tracked.add_(1)
            momentum = (
                1.0 / float(layer.num_batches_tracked) if layer.momentum is None else layer.momentum
            )
            unbiased = var * n / (n - 1).clamp_min(1.0)
            layer.running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
            layer.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    return out


def normalise_over_ranks(model: nn.Module, reduce: Reduce) -> int:
    """Make every batch-norm layer of ``model`` normalise over the global batch.

    Args:
        model: the model; its layers keep their parameters and buffers.
        reduce: sums a tensor over the ranks in place (``RankGroup.all_reduce``).

    Returns:
        The number of layers changed.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.forward = partial(_forward, layer, reduce)  # type: ignore[method-assign]
    return len(layers)


__all__ = ["normalise_over_ranks"]
