"""Warm spare workers: a spare takes a launched run, trains it, and is stopped cleanly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mtl import presets
from mtl.runs import spare
from mtl.runs.launcher import dispatch, launch
from mtl.runs.store import TERMINAL_STATUSES, RunStore


def wait_for(predicate, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def warm(home: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("MTL_WARM_WORKER", "1")
    store = RunStore(home)
    spare.ensure_spare(store)
    wait_for(lambda: spare.idle_spares(store))
    return store


def test_a_launched_run_goes_to_the_idle_spare_and_finishes(warm: RunStore) -> None:
    (spare_pid,) = spare.idle_spares(warm)
    config = presets.load("seed-example").with_overrides({"train.epochs": 2})
    run_id = launch(config, warm, max_running=1, warm=True)
    assert warm.get_run(run_id)["pid"] == spare_pid
    wait_for(lambda: warm.get_run(run_id)["status"] in TERMINAL_STATUSES)
    run = warm.get_run(run_id)
    assert run["status"] == "finished", run["error"]
    assert run["pid"] == spare_pid and len(warm.metrics(run_id)) > 0
    # the slot is busy, so no new spare is started while the run trains; the next
    # dispatch with a free slot starts one
    wait_for(lambda: not spare._alive(spare_pid))
    dispatch(warm, 1, warm=True)
    wait_for(lambda: [p for p in spare.idle_spares(warm) if p != spare_pid])


def test_one_spare_takes_one_run_only(warm: RunStore) -> None:
    first = spare.assign(warm, "run-a", 1)
    assert first is not None
    assert spare.assign(warm, "run-b", 1) is None  # already given a job


def test_stop_spares_ends_idle_spares(warm: RunStore) -> None:
    pids = spare.idle_spares(warm)
    spare.stop_spares(warm.home)
    wait_for(lambda: not any(spare._alive(p) for p in pids), timeout=10)
    assert spare.idle_spares(warm) == []
