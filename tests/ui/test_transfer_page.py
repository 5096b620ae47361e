"""The Transfer page (AppTest): a study's plot and the guide's table filled with its numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.runs.store import RunStore

APP = str(ROOT / "app.py")
TIMEOUT = 60


def test_transfer_page_shows_the_plot_the_table_and_a_presenter_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.runs.worker import execute
    from mtl.study.transfer import launch_transfer_study, study_results, summarize

    home = tmp_path / "home"
    store = RunStore(home)
    monkeypatch.setenv("MTL_MAX_RUNNING", "100")  # claim them all, then train them here
    monkeypatch.setattr(
        "mtl.runs.local_executor._spawn_worker", lambda store, run_id, limit: os.getpid()
    )
    config = presets.load("synthetic-related").with_overrides(
        {"train.epochs": 2, "data.options.samples": 400, "name": "<b>demo</b>"}
    )
    study_id = launch_transfer_study(store, config, "y1", (0.1, 1.0), 1, validate_data=False)
    runs = store.list_runs(with_config=True).iloc[::-1]  # oldest first: pretraining first
    for run in runs.itertuples():
        execute(store, run.id, ExperimentConfig.from_dict(run.config))
    summary = summarize(study_results(store, study_id))
    from mtl.viz.transfer import transfer_report

    html = transfer_report(store, study_id)  # the report has the plot, the table, the verdicts
    assert "Data efficiency: single-task vs multi-task vs transfer learning" in html
    assert "test R² at 10% of the labels" in html and "&lt;b&gt;demo&lt;/b&gt;" in html
    assert "<b>demo</b>" not in html
    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/transfer.py")
    at.query_params["study"] = study_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Transfer"
    assert "Multi-task vs transfer learning, measured" in [s.value for s in at.subheader]
    table = at.dataframe[0].value
    assert list(table.columns) == ["Single-task", "Multi-task learning", "Transfer learning"]
    single_at_10 = summary[(summary.method == "single") & (summary.fraction == 0.1)].iloc[0]
    assert pd.isna(single_at_10["std"])  # one seed: no spread, the mean alone is shown
    assert table.loc["test R² at 10% of the labels", "Single-task"] == f"{single_at_10['mean']:.3f}"
    assert table.loc["verdict", "Transfer learning"].endswith(".")
    verdicts = [t.value for t in at.text if t.value.startswith(("Multi-task", "Transfer"))]
    assert len(verdicts) == 2  # one seed: no spread, so neither a "helps" nor a "hurts" claim
    assert all("No verdict" in v and "at least 2 seeds" in v for v in verdicts), verdicts
    assert "At least 2 for a verdict" in at.number_input(key="tr.seeds").help
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Transfer learning" and not at.button
    assert at.subheader[0].value.startswith("\\<b\\>demo\\</b\\>")  # a user string, escaped


def test_evaluate_and_live_show_lineage_and_the_overfitting_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.runs.worker import execute

    home = tmp_path / "home"
    store = RunStore(home)
    base = presets.load("synthetic-related").with_overrides(
        {"train.epochs": 4, "train.early_stopping": 1, "data.options.samples": 400}
    )
    source = base.with_overrides({"name": "source <b>", "tasks": [base.tasks[1].model_dump()]})
    source_id = store.create_run(source.name, source.to_dict(), status="running")
    execute(store, source_id, source)
    child = base.with_overrides({"name": "child", "model.init_from": source_id})
    child_id = store.create_run(child.name, child.to_dict(), status="running")
    summary = execute(store, child_id, child).summary
    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/evaluate.py")
    at.query_params["run"] = child_id
    at.query_params["present"] = "1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = [t.value for t in at.text]
    assert f"Initialised from run source <b> ({source_id})" in texts  # st.text: shown as typed
    assert "Overfitting: training vs validation loss" in [s.value for s in at.subheader]
    kept = summary["best_epoch"] + 1
    assert any(f"kept the weights of epoch {kept}." in c.value for c in at.caption)
    gaps = next(d.value for d in at.dataframe if "gap" in d.value.columns)
    assert set(gaps["task"]) == {"y1", "y2"} and (gaps["kept epoch"] == kept).all()
    at.switch_page("app_pages/live.py")
    at.query_params["run"] = child_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(d.value.columns.tolist()[:2] == ["task", "kept epoch"] for d in at.dataframe)


def test_the_form_says_how_many_runs_and_how_long_before_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import re
    import time

    monkeypatch.setenv("MTL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MTL_MAX_RUNNING", "2")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/transfer.py").run()
    at.text_input(key="tr.fractions").set_value("0.5, 1").run()
    at.number_input(key="tr.seeds").set_value(2).run()
    assert not at.exception, [e.value for e in at.exception]

    def size() -> str:
        shown = next(c.value for c in at.caption if c.value.startswith("This starts"))
        return shown.replace("\\", "")  # markdown escapes, as the page shows them

    # 2 shares × 2 seeds × 3 methods, and one pretraining run per seed
    assert size().startswith("This starts 12 runs and 2 pretraining runs (")
    deadline = time.monotonic() + 300  # the estimate's child process times real steps
    while "at this machine" not in size() and "no duration" not in size():
        assert time.monotonic() < deadline, size()
        at.run()
    measured = re.fullmatch(
        r"This starts 12 runs and 2 pretraining runs \(at most about [\d.]+ (s|min \d\d s) at this machine's speed, "
        r"2 at a time\)\.",
        size(),
    )
    assert measured, size()
    assert RunStore(tmp_path / "home").list_runs().empty  # nothing started before Start
    at.number_input(key="tr.seeds").set_value(3).run()  # no new measurement: counted at once
    assert size().startswith("This starts 18 runs and 3 pretraining runs (at most about")
