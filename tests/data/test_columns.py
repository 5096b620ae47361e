"""usable_columns: which columns become features by default, and why the others are left out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import python_output
from mtl.config import ExperimentConfig
from mtl.data.columns import REASONS, usable_columns
from mtl.data.prepare import prepare


def table(n: int = 100) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "row_id": np.arange(n),
            "customer": [f"C{i:04d}" for i in range(n)],
            "review": [
                f"this is review {i}, it is {rng.choice(['good', 'bad'])}" for i in range(n)
            ],
            "blank": [np.nan] * n,
            "country": ["NZ"] * n,
            "age": rng.integers(18, 90, size=n).astype(float),
            "plan": rng.choice(["a", "b", "c"], size=n),
            "churn": rng.choice([0, 1], size=n),
        }
    )


def test_each_reason() -> None:
    kept, dropped = usable_columns(table(), ["churn"])
    assert kept == ["age", "plan"]
    assert dropped == {
        "row_id": "id",
        "customer": "id",
        "review": "text",
        "blank": "empty",
        "country": "constant",
    }
    assert set(REASONS) == {"empty", "id", "text", "constant"}


def test_targets_and_excluded_columns_are_neither_kept_nor_reported() -> None:
    kept, dropped = usable_columns(table(), ["churn", "age"], exclude=["plan"])
    assert kept == [] and "age" not in dropped and "plan" not in dropped and "churn" not in dropped


def test_keep_constant_for_image_pixels() -> None:
    kept, dropped = usable_columns(table(), ["churn"], keep_constant=True)
    assert "country" in kept and "country" not in dropped


def test_the_csv_loader_uses_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "t.csv"
    table().to_csv(path, index=False)
    data = prepare(
        ExperimentConfig.from_dict(
            {
                "data": {"dataset": "csv", "path": str(path)},
                "tasks": [{"name": "churn", "target": "churn"}],
            }
        )
    )
    assert data.input_columns == ["age", "plan", "review"]  # free text: a text input
    assert [t.column for t in data.text] == ["review"]
    assert any("'country'" in w and REASONS["constant"] in w for w in data.warnings)
    assert not any("'review'" in w for w in data.warnings)


def test_image_datasets_keep_their_blank_pixels() -> None:
    data = prepare(
        ExperimentConfig.from_dict(
            {"data": {"dataset": "digits"}, "tasks": [{"name": "digit", "target": "digit"}]}
        )
    )
    assert data.input_shape == (1, 8, 8) and len(data.input_columns) == 64


def test_importing_it_does_not_import_torch() -> None:
    code = "import sys, mtl.data.columns, mtl.data.preprocessing; print('torch' in sys.modules)"
    assert python_output(code) == "False"
