"""Bidirectional GRU over a text's words: the last states of both directions, concatenated.

Reference: K. Cho et al., "Learning Phrase Representations using RNN Encoder-Decoder for
Statistical Machine Translation", EMNLP 2014.
"""

from __future__ import annotations

from mtl.models.text_encoders import TextEncoderSpec

SPEC = TextEncoderSpec(
    name="gru",
    implementation="build",
    width_per_dim=2,
    label="Embedding {embeddings}→{dim} + BiGRU {dim}×2",
)

# ---- implementation (imports torch; the registry reads only what is above) ----
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from mtl.data.text import PAD, TextColumn
from mtl.models.text_encoders._base import TextEncoder


class BiGRU(TextEncoder):
    """Word embeddings (word slots only) → one bidirectional GRU layer → ``(B, 2·dim)``.

    Args:
        column: where the column's ids sit and how many ids there are.
        dim: embedding width and hidden size of each direction.
    """

    def __init__(self, column: TextColumn, dim: int) -> None:
        super().__init__(2 * dim, SPEC.label.format(embeddings=column.num_embeddings, dim=dim))
        self.max_length = column.max_length
        self.embed = nn.Embedding(column.num_embeddings, dim, padding_idx=PAD)
        self.gru = nn.GRU(dim, dim, batch_first=True, bidirectional=True)

    def forward(self, ids: Tensor) -> Tensor:
        """``(B, width)`` int64 ids → ``(B, 2·dim)``; an empty text reads one padding step."""
        words = ids[:, : self.max_length]  # (B, L)
        lengths = (words != PAD).sum(dim=1).clamp(min=1).cpu()  # (B,)
        packed = pack_padded_sequence(
            self.embed(words), lengths, batch_first=True, enforce_sorted=False
        )
        _, last = self.gru(packed)  # (2, B, dim)
        return torch.cat([last[0], last[1]], dim=1)  # (B, 2·dim)


def build(column: TextColumn, dim: int) -> TextEncoder:
    """A bidirectional GRU encoder; arguments as in :data:`mtl.models.text_encoders.TEXT_ENCODERS`."""
    return BiGRU(column, dim)
