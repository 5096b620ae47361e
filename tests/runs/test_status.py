"""RunStatus: one enum whose members are the store's plain strings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mtl.runs import store
from mtl.runs.status import ACTIVE, STATUSES, TERMINAL, TERMINAL_STATUSES, TRANSITIONS, RunStatus

ROOT = Path(__file__).resolve().parents[2]


def test_members_are_the_stored_strings() -> None:
    assert RunStatus.FINISHED == "finished"
    assert "finished" in TERMINAL and "queued" in ACTIVE
    assert str(RunStatus.DIVERGED) == "diverged" and f"{RunStatus.STOPPED}" == "stopped"
    assert json.dumps({"status": RunStatus.RUNNING}) == '{"status": "running"}'
    assert RunStatus("interrupted") is RunStatus.INTERRUPTED


def test_active_and_terminal_split_every_status() -> None:
    assert set(RunStatus) == ACTIVE | TERMINAL and not ACTIVE & TERMINAL
    assert STATUSES == (
        "queued",
        "running",
        "finished",
        "stopped",
        "failed",
        "diverged",
        "interrupted",
    )
    assert {"finished", "stopped", "failed", "diverged", "interrupted"} == TERMINAL_STATUSES
    assert all(type(s) is str for s in (*STATUSES, *TERMINAL_STATUSES))


def test_transitions_are_the_store_model() -> None:
    assert TRANSITIONS["queued"] == {"running", "stopped", "failed"}
    assert TRANSITIONS["running"] == TERMINAL_STATUSES
    assert all(TRANSITIONS[s] == frozenset() for s in TERMINAL_STATUSES)
    assert store.TRANSITIONS is TRANSITIONS and store.STATUSES is STATUSES


def test_a_stored_status_round_trips(tmp_path: Path) -> None:
    runs = store.RunStore(tmp_path / "home")
    run_id = runs.create_run("a", {}, status=RunStatus.QUEUED)
    assert runs.request_stop(run_id) == RunStatus.STOPPED
    row = runs.get_run(run_id)
    assert row["status"] == "stopped" and type(row["status"]) is str


def test_status_module_is_dependency_free() -> None:
    code = "import sys, mtl.runs.status; print(sorted(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
