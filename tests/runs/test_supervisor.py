"""The queue advances on its own after a worker dies: real workers, a real supervisor."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from conftest import python_output, status, wait_for
from mtl import presets
from mtl.runs.scheduler import launch
from mtl.runs.store import RunStore
from mtl.runs.supervisor import SUPERVISOR_ENV, ensure_supervisor, supervisor_pid

TIMEOUT = 120


@pytest.fixture(autouse=True)
def supervisor_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SUPERVISOR_ENV, "1")  # the suite turns it off elsewhere (conftest.py)


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_queued_run_starts_by_itself_after_the_running_worker_is_killed(home: Path) -> None:
    store = RunStore(home)  # MTL_HEARTBEAT_TIMEOUT=2 (the home fixture)
    long = presets.load("synthetic-related").with_overrides(
        {"train.epochs": 500, "data.options.samples": 20000, "name": "long"}
    )
    short = presets.load("seed-example").with_overrides({"train.epochs": 2, "name": "short"})
    first = launch(long, store, max_running=1)
    second = launch(short, store, max_running=1)
    assert (status(store, first), status(store, second)) == ("running", "queued")
    watcher = wait_for(lambda: supervisor_pid(home), timeout=30)  # started: a run is waiting

    wait_for(lambda: len(store.metrics(first)) > 0, TIMEOUT)  # the first worker is training
    worker = store.get_run(first)["pid"]
    os.killpg(worker, signal.SIGKILL)
    wait_for(lambda: gone(worker), timeout=10)

    # No CLI call, no dispatch from this test: only the store is read from here on.
    wait_for(lambda: status(store, second) != "queued", TIMEOUT)
    assert status(store, first) == "interrupted"
    assert "heartbeat" in store.get_run(first)["error"]
    wait_for(lambda: status(store, second) not in ("queued", "running"), TIMEOUT)
    assert status(store, second) == "finished", store.get_run(second)["error"]

    # Nothing is queued any more: the supervisor has left, no process lingers.
    wait_for(lambda: gone(watcher), timeout=30)
    assert supervisor_pid(home) is None


def test_one_supervisor_per_home_that_leaves_when_the_queue_empties(home: Path) -> None:
    store = RunStore(home)
    busy = store.create_run("busy", {}, status="running", pid=os.getpid())
    store.heartbeat(busy)  # a live run holds the only slot
    waiting = store.create_run("waiting", {})
    started = ensure_supervisor(store, 1)
    assert started is not None
    pid = wait_for(lambda: supervisor_pid(home), timeout=30)
    assert pid == started
    assert ensure_supervisor(store, 1) is None  # never a second one
    assert supervisor_pid(home) == pid
    assert status(store, waiting) == "queued"  # no free slot, nothing stale: it waits

    store.request_stop(waiting)  # the queue is now empty
    wait_for(lambda: gone(pid), timeout=30)
    assert supervisor_pid(home) is None
    assert ensure_supervisor(store, 1) is None  # nothing queued: nothing started


def test_turned_off_with_mtl_supervisor_0(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore(home)
    store.create_run("waiting", {})
    monkeypatch.setenv(SUPERVISOR_ENV, "0")
    assert ensure_supervisor(store, 1) is None
    assert supervisor_pid(home) is None


def test_the_supervisor_never_imports_torch() -> None:
    code = (
        "import sys, mtl.runs.supervisor, mtl.runs.supervisor_process, mtl.runs.scheduler\n"
        "assert 'torch' not in sys.modules, 'torch'"
    )
    python_output(code, timeout=60)  # its assert ran: it exited 0
