"""Each bad input raises a one-line DataError or ConfigError that says what is wrong and how to fix it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtl.config import ConfigError, ExperimentConfig
from mtl.data.catalog import DataError
from mtl.data.prepare import prepare


def run(data: dict[str, Any], tasks: list[dict[str, Any]], **sections: Any) -> None:
    """Validate the config and prepare its data (either step may raise)."""
    prepare(ExperimentConfig.from_dict({"data": data, "tasks": tasks, **sections}))


def message_of(error: type[Exception], data: dict[str, Any], tasks: list[dict[str, Any]], **sections: Any) -> str:
    """The one-line message of the ``error`` raised for this config."""
    with pytest.raises(error) as info:
        run(data, tasks, **sections)
    message = str(info.value)
    assert message, "empty message"
    assert "\n" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message
    return message


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def good_table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "cls": rng.choice(["u", "v"], size=n),
            "num": rng.normal(size=n),
            "word": rng.choice(["low", "mid", "high"], size=n),
            "same": ["only"] * n,
        }
    )


@pytest.fixture
def good_csv(tmp_path: Path) -> str:
    path = tmp_path / "good.csv"
    good_table().to_csv(path, index=False)
    return str(path)


def test_good_csv_is_accepted(good_csv: str) -> None:
    run({"dataset": "csv", "path": good_csv}, [{"name": "cls", "target": "cls"}, {"name": "num", "target": "num"}])


def test_missing_target_column(good_csv: str) -> None:
    message = message_of(DataError, {"dataset": "csv", "path": good_csv}, [{"name": "t", "target": "colour"}])
    assert "'colour'" in message and "not in the data" in message
    assert "available columns: a, b, cls" in message


def test_missing_target_column_in_catalog_dataset() -> None:
    message = message_of(DataError, {"dataset": "penguins"}, [{"name": "t", "target": "beak_colour"}])
    assert "beak_colour" in message and "species" in message


def test_one_class_target(good_csv: str) -> None:
    message = message_of(DataError, {"dataset": "csv", "path": good_csv}, [{"name": "s", "target": "same"}])
    assert "only one class" in message and "'same'" in message and "'only'" in message
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv}, [{"name": "s", "target": "same", "kind": "binary"}]
    )
    assert "only one class" in message


def test_three_classes_declared_binary(good_csv: str) -> None:
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv}, [{"name": "w", "target": "word", "kind": "binary"}]
    )
    assert "3 classes" in message and "multiclass" in message


def test_regression_target_not_numeric(good_csv: str) -> None:
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv}, [{"name": "w", "target": "word", "kind": "regression"}]
    )
    assert "'word'" in message and "not numeric" in message and "kind: binary or multiclass" in message


def test_empty_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")
    message = message_of(DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}])
    assert "is empty" in message and "empty.csv" in message


def test_header_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", "a,b,t\n")
    message = message_of(DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}])
    assert "no data rows" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a,b,t\n1,2,3\n4,5,6,7,8\n7,8,9\n", "Expected 3 fields in line 3, saw 5"),
        ('a,b,t\n1,2,3\n4,"5,6\n7,8,9\n', "EOF inside string"),
    ],
    ids=["field-count", "unbalanced-quote"],
)
def test_malformed_csv(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "bad.csv", text)
    message = message_of(DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}])
    assert "malformed" in message and fragment in message
    assert "check separators and quoting" in message


def test_missing_csv_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere.csv")
    message = message_of(DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}])
    assert "not found" in message and "nowhere.csv" in message and "data.path" in message


def test_single_column_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "semi.csv", "a;b;t\n1;2;3\n4;5;6\n")
    message = message_of(DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}])
    assert "single column" in message and "separator" in message


def test_unknown_dataset() -> None:
    message = message_of(ConfigError, {"dataset": "pengiuns"}, [{"name": "t", "target": "t"}])
    assert "'pengiuns'" in message
    for name in ("penguins", "digits", "wine", "synthetic", "seed-example", "csv"):
        assert name in message


def test_wrong_synthetic_option_key() -> None:
    message = message_of(ConfigError, {"dataset": "synthetic", "options": {"q": 0.5}}, [{"name": "y1", "target": "y1"}])
    assert "'q'" in message and "synthetic" in message
    assert "p" in message.split("allowed keys:")[1].split(", ")


def test_synthetic_option_out_of_range() -> None:
    message = message_of(ConfigError, {"dataset": "synthetic", "options": {"p": 1.5}}, [{"name": "y1", "target": "y1"}])
    assert "p" in message and "1.5" in message


def test_feature_list_naming_unknown_column(good_csv: str) -> None:
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv, "features": ["a", "zz"]}, [{"name": "cls", "target": "cls"}]
    )
    assert "data.features" in message and "'zz'" in message


def test_feature_that_is_a_target(good_csv: str) -> None:
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv, "features": ["a", "cls"]}, [{"name": "cls", "target": "cls"}]
    )
    assert "task targets" in message


def test_too_few_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "tiny.csv", "a,t\n1,0\n2,1\n")
    message = message_of(DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}])
    assert "only 2 rows" in message


def test_cnn_encoder_on_a_table() -> None:
    message = message_of(
        DataError, {"dataset": "penguins"}, [{"name": "species", "target": "species"}], model={"encoder": "cnn"}
    )
    assert "cnn" in message and "image" in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"tasks": [{"name": "t", "target": "t"}], "train": {"batch_size": 0}}, "train.batch_size"),
        ({"tasks": [{"name": "t", "target": "t", "weight": -2}]}, "tasks.0.weight"),
        ({"tasks": [{"name": "t", "target": "t"}], "modle": {}}, "unknown key 'modle'"),
    ],
)
def test_config_errors_are_one_line(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict(data)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_errors_are_value_errors() -> None:
    # The CLI catches these two to exit with code 2 and no traceback.
    assert issubclass(DataError, ValueError) and issubclass(ConfigError, ValueError)


def test_options_for_a_dataset_without_options() -> None:
    message = message_of(ConfigError, {"dataset": "penguins", "options": {"seed": 3}}, [{"name": "s", "target": "species"}])
    assert "takes no options" in message and "'seed'" in message
