"""Evaluate's verdict button shows the verdict's size and time, and starts only when confirmed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from mtl import presets
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore
from mtl.runs.store_db import DB_NAME
from mtl.study.sweeps.records import read_records

APP = str(ROOT / "app.py")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A finished seed-example run that trained 30 epochs in 60 s, and a running run that
    holds the one slot (so nothing a test queues starts)."""
    store = RunStore(tmp_path)
    config = presets.load("seed-example").to_dict()  # 30 epochs
    run_id = store.create_run("source", config, status=RunStatus.RUNNING, pid=os.getpid())
    store.set_status(
        run_id, RunStatus.FINISHED, summary={"epochs": 30, "test": {"label": {"accuracy": 0.9}}}
    )
    with sqlite3.connect(tmp_path / DB_NAME) as conn:  # 2 s per epoch
        conn.execute("UPDATE runs SET started_at = 1000, ended_at = 1060 WHERE id = ?", (run_id,))
    busy = store.create_run("busy", config, status=RunStatus.RUNNING, pid=os.getpid())
    store.heartbeat(busy)
    for name, value in {
        "MTL_HOME": str(tmp_path),
        "MTL_WARM_WORKER": "0",
        "MTL_SUPERVISOR": "0",
        "MTL_MAX_RUNNING": "1",
        "MTL_HEARTBEAT_TIMEOUT": "3600",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path, run_id


def test_the_verdict_button_asks_first_with_the_count_and_the_time(home: tuple[Path, str]) -> None:
    store = RunStore(home[0])
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/evaluate.py")
    at.query_params["run"] = home[1]
    at.run()
    before = len(store.list_runs())
    at.button(key="ev.verdict").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(store.list_runs()) == before  # nothing queued by the click
    # 5 seeds × (2 settings × 3 methods + 4 static weight vectors) = 50 runs, plus 2 settings
    # × 5 seeds = 10 baselines; 60 rounds (1 at a time) × 30 epochs × 2 s = 3600 s
    assert (
        "This verdict trains up to 60 runs (10 single-task baselines and 50 multi-task runs) "
        "of 30 epochs each: about 1 h 00 min here, 1 at a time" in [t.value for t in at.text][0]
    )
    assert at.button(key="ev.verdict.start").label == "Start 60 runs"

    at.button(key="ev.verdict.cancel").click().run()
    assert not [t for t in at.text if "This verdict trains" in t.value]
    assert len(store.list_runs()) == before and not read_records(store)

    at.button(key="ev.verdict").click().run()
    at.button(key="ev.verdict.start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (record,) = read_records(store)
    assert len(record["runs"]) == 50 and len(record["baselines"]) == 10
    assert len(store.list_runs(RunStatus.QUEUED)) == 60
