"""Bag of embeddings: the mean embedding of a text's words and hashed n-grams (fast; the default).

Reference: A. Joulin et al., "Bag of Tricks for Efficient Text Classification", EACL 2017.
"""

from __future__ import annotations

from mtl.models.text_encoders import TextEncoderSpec

SPEC = TextEncoderSpec(
    name="bag",
    implementation="build",
    width_per_dim=1,
    label="EmbeddingBag {embeddings}→{dim} (mean)",
)

# ---- implementation (imports torch; the registry reads only what is above) ----
from torch import Tensor, nn

from mtl.data.text import PAD, TextColumn
from mtl.models.text_encoders._base import TextEncoder


class BagOfEmbeddings(TextEncoder):
    """``nn.EmbeddingBag`` in mean mode over every id slot; padding is left out of the mean.

    Args:
        column: where the column's ids sit and how many ids there are.
        dim: embedding width (the output width).
    """

    def __init__(self, column: TextColumn, dim: int) -> None:
        super().__init__(dim, SPEC.label.format(embeddings=column.num_embeddings, dim=dim))
        self.bag = nn.EmbeddingBag(column.num_embeddings, dim, mode="mean", padding_idx=PAD)

    def forward(self, ids: Tensor) -> Tensor:
        """``(B, width)`` int64 ids → ``(B, dim)``; a text of padding only gives zeros."""
        return self.bag(ids)  # (B, dim)


def build(column: TextColumn, dim: int) -> TextEncoder:
    """A bag-of-embeddings encoder; arguments as in :data:`mtl.models.text_encoders.TEXT_ENCODERS`."""
    return BagOfEmbeddings(column, dim)
