"""Text encoders (a registry): one module per encoder, each with a ``build`` function.

``build(column, dim)`` returns a torch module mapping a text column's token ids
``(B, width)`` (int64, see :mod:`mtl.data.text`) to ``(B, out_width)`` features; the model's
input module (:mod:`mtl.models.inputs`) joins them to the tabular features before the
shared layers. This ``__init__`` stays torch-free so the UI can list the encoders.
"""

from mtl.registry import Registry

TEXT_ENCODERS = Registry("text encoder", "mtl.models.text_encoders", "build")
"""Each module in ``mtl/models/text_encoders/`` is one text encoder with a ``build`` function."""

WIDTH_PER_DIM = {"bag": 1, "gru": 2}
"""Output width of each encoder per embedding width (torch-free, for the page's diagram;
a test checks it against the built modules)."""


def encoded_width(encoder: str, dim: int) -> int:
    """The output width of ``encoder`` (a registry name) with embeddings of width ``dim``."""
    return WIDTH_PER_DIM[encoder] * dim


__all__ = ["TEXT_ENCODERS", "WIDTH_PER_DIM", "encoded_width"]
