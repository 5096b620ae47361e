"""Tables with a free-text column for the text-input tests (deterministic, no files)."""

from __future__ import annotations

import numpy as np
import pandas as pd

GOOD = ["great", "wonderful", "moving", "brilliant", "funny", "tender"]
BAD = ["dull", "boring", "clumsy", "tedious", "flat", "lifeless"]
FILLER = ["the", "film", "a", "story", "cast", "plot", "was", "and", "ending"]


def review_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Short reviews whose sentiment words decide ``liked``; a numeric ``length``, an ``id``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        liked = bool(rng.integers(2))
        words = list(rng.choice(FILLER, size=int(rng.integers(3, 8))))
        words += list(rng.choice(GOOD if liked else BAD, size=2))
        rng.shuffle(words)
        rows.append(
            {
                "id": f"r{i:04d}",
                "review": " ".join(words),
                "length": float(len(words)),
                "liked": "yes" if liked else "no",
            }
        )
    return pd.DataFrame(rows)
