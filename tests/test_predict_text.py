"""Predictions on new rows with a text column use the vocabulary saved with the run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from text_support import review_table

from conftest import assert_user_error, run_cli
from mtl.config import ExperimentConfig
from mtl.data.preprocessing import PREPROCESSING
from mtl.predict import predict_frame
from mtl.runs.store import RunStore
from mtl.runs.worker import execute


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path, pd.DataFrame]:
    home = tmp_path_factory.mktemp("text-home")
    table = review_table(300)
    csv = home.parent / "reviews.csv"
    table.to_csv(csv, index=False)
    config = ExperimentConfig.from_dict(
        {
            "name": "reviews",
            "data": {"dataset": "csv", "path": str(csv)},
            "tasks": [{"name": "liked", "target": "liked"}],
            "model": {"hidden": [16]},
            "train": {"epochs": 15, "lr": 0.01, "seed": 0},
        }
    )
    store = RunStore(home)
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    assert execute(store, run_id, config).status == "finished"
    return home, run_id, store.run_dir(run_id), table


def test_saved_vocabulary_reproduces_the_runs_test_predictions(text_run) -> None:  # type: ignore[no-untyped-def]
    home, run_id, folder, table = text_run
    saved = json.loads((folder / PREPROCESSING).read_text())
    assert saved["text"][0]["column"] == "review"
    assert "great" in saved["text"][0]["vocab"]

    stored = pd.read_csv(folder / "predictions" / "liked.csv")
    rows = table.iloc[stored["row"]].reset_index(drop=True)
    predicted, _ = predict_frame(folder, rows.drop(columns=["liked"]))
    assert (predicted["liked"] == stored["pred"]).all()
    summary = RunStore(home).get_run(run_id)["summary"]
    assert summary["test"]["liked"]["accuracy"] >= 0.9  # the words decide the label


def test_cli_predicts_new_text_rows(text_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home, run_id, _, _ = text_run
    new = pd.DataFrame(
        {
            "review": ["a wonderful and brilliant film", "dull, tedious and lifeless", None],
            "length": [5.0, 4.0, None],
        }
    )
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    new.to_csv(src, index=False)
    result = run_cli("predict", run_id, "--csv", str(src), "--out", str(out), home=home)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert table["liked"].tolist()[:2] == ["yes", "no"]
    assert "review (1)" in result.stderr and "text: empty" in result.stderr


def test_missing_text_column_is_one_error_line(text_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home, run_id, _, _ = text_run
    src = tmp_path / "in.csv"
    pd.DataFrame({"length": [3.0], "reviews": ["a fine film"]}).to_csv(src, index=False)
    result = run_cli(
        "predict", run_id, "--csv", str(src), "--out", str(tmp_path / "o.csv"), home=home
    )
    assert_user_error(result, "missing feature column", "'review'", "did you mean 'reviews'")
