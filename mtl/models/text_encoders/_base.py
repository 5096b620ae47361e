"""The base class of every text encoder: token ids in, a fixed-width feature vector out."""

from __future__ import annotations

from torch import Tensor, nn


class TextEncoder(nn.Module):
    """Maps one text column's ids ``(B, width)`` (int64) to ``(B, out_width)`` features.

    Args:
        out_width: the output width.
        label: short text for diagrams, e.g. ``"EmbeddingBag 10002→32 (mean)"``.
    """

    def __init__(self, out_width: int, label: str) -> None:
        super().__init__()
        self.out_width = out_width
        self.label = label

    def forward(self, ids: Tensor) -> Tensor:
        raise NotImplementedError
