"""The Executor seam: dispatch starts claimed runs through it; the local one on real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mtl.runs.executor import Executor
from mtl.runs.launcher import LocalExecutor, dispatch
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore


class InThisProcess:
    """An executor that starts nothing: it records what it was given (as a remote one would)."""

    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, run_id: str) -> int:
        self.submitted.append(run_id)
        return os.getpid()

    def stop(self, run_id: str, grace_s: float = 10.0) -> str:
        return RunStatus.STOPPED

    def alive(self, run_id: str) -> bool:
        return True


def test_dispatch_starts_claimed_runs_through_the_executor_up_to_the_limit(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    ids = [store.create_run(f"r{i}", {}) for i in range(3)]
    executor = InThisProcess()
    assert isinstance(executor, Executor)
    started = dispatch(store, 2, supervise=False, executor=executor)
    assert started == executor.submitted == ids[:2]
    assert [store.get_run(i)["status"] for i in ids] == ["running", "running", "queued"]
    assert {store.get_run(i)["pid"] for i in ids[:2]} == {os.getpid()}


def test_the_local_executor_tells_live_from_dead_and_cancels_a_queued_run(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    local = LocalExecutor(store, 1)
    assert isinstance(local, Executor)
    live = store.create_run("live", {}, status=RunStatus.RUNNING, pid=os.getpid())
    assert local.alive(live)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    store.set_pid(live, child.pid)
    assert not local.alive(live)
    queued = store.create_run("queued", {})
    assert local.stop(queued) == "stopped"
    assert store.get_run(queued)["status"] == "stopped"
