"""Where the trainer's input batches come from: a tensor in memory, or images decoded per batch.

Tables and the bundled image datasets are held as one tensor per split (the fast path:
``index_select`` on the device). An image folder's split is an
:class:`mtl.data.images.ImageArray`; :class:`LazyBatches` gives it the two operations the
trainer uses, so the same seeded batch order decodes only the rows of each batch and a
folder larger than memory trains.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

import numpy as np
import torch

from mtl.data.images import ImageArray

EVAL_IMAGES = 256
"""Images per forward pass when evaluating a lazy split (decoded images and conv
activations of a 2,048-row chunk would take far more memory than a batch)."""


class LazyBatches:
    """A split's inputs decoded on demand, with the tensor operations the trainer calls.

    Args:
        images: the lazy images of one split.
        device: where the decoded batches go.
    """

    def __init__(self, images: ImageArray, device: torch.device) -> None:
        self.images = images
        self.device = device

    def __len__(self) -> int:
        return len(self.images)

    def index_select(self, dim: int, index: torch.Tensor) -> torch.Tensor:
        """The rows ``index`` (dim 0), decoded: ``(B, C, H, W)``, as ``Tensor.index_select``."""
        if dim != 0:
            raise ValueError(f"lazy inputs are indexed by row (dim 0), not dim {dim}")
        rows = index.detach().cpu().numpy()
        return to_device(self.images.take(rows), self.device)


PERMUTE_BYTES = 8 * 2**20
"""The largest training input the trainer permutes once per epoch (then slices per batch).
Above it, filling a fresh copy (page faults) costs more than an ``index_select`` per batch
saves: 16,000 × 64 floats permute in 0.16 ms against 0.84 ms of per-batch selects, while
9,733 × 1,229 take 25 ms against 4.5 ms (one core)."""

Rows = torch.Tensor | slice
"""A batch's rows: indices into a split, or a slice of a split permuted for the epoch."""


def take(t: torch.Tensor | LazyBatches, rows: Rows) -> torch.Tensor:
    """The rows ``rows`` of ``t`` (dim 0): a view for a slice, ``index_select`` for indices."""
    if isinstance(rows, slice):
        return t[rows]  # type: ignore[index]
    return t.index_select(0, rows)


def permuted(
    split: dict[str, Any],
    order: torch.Tensor,
    masked: Collection[str],
    out: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An in-memory split (``x`` a tensor, ``y`` and ``mask`` tensors per task) with its rows
    in ``order``: one copy per epoch, after which each batch is a contiguous slice.

    Args:
        split: the split, rows in their stored order.
        order: a permutation of the rows (N,).
        masked: the tasks whose label masks are read (the others' are left out).
        out: the previous epoch's result, whose tensors are refilled (no new allocation:
            a wide split's fresh copy each epoch costs more in page faults than the copy).
    """

    def select(t: torch.Tensor, into: torch.Tensor | None) -> torch.Tensor:
        if into is None:
            return t.index_select(0, order)
        return torch.index_select(t, 0, order, out=into)

    return {
        "x": select(split["x"], out["x"] if out else None),
        "y": {n: select(t, out["y"][n] if out else None) for n, t in split["y"].items()},
        "mask": {n: select(split["mask"][n], out["mask"][n] if out else None) for n in masked},
    }


def to_device(a: np.ndarray, device: torch.device) -> torch.Tensor:
    """``a`` as a tensor on ``device``; floating arrays in torch's default dtype (float32
    unless a caller asks for float64, as the exactness checks do)."""
    t = torch.from_numpy(a)
    return t.to(device, torch.get_default_dtype() if t.is_floating_point() else None)


def inputs(x: np.ndarray | ImageArray, device: torch.device) -> torch.Tensor | LazyBatches:
    """A split's inputs for the trainer: a tensor on ``device``, or lazy batches for images."""
    if isinstance(x, ImageArray):
        return LazyBatches(x, device)
    return to_device(x, device)


def chunks(x: torch.Tensor | LazyBatches, size: int) -> Iterator[torch.Tensor]:
    """Consecutive row chunks of ``x`` for evaluation (at most :data:`EVAL_IMAGES` rows
    each for lazy images)."""
    if isinstance(x, LazyBatches):
        size = min(size, EVAL_IMAGES)
        for start in range(0, len(x), size):
            rows = np.arange(start, min(start + size, len(x)))
            yield to_device(x.images.take(rows), x.device)
        return
    for start in range(0, len(x), size):
        yield x[start : start + size]
