"""Warm spare workers: a spare takes a launched run, trains it, is replaced at once and is
stopped cleanly; hostile or stray files in the spares folder never capture a run, never get
a signal and never break a caller; a spare whose server is gone exits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, wait_for
from mtl import presets
from mtl.runs import spare
from mtl.runs.processes import pid_alive
from mtl.runs.scheduler import dispatch, launch
from mtl.runs.store import TERMINAL_STATUSES, RunStore


@pytest.fixture
def warm(home: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("MTL_WARM_WORKER", "1")
    store = RunStore(home)
    spare.ensure_spare(store)
    wait_for(lambda: spare.idle_spares(store))
    return store


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen]:
    """An unrelated live process (what a recycled pid would name)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    wait_for(lambda: spare.start_time(proc.pid) is not None, timeout=10)
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def marker_text(pid: int, token: str = "ab" * 16, start: int | None = None) -> str:
    return json.dumps(
        {"pid": pid, "token": token, "start": spare.start_time(pid) if start is None else start}
    )


def test_a_launched_run_goes_to_the_idle_spare_and_a_new_spare_replaces_it(warm: RunStore) -> None:
    (spare_pid,) = spare.idle_spares(warm)
    config = presets.load("seed-example").with_overrides({"train.epochs": 2})
    run_id = launch(config, warm, max_running=1, warm=True)
    assert warm.get_run(run_id)["pid"] == spare_pid
    # the spare that took the run is replaced at once, so the next launch is warm too
    replacement = wait_for(lambda: [p for p in spare.idle_spares(warm) if p != spare_pid])
    wait_for(lambda: warm.get_run(run_id)["status"] in TERMINAL_STATUSES)
    run = warm.get_run(run_id)
    assert run["status"] == "finished", run["error"]
    assert run["pid"] == spare_pid and len(warm.metrics(run_id)) > 0
    second = launch(config, warm, max_running=1, warm=True)
    assert warm.get_run(second)["pid"] == replacement[0]


def test_one_spare_takes_one_run_only(warm: RunStore) -> None:
    first = spare.assign(warm, "run-a", 1)
    assert first is not None
    assert spare.assign(warm, "run-b", 1) != first  # a job was handed to it already


def test_stop_spares_ends_idle_spares(warm: RunStore) -> None:
    pids = spare.idle_spares(warm)
    spare.stop_spares(warm.home)
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout=10)
    assert spare.idle_spares(warm) == []


def test_stray_and_malformed_markers_are_ignored(home: Path, bystander: subprocess.Popen) -> None:
    store = RunStore(home)
    folder = home / "spares"
    folder.mkdir(parents=True)
    (folder / "notes.idle").write_text("my notes\n")
    (folder / "12.idle").write_text("not json")
    (folder / "13.idle").write_text(json.dumps({"pid": 13}))
    (folder / f"{bystander.pid}.idle").write_text(
        json.dumps({"pid": 1, "token": "ab" * 16, "start": 0})
    )
    (folder / "x.starting").mkdir()
    assert spare.idle_spares(store) == []
    assert spare.assign(store, "run-a", 1) is None
    spare.stop_spares(home)  # no exception, nothing signalled
    assert bystander.poll() is None
    store.create_run("r", presets.load("seed-example").to_dict())
    assert dispatch(store, 1) != []  # the queue still works (a fresh worker takes it)


def test_a_marker_naming_an_unrelated_process_never_captures_a_run(
    home: Path, bystander: subprocess.Popen
) -> None:
    store = RunStore(home)
    folder = home / "spares"
    folder.mkdir(parents=True)
    # right pid and start time, but the process carries no spare token: not a spare
    (folder / f"{bystander.pid}.idle").write_text(marker_text(bystander.pid))
    (folder / f"{bystander.pid}.starting").write_text(marker_text(bystander.pid))
    assert spare.read_marker(folder / f"{bystander.pid}.idle") is not None  # well formed
    assert spare.idle_spares(store) == []
    assert spare.assign(store, "run-a", 1) is None
    assert not (folder / f"{bystander.pid}.job").exists()
    spare.stop_spares(home)
    time.sleep(0.2)  # a wrongly sent SIGKILL would have ended it by now
    assert bystander.poll() is None


def test_symlinks_in_or_as_the_spares_folder_are_not_followed(
    warm: RunStore, tmp_path: Path
) -> None:
    (pid,) = spare.idle_spares(warm)
    folder = warm.home / "spares"
    real = folder / f"{pid}.idle"
    moved = tmp_path / "elsewhere.idle"
    moved.write_text(real.read_text())
    real.unlink()
    real.symlink_to(moved)  # a valid spare's marker, but through a symlink
    assert spare.idle_spares(warm) == []
    assert spare.assign(warm, "run-a", 1) is None
    real.unlink()
    real.write_text(moved.read_text())
    assert spare.idle_spares(warm) == [pid]
    other = tmp_path / "other-home"
    other.mkdir()
    (other / "spares").symlink_to(folder, target_is_directory=True)
    assert spare.idle_spares(RunStore(other)) == []  # the folder itself is a symlink
    assert spare.assign(RunStore(other), "run-b", 1) is None
    assert spare.idle_spares(warm) == [pid]


def test_a_spare_exits_soon_after_its_owner_is_gone(
    home: Path, bystander: subprocess.Popen
) -> None:
    store = RunStore(home)
    owner = f"{bystander.pid}:{spare.start_time(bystander.pid)}"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mtl.runs.spare_process",
            "--home",
            str(home),
            "--token",
            "cd" * 16,
            "--owner",
            owner,
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: proc.pid in spare.idle_spares(store))  # warm and waiting
        bystander.kill()
        bystander.wait(timeout=10)
        assert proc.wait(timeout=15) == 0  # polls its owner every second
        assert spare.idle_spares(store) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
