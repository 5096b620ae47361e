"""The worker, launcher and run control with real processes and the real SQLite store."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import status, wait_for
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.runs.scheduler import dispatch, launch, stop
from mtl.runs.store import TERMINAL_STATUSES, RunStore


def short_config(epochs: int = 4, name: str = "short") -> ExperimentConfig:
    """seed-example for a few epochs: a run that takes a second or two."""
    return presets.load("seed-example").with_overrides({"train.epochs": epochs, "name": name})


def long_config() -> ExperimentConfig:
    """A run that trains for minutes unless stopped (many epochs on 20,000 rows)."""
    return presets.load("synthetic-related").with_overrides(
        {"train.epochs": 500, "data.options.samples": 20000, "train.log_every": 5, "name": "long"}
    )


def test_detached_run_is_running_then_finishes_with_its_files(home: Path) -> None:
    store = RunStore(home)
    run_id = launch(short_config(epochs=6), store, max_running=1)
    assert status(store, run_id) == "running"  # claimed at launch, worker started
    pid = store.get_run(run_id)["pid"]
    assert pid and pid != os.getpid()
    wait_for(lambda: status(store, run_id) in TERMINAL_STATUSES)
    run = store.get_run(run_id)
    assert run["status"] == "finished", run["error"]
    assert run["summary"]["test"]["label"]["accuracy"] > 0.6
    folder = store.run_dir(run_id)
    for name in ("config.yaml", "checkpoint.pt", "summary.json", "metrics.csv"):
        assert (folder / name).is_file(), name
    epochs = store.metrics(run_id)
    assert set(epochs["split"]) == {"step", "train", "val"}
    assert epochs[epochs["split"] == "val"]["epoch"].max() == 5
    assert len(store.weights(run_id)) > 0


def test_kill_9_leaves_run_interrupted_with_metrics_kept(home: Path) -> None:
    store = RunStore(home)
    run_id = launch(long_config(), store, max_running=1)
    wait_for(lambda: len(store.metrics(run_id)) >= 20)
    pid = store.get_run(run_id)["pid"]
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: not _alive(pid), timeout=10)
    rows_at_kill = len(store.metrics(run_id))
    # Any reader's dispatch marks stale runs; the heartbeat timeout is 2 s in tests.
    wait_for(
        lambda: (dispatch(store, 1), status(store, run_id) == "interrupted")[1],
        every=0.5,
        timeout=15,
    )
    assert time.monotonic() - killed_at <= 2 + 3  # within the heartbeat timeout (+ polling slack)
    run = store.get_run(run_id)
    assert "heartbeat" in run["error"]
    assert len(store.metrics(run_id)) == rows_at_kill >= 20


def test_stop_ends_a_running_run_stopped_and_keeps_checkpoint(home: Path) -> None:
    store = RunStore(home)
    run_id = launch(long_config(), store, max_running=1)
    wait_for(lambda: len(store.metrics(run_id)) >= 10)
    assert stop(store, run_id, grace_s=20) == "stopped"
    assert (store.run_dir(run_id) / "checkpoint.pt").is_file()
    assert len(store.metrics(run_id)) >= 10
    assert store.get_run(run_id)["summary"]["status"] == "stopped"


def test_stop_cancels_a_queued_run(home: Path) -> None:
    store = RunStore(home)
    first = launch(long_config(), store, max_running=1)
    second = launch(short_config(), store, max_running=1)
    assert status(store, second) == "queued"
    assert stop(store, second) == "stopped"
    assert stop(store, first, grace_s=20) == "stopped"


def test_three_runs_with_concurrency_one_run_one_after_another(home: Path) -> None:
    store = RunStore(home)
    ids = [launch(short_config(epochs=3, name=f"r{i}"), store, max_running=1) for i in range(3)]
    assert [status(store, i) for i in ids] == ["running", "queued", "queued"]
    wait_for(lambda: all(status(store, i) in TERMINAL_STATUSES for i in ids), timeout=180)
    runs = [store.get_run(i) for i in ids]
    assert [r["status"] for r in runs] == ["finished"] * 3
    for before, after in zip(runs, runs[1:], strict=False):
        assert after["started_at"] >= before["ended_at"] - 0.5  # never two at once


def test_reader_polling_every_100ms_never_errors_or_sees_torn_rows(home: Path) -> None:
    store = RunStore(home)
    run_id = launch(long_config(), store, max_running=1)
    reader = RunStore(home)

    # Watch 6 s of training counted from the first rows: a busy machine starts slowly.
    wait_for(lambda: len(reader.metrics(run_id)) > 0)
    seen: list[pd.DataFrame] = []
    last_id = 0
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        new = reader.metrics(run_id, after_id=last_id)
        if len(new):
            seen.append(new)
            last_id = int(new["id"].max())
        time.sleep(0.1)
    stop(store, run_id, grace_s=20)
    assert len(seen) >= 3  # points arrived in several batches while training
    polled = pd.concat(seen)
    full = store.metrics(run_id)
    # Nothing lost or duplicated: the incremental reads are a prefix of the full read.
    assert polled["id"].tolist() == full["id"].tolist()[: len(polled)]
    steps = polled[polled["split"] == "step"]
    per_step = steps.groupby("step").size()
    assert (per_step == 3).all()  # 2 task losses + lr for every step, never half a step


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("bad", ["nope"])
def test_unknown_run_id_is_a_clear_error(home: Path, bad: str) -> None:
    from mtl.runs.store import RunNotFoundError

    with pytest.raises(RunNotFoundError, match="no run 'nope'"):
        stop(RunStore(home), bad)
