"""Palmer penguins: 344 birds; species, sex (11 missing) and body mass from bill, flipper and island.

Reference: Horst, Hill & Gorman, "palmerpenguins: Palmer Archipelago (Antarctica) penguin data", 2020.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mtl.data.catalog import Dataset

NAME = "penguins"


def _load(options: Any, path: str | None) -> pd.DataFrame:
    from palmerpenguins import load_penguins

    frame = load_penguins()
    return frame.astype({"species": "object", "island": "object", "sex": "object"})


DATASET = Dataset(
    load=_load,
    suggested_tasks=[
        {"name": "species", "target": "species", "kind": "multiclass"},
        {"name": "sex", "target": "sex", "kind": "binary"},
        {"name": "body_mass", "target": "body_mass_g", "kind": "regression"},
    ],
    exclude=("year",),
)
