"""The preprocessing saved as JSON reproduces scikit-learn's fitted transformer exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtl.config import ExperimentConfig
from mtl.data.prepare import _clean_categoricals, prepare
from mtl.data.preprocessing import Preprocessing, PreprocessingFormatError


def mixed_table(n: int = 200) -> pd.DataFrame:
    """Numbers with gaps, categories with gaps and a rare category, two targets."""
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "height": rng.normal(170, 10, size=n),
            "weight": rng.normal(70, 15, size=n),
            "count": rng.integers(0, 5, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "size": rng.choice(["S", "M", "L", "XL"], size=n, p=[0.4, 0.3, 0.25, 0.05]),
            "cls": rng.choice(["u", "v"], size=n),
            "value": rng.normal(size=n),
        }
    )
    table.loc[rng.choice(n, 20, replace=False), "height"] = np.nan
    table.loc[rng.choice(n, 15, replace=False), "colour"] = np.nan
    return table


def prepared(tmp_path: Path, table: pd.DataFrame, **data: Any) -> tuple[Any, pd.DataFrame]:
    path = tmp_path / "mixed.csv"
    table.to_csv(path, index=False)
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(path), **data},
            "tasks": [{"name": "cls", "target": "cls"}, {"name": "value", "target": "value"}],
        }
    )
    prep = prepare(config)
    categorical = next(
        (list(c) for name, _, c in prep.preprocessor.transformers_ if name == "cat"), []
    )
    return prep, _clean_categoricals(pd.read_csv(path)[prep.input_columns], categorical)


@pytest.mark.parametrize("scale", ["standard", "minmax", "none"])
@pytest.mark.parametrize("impute", ["median", "mean", "most_frequent"])
def test_json_round_trip_transforms_exactly_like_scikit_learn(
    tmp_path: Path, scale: str, impute: str
) -> None:
    data, features = prepared(tmp_path, mixed_table(), scale=scale, impute=impute)
    saved = Preprocessing.from_json(Preprocessing.from_fitted(data.preprocessor).to_json())
    # unseen categories and missing values in new rows too
    features.loc[0, "colour"] = "purple"
    features.loc[1, "size"] = np.nan
    features.loc[2, "height"] = np.nan
    expected = np.asarray(data.preprocessor.transform(features), dtype=np.float64)
    np.testing.assert_array_equal(saved.transform(features), expected)
    assert saved.feature_names == data.feature_names
    assert saved.transform(features).shape == (len(features), len(data.feature_names))


def test_the_json_holds_the_fitted_numbers(tmp_path: Path) -> None:
    data, features = prepared(tmp_path, mixed_table())
    train = features.iloc[data.train.rows]
    saved = json.loads(Preprocessing.from_fitted(data.preprocessor).to_json())
    assert saved["numeric"] == ["height", "weight", "count"]
    assert saved["fill"][0] == pytest.approx(float(train["height"].median()))
    assert saved["offset"][1] == pytest.approx(float(train["weight"].mean()))
    assert saved["factor"][1] == pytest.approx(float(train["weight"].std(ddof=0)))
    assert saved["categorical"] == ["colour", "size"]
    assert saved["categories"][1] == sorted(train["size"].dropna().unique())


def test_a_column_without_training_values_is_left_out_with_a_warning(tmp_path: Path) -> None:
    table = mixed_table()
    data, _ = prepared(tmp_path, table)
    table.loc[data.train.rows, "weight"] = np.nan  # values only in validation and test rows
    data, features = prepared(tmp_path, table)
    assert "weight" not in data.input_columns
    assert any("'weight'" in w and "no value in the training split" in w for w in data.warnings)
    saved = Preprocessing.from_json(Preprocessing.from_fitted(data.preprocessor).to_json())
    np.testing.assert_array_equal(saved.transform(features), data.preprocessor.transform(features))


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values:UserWarning")
def test_scikit_learn_dropping_a_column_is_mirrored() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [np.nan] * 3})
    fitted = ColumnTransformer([("num", Pipeline([("impute", SimpleImputer())]), ["a", "b"])])
    with pytest.warns(UserWarning, match="Skipping features"):
        fitted.fit(frame)
    saved = Preprocessing.from_fitted(fitted)
    assert saved.numeric == ["a"] and saved.fill == [2.0]
    np.testing.assert_array_equal(saved.transform(frame), fitted.transform(frame))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "[]",
        '{"format": 2}',
        '{"format": 1, "numeric": [], "fill": [], "scaling": "none", "offset": [], "factor": []}',
        '{"format": 1, "numeric": ["a"], "fill": [NaN], "scaling": "none", "offset": [], "factor": [],'
        ' "categorical": [], "category_fill": [], "categories": []}',
        '{"format": 1, "numeric": ["a"], "fill": ["1"], "scaling": "none", "offset": [], "factor": [],'
        ' "categorical": [], "category_fill": [], "categories": []}',
        '{"format": 1, "numeric": ["a"], "fill": [1], "scaling": "log", "offset": [], "factor": [],'
        ' "categorical": [], "category_fill": [], "categories": []}',
        '{"format": 1, "numeric": ["a"], "fill": [1], "scaling": "standard", "offset": [0], "factor": [],'
        ' "categorical": [], "category_fill": [], "categories": []}',
        '{"format": 1, "numeric": [], "fill": [], "scaling": "none", "offset": [], "factor": [],'
        ' "categorical": ["c"], "category_fill": ["x"], "categories": [[]]}',
    ],
    ids=[
        "empty",
        "truncated",
        "list",
        "format",
        "keys",
        "nan",
        "string-number",
        "scaling",
        "lengths",
        "no-cats",
    ],
)
def test_malformed_json_is_refused_with_one_line(text: str) -> None:
    with pytest.raises(PreprocessingFormatError) as info:
        Preprocessing.from_json(text)
    assert str(info.value) and "\n" not in str(info.value)
