"""Predictions on new rows (mtl.predict and ``python -m mtl predict``) agree with the run's own test results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import assert_user_error, run_cli
from mtl import presets
from mtl.data.catalog import DataError, get_dataset
from mtl.predict import NoModelError, predict_frame, read_input_csv
from mtl.runs.store import RunStore
from mtl.runs.worker import execute


def train(home: Path, preset: str, **overrides: object) -> tuple[str, Path, dict]:
    """Train a preset into the store at ``home``: the run id, its folder and its summary."""
    config = presets.load(preset).with_overrides(overrides)
    store = RunStore(home)
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    result = execute(store, run_id, config)
    assert result.status == "finished"
    return run_id, store.run_dir(run_id), store.get_run(run_id)["summary"]


def raw_test_rows(folder: Path, dataset: str, task: str) -> pd.DataFrame:
    """The dataset's raw rows of the run's test split (row numbers from the stored predictions)."""
    rows = pd.read_csv(folder / "predictions" / f"{task}.csv")["row"]
    return get_dataset(dataset).frame(dataset, {}).iloc[rows].reset_index(drop=True)


@pytest.fixture(scope="module")
def penguins(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, str, Path, dict, pd.DataFrame]:
    home = tmp_path_factory.mktemp("penguins-home")
    run_id, folder, summary = train(
        home, "penguins", **{"train.epochs": 8, "train.early_stopping": None}
    )
    return home, run_id, folder, summary, raw_test_rows(folder, "penguins", "species")


def test_cli_predictions_reproduce_the_test_metrics(penguins, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home, run_id, folder, summary, rows = penguins
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    rows.to_csv(src, index=False)
    result = run_cli("predict", run_id, "--csv", str(src), "--out", str(out), home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {len(rows)} rows to {out}"
    assert "year" in result.stderr  # not a feature: ignored with a warning; targets silently

    table = pd.read_csv(out)
    assert list(table.columns) == [
        "row",
        "species",
        "species p(Adelie)",
        "species p(Chinstrap)",
        "species p(Gentoo)",
        "sex",
        "sex p(female)",
        "sex p(male)",
        "body_mass",
    ]
    assert (table["row"] == np.arange(len(rows))).all()

    in_process, warnings = predict_frame(folder, read_input_csv(src))
    pd.testing.assert_frame_equal(
        table, in_process, check_exact=True
    )  # CLI and UI see the same table
    assert any("year" in w for w in warnings)

    for task, target in (("species", "species"), ("sex", "sex")):
        labelled = rows[target].notna()
        accuracy = (table.loc[labelled, task] == rows.loc[labelled, target]).mean()
        assert accuracy == pytest.approx(summary["test"][task]["accuracy"], rel=1e-12)
        stored = pd.read_csv(folder / "predictions" / f"{task}.csv")
        assert (table[task] == stored["pred"]).all()
        probs = table.filter(like=f"{task} p(")
        assert np.allclose(probs.sum(axis=1), 1.0)

    stored = pd.read_csv(folder / "predictions" / "body_mass.csv")
    np.testing.assert_allclose(table["body_mass"], stored["pred_body_mass_g"], rtol=1e-4)


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing", ["missing feature column", "'bill_depth_mm'"]),
        ("text", ["'flipper_length_mm'", "must be numeric", "'long'"]),
    ],
)
def test_bad_input_exits_2_with_one_line(
    penguins, tmp_path: Path, case: str, fragments: list[str]
) -> None:  # type: ignore[no-untyped-def]
    home, run_id, _, _, rows = penguins
    frame = rows.copy()
    if case == "missing":
        frame = frame.drop(columns=["bill_depth_mm"])
    else:
        frame["flipper_length_mm"] = frame["flipper_length_mm"].astype(object)
        frame.loc[3, "flipper_length_mm"] = "long"
    src = tmp_path / "in.csv"
    frame.to_csv(src, index=False)
    result = run_cli(
        "predict", run_id, "--csv", str(src), "--out", str(tmp_path / "out.csv"), home=home
    )
    assert_user_error(result, *fragments)
    assert not (tmp_path / "out.csv").exists()


def test_unseen_category_and_extra_columns_warn(penguins, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    home, run_id, folder, _, rows = penguins
    frame = rows.drop(columns=["species", "sex", "body_mass_g"])
    frame.loc[0, "island"] = "Atlantis"
    frame["notes"] = "seen from a boat"
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.to_csv(src, index=False)
    result = run_cli("predict", run_id, "--csv", str(src), "--out", str(out), home=home)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any("'island'" in w and "Atlantis" in w for w in warnings), result.stderr
    assert any("notes" in w and "year" in w for w in warnings), result.stderr
    table = pd.read_csv(out)
    assert len(table) == len(frame) and table.notna().all().all()
    # an unseen category is an all-zero one-hot vector, as in training; other rows unchanged
    reference, _ = predict_frame(folder, rows)
    pd.testing.assert_frame_equal(table.iloc[1:], reference.iloc[1:], check_exact=False, rtol=1e-9)


def test_in_process_errors(penguins, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, folder, _, rows = penguins
    with pytest.raises(DataError, match=r"missing feature column\(s\) \['island'\]"):
        predict_frame(folder, rows.drop(columns=["island"]))
    with pytest.raises(DataError, match="no rows"):
        predict_frame(folder, rows.iloc[:0])
    with pytest.raises(NoModelError, match="no saved model"):
        predict_frame(tmp_path, rows)
    # missing values are imputed as in training, with a warning
    frame = rows.copy()
    frame.loc[0, ["bill_length_mm", "island"]] = np.nan
    table, warnings = predict_frame(folder, frame)
    assert table.notna().all().all()
    assert any("missing values" in w and "bill_length_mm" in w and "island" in w for w in warnings)


def test_run_without_a_model_exits_2(home: Path, tmp_path: Path) -> None:
    store = RunStore(home)
    run_id = store.create_run("broken", presets.load("penguins").to_dict(), status="running")
    store.set_status(run_id, "failed", error="ValueError: something broke")
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run_cli(
        "predict", run_id, "--csv", str(src), "--out", str(tmp_path / "out.csv"), home=home
    )
    assert_user_error(result, run_id, "failed", "finished or stopped")


def test_image_run_predicts(tmp_path: Path) -> None:
    run_id, folder, summary = train(tmp_path / "home", "digits", **{"train.epochs": 2})
    rows = raw_test_rows(folder, "digits", "digit")
    src = tmp_path / "digits.csv"
    rows.drop(columns=["digit", "parity", "ge5"]).to_csv(src, index=False)
    table, warnings = predict_frame(folder, read_input_csv(src))
    assert warnings == []
    assert {
        "digit",
        "digit p(0)",
        "digit p(9)",
        "parity",
        "parity p(even)",
        "ge5",
        "ge5 p(1)",
    } <= set(table.columns)
    for task in ("digit", "parity", "ge5"):
        accuracy = (table[task] == rows[task].astype(str)).mean()
        assert accuracy == pytest.approx(summary["test"][task]["accuracy"], rel=1e-12)


def test_dashboard_predictions_equal_the_cli_output(penguins, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mtl.ui.predict import PredictError, predict_upload

    home, run_id, _, _, rows = penguins
    raw = rows.drop(columns=["species", "sex", "body_mass_g"])
    source = tmp_path / "in.csv"
    raw.to_csv(source, index=False)
    out = tmp_path / "out.csv"
    assert (
        run_cli("predict", run_id, "--csv", str(source), "--out", str(out), home=home).returncode
        == 0
    )
    ui_table, _ = predict_upload(home, run_id, source.read_bytes())
    pd.testing.assert_frame_equal(ui_table, pd.read_csv(out, dtype=str))
    with pytest.raises(PredictError, match="bill_length_mm"):
        predict_upload(
            home, run_id, raw.drop(columns=["bill_length_mm"]).to_csv(index=False).encode()
        )


# ---- the Evaluate page reads the stored predictions robustly ------------------------------


def test_evaluate_page_shows_a_damaged_prediction_file_as_plain_text(penguins, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    home, run_id, folder, _, _ = penguins
    path = folder / "predictions" / "species.csv"
    intact = path.read_bytes()
    path.write_bytes(intact[: len(intact) // 2])  # cut mid-row, as a crash mid-write would
    try:
        monkeypatch.setenv("MTL_HOME", str(home))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
        at.switch_page("app_pages/evaluate.py")
        at.query_params["run"] = run_id
        at.run()
    finally:
        path.write_bytes(intact)
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot be read" in e.value for e in at.error)
    assert any("species.csv" in t.value and "incomplete" in t.value for t in at.text)
