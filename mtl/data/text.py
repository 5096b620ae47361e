"""Free-text columns as model inputs: a tokenizer fitted on the training split. Torch-free.

A :class:`Tokenizer` turns each text into a fixed number of integer token ids that the
model's text encoder embeds (:mod:`mtl.models.inputs`). Layout of one text's ids::

    word slots   max_length ids: 0 = padding, 1 = unknown word, 2… = vocabulary words
    extra slots  max_length ids (only with word n-grams > 1 or character n-grams):
                 hashed word n-grams and character trigrams, fastText style, in
                 ``2 + len(vocab) … 2 + len(vocab) + buckets - 1``

The vocabulary (the ``vocab_size`` most frequent tokens seen at least ``min_freq`` times)
comes from the training split only, and is saved as plain JSON with the rest of the
preprocessing (:mod:`mtl.data.preprocessing`), so predictions on new rows use the same
ids. Hashing uses CRC-32, which is the same in every process (unlike Python's ``hash``).

Reference: A. Joulin et al., "Bag of Tricks for Efficient Text Classification", EACL 2017.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mtl.data.catalog import DataError

__all__ = ["PAD", "UNKNOWN", "TextColumn", "TextLayout", "TextSettings", "Tokenizer", "as_texts"]

PAD = 0
UNKNOWN = 1
_FIRST_WORD = 2
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class TextSettings:
    """How text columns are tokenised (the ``data.text_*`` keys of the config).

    Args:
        vocab_size: at most this many distinct words get their own id.
        min_freq: a word needs this many occurrences in the training split.
        max_length: words kept per text (the rest is cut).
        lowercase: lower-case before splitting.
        ngrams: word n-grams up to this length (2 = words + hashed word pairs).
        char_ngrams: also hashed character trigrams of each word.
        buckets: hash buckets shared by the word and character n-grams.
    """

    vocab_size: int = 10_000
    min_freq: int = 2
    max_length: int = 64
    lowercase: bool = True
    ngrams: int = 1
    char_ngrams: bool = False
    buckets: int = 10_000


@dataclass(frozen=True)
class Tokenizer:
    """A fitted tokenizer of one text column (see the module docstring for the ids).

    Args:
        column: the text column's name.
        vocab: the vocabulary, most frequent first; word ``vocab[i]`` has id ``i + 2``.
        max_length, lowercase, ngrams, char_ngrams, buckets: as in :class:`TextSettings`.
    """

    column: str
    vocab: list[str]
    max_length: int
    lowercase: bool
    ngrams: int
    char_ngrams: bool
    buckets: int

    @classmethod
    def fit(cls, column: str, texts: Iterable[Any], settings: TextSettings) -> Tokenizer:
        """The vocabulary of ``texts`` (the training split's values of ``column``).

        Raises:
            DataError: no text at all in ``texts``, or a single distinct word (a text input
                that cannot tell rows apart); the message names the column.
        """
        counts: Counter[str] = Counter()
        for text in as_texts(texts):
            counts.update(split_words(text, settings.lowercase))
        if not counts:
            raise DataError(f"text column {column!r} has no words in the training split")
        if len(counts) < 2:
            only = next(iter(counts))
            raise DataError(
                f"text column {column!r} has a single distinct word ({only!r}) in the training split; "
                "it cannot tell rows apart"
            )
        frequent = [(w, n) for w, n in counts.items() if n >= settings.min_freq]
        frequent.sort(key=lambda item: (-item[1], item[0]))
        vocab = [w for w, _ in frequent[: settings.vocab_size]]
        if len(vocab) < 2:
            raise DataError(
                f"text column {column!r}: only {len(vocab)} word(s) occur at least "
                f"data.text_min_freq = {settings.min_freq} times in the training split; lower it"
            )
        return cls(
            column=column,
            vocab=vocab,
            max_length=settings.max_length,
            lowercase=settings.lowercase,
            ngrams=settings.ngrams,
            char_ngrams=settings.char_ngrams,
            buckets=settings.buckets,
        )

    @property
    def hashed(self) -> bool:
        """Whether the ids include hashed n-gram slots."""
        return self.ngrams > 1 or self.char_ngrams

    @property
    def width(self) -> int:
        """Number of id columns per text (word slots, then extra slots)."""
        return self.max_length * (2 if self.hashed else 1)

    @property
    def num_embeddings(self) -> int:
        """Size of the id range: padding, unknown, vocabulary, hash buckets."""
        return _FIRST_WORD + len(self.vocab) + (self.buckets if self.hashed else 0)

    def encode(self, texts: Iterable[Any]) -> np.ndarray:
        """Token ids of each text: ``(N, width)`` int64 (a missing text is all padding)."""
        index = {w: i + _FIRST_WORD for i, w in enumerate(self.vocab)}
        first_bucket = _FIRST_WORD + len(self.vocab)
        rows: list[np.ndarray] = []
        for text in as_texts(texts):
            words = split_words(text, self.lowercase)
            ids = np.zeros(self.width, dtype=np.int64)  # (width,)
            kept = words[: self.max_length]
            ids[: len(kept)] = [index.get(w, UNKNOWN) for w in kept]
            if self.hashed:
                extra = [first_bucket + h % self.buckets for h in self._hashes(words)]
                extra = extra[: self.max_length]
                ids[self.max_length : self.max_length + len(extra)] = extra
            rows.append(ids)
        if not rows:
            return np.zeros((0, self.width), dtype=np.int64)
        return np.stack(rows)

    def _hashes(self, words: list[str]) -> list[int]:
        out: list[int] = []
        for n in range(2, self.ngrams + 1):
            for i in range(len(words) - n + 1):
                out.append(zlib.crc32(("w\x1f" + "\x1f".join(words[i : i + n])).encode()))
        if self.char_ngrams:
            for word in words:
                padded = f"<{word}>"
                for i in range(len(padded) - 2):
                    out.append(zlib.crc32(("c\x1f" + padded[i : i + 3]).encode()))
        return out

    # ---- JSON -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain data that :meth:`from_dict` reads back to an equal tokenizer."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Tokenizer:
        """Check and read saved tokenizer data; ``ValueError`` naming the bad key otherwise."""
        if not isinstance(data, dict) or set(data) != set(cls.__dataclass_fields__):
            raise ValueError(f"a text tokenizer needs the keys {sorted(cls.__dataclass_fields__)}")
        if not isinstance(data["column"], str):
            raise ValueError("tokenizer 'column' must be a string")
        vocab = data["vocab"]
        if not isinstance(vocab, list) or not all(isinstance(w, str) for w in vocab):
            raise ValueError("tokenizer 'vocab' must be a list of strings")
        for key in ("max_length", "ngrams", "buckets"):
            value = data[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"tokenizer {key!r} must be a positive integer, found {value!r}")
        for key in ("lowercase", "char_ngrams"):
            if not isinstance(data[key], bool):
                raise ValueError(f"tokenizer {key!r} must be true or false")
        return cls(**data)


@dataclass(frozen=True)
class TextColumn:
    """Where one text column's ids sit in a model input row, and its id range."""

    column: str
    start: int
    max_length: int
    width: int
    num_embeddings: int


@dataclass(frozen=True)
class TextLayout:
    """How a model input row is laid out: ``tabular`` feature columns, then each text
    column's ids (plain data, saved in the checkpoint)."""

    tabular: int
    columns: list[TextColumn]

    @classmethod
    def of(cls, tabular: int, tokenizers: list[Tokenizer]) -> TextLayout:
        """The layout of ``tabular`` features followed by ``tokenizers``' ids in order."""
        columns, start = [], tabular
        for tok in tokenizers:
            columns.append(
                TextColumn(tok.column, start, tok.max_length, tok.width, tok.num_embeddings)
            )
            start += tok.width
        return cls(tabular, columns)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextLayout:
        """The layout saved by :meth:`to_dict`."""
        return cls(int(data["tabular"]), [TextColumn(**c) for c in data["columns"]])


def split_words(text: str, lowercase: bool) -> list[str]:
    """Words and punctuation marks of ``text`` (``"Great, fun!"`` → great , fun !)."""
    return _TOKEN.findall(text.lower() if lowercase else text)


def as_texts(values: Iterable[Any]) -> list[str]:
    """Values as strings; a missing value (None, NaN) becomes the empty text."""
    return ["" if _missing(v) else str(v) for v in values]


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
