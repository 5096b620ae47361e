"""The Executor seam: the scheduler claims, dispatches and stops runs through it; the local
executor on real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mtl.runs.executor import Executor
from mtl.runs.local_executor import LocalExecutor
from mtl.runs.scheduler import dispatch, stop
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore


class Elsewhere:
    """An executor that starts nothing here: it records what it was asked (as a remote one
    would) and has no local pid to give."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.stops: list[tuple[str, bool]] = []
        self.warmed = 0

    def submit(self, run_id: str) -> int | None:
        self.submitted.append(run_id)
        return None

    def stop(self, run_id: str, *, force: bool = False) -> bool:
        self.stops.append((run_id, force))
        return True  # the remote task may still be there

    def alive(self, run_id: str) -> bool:
        return True

    def warm_up(self) -> None:
        self.warmed += 1


def test_dispatch_starts_claimed_runs_through_the_executor_up_to_the_limit(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    ids = [store.create_run(f"r{i}", {}) for i in range(3)]
    executor = Elsewhere()
    assert isinstance(executor, Executor)
    started = dispatch(store, 2, supervise=False, executor=executor)
    assert started == executor.submitted == ids[:2]
    assert [store.get_run(i)["status"] for i in ids] == ["running", "running", "queued"]
    assert [store.get_run(i)["pid"] for i in ids] == [None, None, None]  # trains elsewhere
    assert dispatch(store, 2, supervise=False, executor=executor) == []  # no free slot
    assert executor.submitted == ids[:2]


def test_the_scheduler_asks_for_a_warm_process_only_while_a_slot_is_free(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("MTL_WARM_WORKER", "1")
    store = RunStore(tmp_path / "home")
    executor = Elsewhere()
    store.create_run("r", {})
    dispatch(store, 1, warm=True, supervise=False, executor=executor)  # the one slot is taken
    assert executor.warmed == 0
    dispatch(store, 2, warm=True, supervise=False, executor=executor)
    assert executor.warmed == 1
    dispatch(store, 2, warm=False, supervise=False, executor=executor)  # nobody asked
    assert executor.warmed == 1


def test_stop_asks_then_forces_the_executor_and_marks_the_run_stopped(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    run_id = store.create_run("r", {}, status=RunStatus.RUNNING)
    executor = Elsewhere()
    assert stop(store, run_id, grace_s=0.2, executor=executor) == RunStatus.STOPPED
    assert executor.stops == [(run_id, False), (run_id, True)]
    run = store.get_run(run_id)
    assert run["status"] == "stopped" and run["stop_requested"]
    assert "not stopping within 0.2 s" in run["error"]


def test_a_queued_run_is_cancelled_without_the_executor(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    queued = store.create_run("queued", {})
    executor = Elsewhere()
    assert stop(store, queued, executor=executor) == "stopped"
    assert store.get_run(queued)["status"] == "stopped" and executor.stops == []


def test_the_local_executor_tells_live_from_dead_and_signals_the_process_group(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path / "home")
    local = LocalExecutor(store, 1)
    assert isinstance(local, Executor)
    live = store.create_run("live", {}, status=RunStatus.RUNNING, pid=os.getpid())
    assert local.alive(live)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store.set_pid(live, child.pid)
    assert not local.alive(live)
    assert not local.stop(live)  # its process is gone: nothing left to wait for
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        store.set_pid(live, sleeper.pid)
        assert local.alive(live)
        assert local.stop(live, force=True)
        assert sleeper.wait(timeout=30) == -signal.SIGKILL
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
