"""Where the trainer's input batches come from: a tensor in memory, or images decoded per batch.

Tables and the bundled image datasets are held as one tensor per split (the fast path:
``index_select`` on the device). An image folder's split is an
:class:`mtl.data.images.ImageArray`; :class:`LazyBatches` gives it the two operations the
trainer uses, so the same seeded batch order decodes only the rows of each batch and a
folder larger than memory trains.
"""

from __future__ import annotations

from collections.abc import Iterator

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
