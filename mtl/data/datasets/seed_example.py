"""Two-task toy: 5 random features; a binary label (BCE) and a 3-output regression (MSE).

Reference: the classic two-head example of multi-task learning tutorials (one shared trunk, a BCE head and a 3-d MSE head).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mtl.data.catalog import Dataset

NAME = "seed-example"


class Options(BaseModel):
    """Settings of the two-task toy."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    samples: int = Field(1000, ge=20, le=1_000_000, description="Number of rows.")
    noise: float = Field(
        0.1, ge=0.0, le=1e6, description="Standard deviation of the regression noise."
    )
    seed: int = Field(
        0, ge=0, description="Generator seed (fixed so the data does not change with train.seed)."
    )


def _load(options: Options, path: str | None) -> pd.DataFrame:
    rng = np.random.default_rng(options.seed)
    x = rng.normal(size=(options.samples, 5))  # (N, 5)
    a = rng.normal(size=5)
    logits = x @ a + 0.5 * np.sin(2 * x[:, 0])
    label = (logits + 0.3 * rng.normal(size=options.samples) > 0).astype(np.int64)
    mix = rng.normal(size=(5, 3))
    regression = (
        np.tanh(x @ mix)
        + 0.5 * x[:, :3] ** 2
        + options.noise * rng.normal(size=(options.samples, 3))
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    frame["label"] = label
    for j in range(3):
        frame[f"r{j}"] = regression[:, j]
    return frame


DATASET = Dataset(
    load=_load,
    options=Options,
    suggested_tasks=[
        {"name": "label", "target": "label", "kind": "binary"},
        {"name": "regression", "target": ["r0", "r1", "r2"], "kind": "regression"},
    ],
    exclude=("label", "r0", "r1", "r2"),
)
