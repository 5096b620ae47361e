"""Wine: 178 wines from 3 cultivars, 13 chemical measurements; cultivar plus alcohol and colour intensity.

Reference: Aeberhard & Forina, "Wine", UCI 1991 (scikit-learn's bundled copy).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mtl.data.catalog import Dataset

NAME = "wine"


def _load(options: Any, path: str | None) -> pd.DataFrame:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    frame = bunch.data.copy()
    frame["cultivar"] = bunch.target.map(lambda c: f"cultivar_{c}").astype("object")
    return frame


DATASET = Dataset(
    load=_load,
    suggested_tasks=[
        {"name": "cultivar", "target": "cultivar", "kind": "multiclass"},
        {"name": "alcohol", "target": "alcohol", "kind": "regression"},
        {"name": "color", "target": "color_intensity", "kind": "regression"},
    ],
)
