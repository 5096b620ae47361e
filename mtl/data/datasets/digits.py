"""Handwritten digits: 1,797 8×8 grey images; digit (10 classes), parity and digit ≥ 5.

Served as 1×8×8 images (pixels scaled to [0, 1]) to a CNN, or flattened to an MLP.
Reference: Alpaydin & Kaynak, "Optical Recognition of Handwritten Digits", UCI 1998 (scikit-learn's bundled copy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mtl.data.catalog import Dataset

NAME = "digits"


def _load(options: Any, path: str | None) -> pd.DataFrame:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = bunch.data.astype(np.float32) / 16.0  # (N, 64) row-major 8×8
    frame = pd.DataFrame(pixels, columns=[f"px_{i:02d}" for i in range(64)])
    digit = bunch.target.astype(np.int64)
    frame["digit"] = digit
    frame["parity"] = np.where(digit % 2 == 0, "even", "odd")
    frame["ge5"] = (digit >= 5).astype(np.int64)
    return frame


DATASET = Dataset(
    load=_load,
    suggested_tasks=[
        {"name": "digit", "target": "digit", "kind": "multiclass"},
        {"name": "parity", "target": "parity", "kind": "binary"},
        {"name": "ge5", "target": "ge5", "kind": "binary"},
    ],
    image_shape=(1, 8, 8),
    exclude=("digit", "parity", "ge5"),
)
