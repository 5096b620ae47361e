"""Tests for the run store: real SQLite files, real processes where concurrency matters."""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtl.runs import store_db, store_schema
from mtl.runs.store import (
    METRIC_COLUMNS,
    SCHEMA_VERSION,
    STALE_MESSAGE,
    STATUSES,
    TERMINAL_STATUSES,
    IllegalTransitionError,
    RunNotFoundError,
    RunStore,
    StoreError,
    resolve_home,
)

REPO = Path(__file__).resolve().parents[2]


def _python(code: str, *args: str) -> subprocess.Popen:
    """Start ``python -c code args`` that can import ``mtl`` from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _raw(store: RunStore) -> sqlite3.Connection:
    return sqlite3.connect(store.db_path, isolation_level=None, timeout=30, check_same_thread=False)


def _age(store: RunStore, run_id: str, heartbeat_age_s: float | None, started_age_s: float) -> None:
    """Pretend the run started / last beat this many seconds ago."""
    now = time.time()
    heartbeat = None if heartbeat_age_s is None else now - heartbeat_age_s
    with _raw(store) as conn:
        conn.execute(
            "UPDATE runs SET heartbeat = ?, started_at = ? WHERE id = ?",
            (heartbeat, now - started_age_s, run_id),
        )


def _rows(step: int, n: int, value: float = 1.0) -> list[tuple]:
    return [(step, 0, time.time(), "task", "train", f"m{i}", value, None) for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "home")


# --------------------------------------------------------------------------- home, runs


def test_resolve_home_prefers_argument_then_env_then_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MTL_HOME", raising=False)
    assert resolve_home() == tmp_path / "mtl-runs"
    monkeypatch.setenv("MTL_HOME", str(tmp_path / "env"))
    assert resolve_home() == tmp_path / "env"
    assert resolve_home(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_home("rel") == tmp_path / "rel"


def test_store_layout(store):
    assert store.db_path == store.home / "store.sqlite"
    assert store.db_path.exists()
    run_id = store.create_run("a", {})
    folder = store.run_dir(run_id)
    assert folder == store.home / "runs" / run_id and folder.is_dir()
    with _raw(store) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert pickle.loads(pickle.dumps(store)).home == store.home


def test_create_get_list(store):
    config = {"tasks": ["a", "b"], "lr": 1e-3, "nested": {"seed": np.int64(7)}}
    first = store.create_run("first", config, tags=["baseline"])
    second = store.create_run("second", {"lr": 0.1}, status="running", pid=os.getpid())

    run = store.get_run(first)
    assert run["name"] == "first" and run["status"] == "queued"
    assert run["config"] == {"tasks": ["a", "b"], "lr": 1e-3, "nested": {"seed": 7}}
    assert run["tags"] == ["baseline"] and run["summary"] is None
    assert run["stop_requested"] is False and run["started_at"] is None
    assert store.get_run(second)["started_at"] is not None
    assert store.get_run(second)["pid"] == os.getpid()

    runs = store.list_runs()
    assert runs["id"].tolist() == [second, first]  # newest first
    assert "config" not in runs.columns
    assert runs.loc[runs["id"] == first, "tags"].item() == ["baseline"]
    assert store.list_runs("queued")["id"].tolist() == [first]
    assert store.list_runs(["queued", "running"])["id"].tolist() == [second, first]
    assert store.list_runs("finished").empty
    assert store.list_runs(with_config=True).iloc[0]["config"] == {"lr": 0.1}
    with pytest.raises(ValueError, match="unknown status 'done'"):
        store.list_runs("done")


def test_run_ids_are_unique_readable_and_sortable(store):
    ids = [store.create_run(f"r{i}", {}) for i in range(40)]  # many within one second
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", run_id) for run_id in ids)
    assert [i[:15] for i in ids] == sorted(i[:15] for i in ids)


def test_bad_arguments_are_value_errors(store):
    with pytest.raises(ValueError, match="JSON-serialisable"):
        store.create_run("x", {"f": object()})
    with pytest.raises(ValueError, match="'finished'"):
        store.create_run("x", {}, status="finished")
    with pytest.raises(ValueError, match="string"):
        store.create_run("x", {}, tags="oops")


def test_unknown_run_id_gives_clean_message(store):
    with pytest.raises(RunNotFoundError) as info:
        store.get_run("nope")
    assert str(info.value) == f"no run 'nope' in {store.home}; `python -m mtl runs` lists them"
    assert isinstance(info.value, StoreError) and not isinstance(info.value, KeyError)
    for call in (
        lambda: store.set_status("nope", "running"),
        lambda: store.heartbeat("nope"),
        lambda: store.metrics("nope"),
        lambda: store.add_metrics("nope", _rows(0, 3)),
        lambda: store.add_weights("nope", [(0, 0, 0.0, "a", 1.0)]),
        lambda: store.set_notes("nope", "x"),
        lambda: store.delete_run("nope"),
        lambda: store.run_dir("nope"),
    ):
        with pytest.raises(RunNotFoundError, match="no run 'nope'"):
            call()


# --------------------------------------------------------------------------- statuses


def test_status_constants():
    assert STATUSES[:2] == ("queued", "running")
    assert set(STATUSES) - {"queued", "running"} == TERMINAL_STATUSES


def test_status_transitions_and_times(store):
    run_id = store.create_run("r", {})
    store.set_status(run_id, "running", pid=1234)
    run = store.get_run(run_id)
    assert run["status"] == "running" and run["pid"] == 1234
    assert run["started_at"] is not None and run["ended_at"] is None
    store.set_status(run_id, "finished", summary={"test": {"a": {"accuracy": 0.9}}})
    run = store.get_run(run_id)
    assert run["ended_at"] >= run["started_at"] >= run["created_at"]
    assert run["summary"] == {"test": {"a": {"accuracy": 0.9}}}

    with pytest.raises(IllegalTransitionError) as info:
        store.set_status(run_id, "running")
    assert "'finished'" in str(info.value) and "'running'" in str(info.value)
    assert store.get_run(run_id)["status"] == "finished"

    queued = store.create_run("q", {})
    with pytest.raises(StoreError, match="'queued' to 'finished'"):
        store.set_status(queued, "finished")
    with pytest.raises(ValueError, match="unknown status"):
        store.set_status(queued, "paused")
    store.set_status(queued, "failed", error="could not start the worker")
    run = store.get_run(queued)
    assert run["error"] == "could not start the worker" and run["ended_at"] is not None
    assert run["started_at"] is None

    for terminal in sorted(TERMINAL_STATUSES - {"interrupted"}):
        other = store.create_run(terminal, {})
        store.set_status(other, "running")
        store.set_status(other, terminal)
        assert store.get_run(other)["status"] == terminal


def test_stop_request_cancels_queued_and_flags_running(store):
    queued = store.create_run("q", {})
    assert store.request_stop(queued) == "stopped"
    assert store.get_run(queued)["ended_at"] is not None
    running = store.create_run("r", {}, status="running")
    assert store.stop_requested(running) is False
    assert store.request_stop(running) == "running"
    assert store.stop_requested(running) is True
    store.heartbeat(running)
    assert store.get_run(running)["heartbeat"] is not None


def test_tags_notes_delete_and_export(store, tmp_path):
    run_id = store.create_run("r", {})
    store.set_tags(run_id, ["x", "y"])
    store.set_notes(run_id, "looks good")
    run = store.get_run(run_id)
    assert run["tags"] == ["x", "y"] and run["notes"] == "looks good"

    store.add_metrics(run_id, [(1, 0, 1.5, "a", "val", "auc", None, "one class only")])
    store.add_metrics(run_id, [(2, 1, 2.5, "a", "val", "auc", 0.75, None)])
    out = store.export_csv(run_id, tmp_path / "m.csv")
    frame = pd.read_csv(out)
    assert frame.columns.tolist() == ["run_id", *METRIC_COLUMNS[1:]]
    assert frame["run_id"].tolist() == [run_id, run_id]
    assert math.isnan(frame["value"][0]) and frame["reason"][0] == "one class only"

    store.set_status(run_id, "running")
    (store.run_dir(run_id) / "checkpoint.pt").write_bytes(b"x")
    with pytest.raises(StoreError, match="is running; stop it first"):
        store.delete_run(run_id)
    store.set_status(run_id, "stopped")
    store.delete_run(run_id)
    assert not (store.home / "runs" / run_id).exists()
    assert store.list_runs().empty
    with _raw(store) as conn:
        assert conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 0


# --------------------------------------------------------------------------- metrics


def test_incremental_read_returns_only_newer_rows(store):
    run_id = store.create_run("r", {})
    other = store.create_run("o", {})
    store.add_metrics(run_id, _rows(0, 5))
    store.add_metrics(other, _rows(0, 3))
    first = store.metrics(run_id)
    assert first.columns.tolist() == list(METRIC_COLUMNS)
    assert len(first) == 5 and first["id"].is_monotonic_increasing

    last = int(first["id"].max())
    assert store.metrics(run_id, after_id=last).empty
    store.add_metrics(run_id, _rows(1, 4))
    newer = store.metrics(run_id, after_id=last)
    assert len(newer) == 4 and (newer["id"] > last).all() and (newer["step"] == 1).all()
    assert newer["id"].is_monotonic_increasing
    assert len(store.metrics(run_id)) == 9

    empty = store.metrics(store.create_run("e", {}))
    assert empty.columns.tolist() == list(METRIC_COLUMNS)
    assert empty.dtypes["value"] == np.float64 and empty.dtypes["id"] == np.int64


def test_undefined_metric_round_trips_as_null_with_reason(store):
    run_id = store.create_run("r", {})
    store.add_metrics(
        run_id,
        [
            (np.int64(3), np.int32(1), np.float64(9.5), "a", "val", "auc", None, "one class"),
            (3, 1, 9.5, "a", "val", "f1", float("nan"), "no positives"),
            (3, 1, 9.5, "a", "val", "acc", np.float32(0.5), None),
        ],
    )
    frame = store.metrics(run_id)
    assert frame["value"].isna().tolist() == [True, True, False]
    assert frame["reason"].tolist()[:2] == ["one class", "no positives"]
    assert pd.isna(frame["reason"].iloc[2]) and frame["value"].iloc[2] == 0.5
    with _raw(store) as conn:
        nulls = conn.execute("SELECT COUNT(*) FROM metrics WHERE value IS NULL").fetchone()[0]
    assert nulls == 2


def test_weights_round_trip(store):
    run_id = store.create_run("r", {})
    store.add_weights(run_id, [(0, 0, 1.0, "a", 0.5), (0, 0, 1.0, "b", 1.5)])
    first = store.weights(run_id)
    assert first["weight"].tolist() == [0.5, 1.5] and first["task"].tolist() == ["a", "b"]
    store.add_weights(run_id, [(1, 0, 2.0, "a", 0.7)])
    assert store.weights(run_id, after_id=int(first["id"].max()))["weight"].tolist() == [0.7]


# --------------------------------------------------------------------------- scheduling


def test_claim_next_respects_limit_and_order(store):
    a = store.create_run("a", {})
    b = store.create_run("b", {})
    c = store.create_run("c", {})
    assert store.claim_next(0) is None
    assert store.claim_next(2) == a
    assert store.get_run(a)["started_at"] is not None
    assert store.claim_next(2) == b
    assert store.claim_next(2) is None  # two running already
    store.set_status(a, "finished")
    assert store.claim_next(2) == c
    assert store.claim_next(5) is None  # nothing queued


RACER = """
import sys
from mtl.runs.store import RunStore
print("ready", flush=True)
for line in sys.stdin:
    got = RunStore(line.strip()).claim_next(1)
    print(got or "-", flush=True)
"""


def test_two_processes_racing_for_the_last_slot(tmp_path):
    racers = [_python(RACER), _python(RACER)]
    try:
        for proc in racers:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        for round_ in range(4):
            store = RunStore(tmp_path / f"race{round_}")
            first = store.create_run("a", {})
            second = store.create_run("b", {})
            for proc in racers:
                proc.stdin.write(f"{store.home}\n")
                proc.stdin.flush()
            results = [proc.stdout.readline().strip() for proc in racers]
            assert sorted(results) == sorted([first, "-"]), results
            assert store.list_runs("running")["id"].tolist() == [first]
            assert store.list_runs("queued")["id"].tolist() == [second]
    finally:
        for proc in racers:
            proc.stdin.close()
            proc.wait(timeout=10)
    assert [proc.returncode for proc in racers] == [0, 0]


def test_mark_stale_dead_pid(store):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # exited and reaped: its pid is gone
    dead_pid = proc.pid

    crashed = store.create_run("crashed", {}, status="running", pid=dead_pid)
    fresh_dead = store.create_run("fresh", {}, status="running", pid=dead_pid)
    alive = store.create_run("alive", {}, status="running", pid=os.getpid())
    hung = store.create_run("hung", {}, status="running", pid=os.getpid())
    never_beat = store.create_run("never", {}, status="running")
    slow_start = store.create_run("slow", {}, status="running", pid=os.getpid())
    queued = store.create_run("queued", {})
    _age(store, crashed, heartbeat_age_s=5, started_age_s=60)
    _age(store, fresh_dead, heartbeat_age_s=0.5, started_age_s=60)
    _age(store, alive, heartbeat_age_s=5, started_age_s=60)  # stale but alive: wait
    _age(store, hung, heartbeat_age_s=40, started_age_s=60)  # > 3x timeout: pid reused?
    _age(store, never_beat, heartbeat_age_s=None, started_age_s=60)
    # alive, no beat yet 20 s after its start (> 3x timeout, < the floor): a slow import
    _age(store, slow_start, heartbeat_age_s=None, started_age_s=20)

    marked = store.mark_stale(timeout_s=4)
    assert sorted(marked) == sorted([crashed, hung, never_beat])
    run = store.get_run(crashed)
    assert run["status"] == "interrupted" and run["error"] == STALE_MESSAGE
    assert run["ended_at"] is not None
    for run_id, status in [
        (fresh_dead, "running"),
        (alive, "running"),
        (slow_start, "running"),
        (queued, "queued"),
    ]:
        assert store.get_run(run_id)["status"] == status
    assert store.mark_stale(timeout_s=4) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_mark_stale_treats_zombie_as_dead(store):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "child never exited"
            time.sleep(0.02)
        os.kill(proc.pid, 0)  # a zombie still answers signal 0
        run_id = store.create_run("z", {}, status="running", pid=proc.pid)
        _age(store, run_id, heartbeat_age_s=5, started_age_s=60)
        assert store.mark_stale(timeout_s=4) == [run_id]
    finally:
        proc.wait()


# --------------------------------------------------------------------------- concurrency

WRITER = """
import os, sys, time
from mtl.runs.store import RunStore
home, run_id, n, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
store = RunStore(home)
store.set_status(run_id, "running", pid=os.getpid())
step, end = 0, time.monotonic() + duration
while time.monotonic() < end:
    now = time.time()
    rows = [(step, 0, now, "t%d" % (i % 2), "train", "m%d" % i, float(i), None) for i in range(n)]
    store.add_metrics(run_id, rows)
    store.heartbeat(run_id)
    step += 1
    time.sleep(0.003)
store.set_status(run_id, "finished")
print(step)
"""

READER = """
import json, sys, time
from mtl.runs.store import RunStore
home, run_id, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = RunStore(home)
last, polls, rows, seen = 0, 0, 0, set()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    done = store.get_run(run_id)["status"] == "finished"  # read before the metrics
    new = store.metrics(run_id, after_id=last)
    if len(new):
        assert int(new["id"].iloc[0]) > last and new["id"].is_monotonic_increasing
        counts = new.groupby("step").size()
        assert (counts == n).all(), counts[counts != n]
        assert not seen & set(counts.index), "a step arrived twice"
        seen |= set(counts.index)
        last, rows = int(new["id"].iloc[-1]), rows + len(new)
    if polls % 5 == 0:
        full = store.metrics(run_id)
        assert (full.groupby("step").size() == n).all()
    polls += 1
    if done:
        break
    time.sleep(0.1)
print(json.dumps({"polls": polls, "rows": rows, "steps": len(seen), "done": done}))
"""


def test_reader_polling_during_writes_sees_only_whole_batches(store):
    n = 24
    run_id = store.create_run("live", {})
    reader = _python(READER, str(store.home), run_id, str(n))
    writer = _python(WRITER, str(store.home), run_id, str(n), "2.0")
    w_out, w_err = writer.communicate(timeout=60)
    r_out, r_err = reader.communicate(timeout=60)
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_err
    steps = int(w_out)
    report = json.loads(r_out)
    assert report["done"] and report["polls"] >= 10
    assert report["steps"] == steps and report["rows"] == steps * n
    assert len(store.metrics(run_id)) == steps * n


def test_locked_database_is_retried_not_surfaced(store, monkeypatch):
    run_id = store.create_run("r", {})
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.05)  # force the store's own retries
    impatient = RunStore(store.home)
    holder = _raw(store)
    holder.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.5, holder.execute, args=("COMMIT",))
    timer.start()
    try:
        impatient.add_metrics(run_id, _rows(0, 3))  # waits out the lock
    finally:
        timer.join()
        holder.close()
    assert len(impatient.metrics(run_id)) == 3


def test_lock_held_for_too_long_is_a_clean_store_error(store, monkeypatch):
    run_id = store.create_run("r", {})
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(store_db, "LOCKED_RETRY_S", 0.3)
    impatient = RunStore(store.home)
    with _raw(store) as holder:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="stayed locked by another process"):
            impatient.heartbeat(run_id)
        holder.execute("ROLLBACK")


# --------------------------------------------------------------------------- schema, faults


def test_schema_version_is_stored_and_newer_is_refused(store):
    with _raw(store) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 1
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="created by a newer MTL Lab") as info:
        RunStore(store.home)
    assert "\n" not in str(info.value)


def test_migrations_run_in_order_inside_one_transaction(store, monkeypatch):
    run_id = store.create_run("kept", {"a": 1})

    def add_column(conn):
        conn.execute("ALTER TABLE runs ADD COLUMN color TEXT")

    def broken(conn):
        conn.execute("ALTER TABLE runs ADD COLUMN shape TEXT")
        raise RuntimeError("migration bug")

    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS, add_column, broken])
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 2)
    with pytest.raises(RuntimeError, match="migration bug"):
        RunStore(store.home)
    with _raw(store) as conn:  # nothing of the failed upgrade is left
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        assert "color" not in columns and "shape" not in columns

    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS[:-1]])
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    upgraded = RunStore(store.home)
    assert upgraded.get_run(run_id)["config"] == {"a": 1}
    with _raw(store) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "color" in [row[1] for row in conn.execute("PRAGMA table_info(runs)")]


def test_corrupt_file_gives_clean_store_error(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "store.sqlite").write_bytes(b"definitely not sqlite " * 200)
    with pytest.raises(StoreError, match="is not a valid MTL Lab store") as info:
        RunStore(home)
    message = str(info.value)
    assert "\n" not in message and "move it aside" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_home_that_is_a_file_gives_clean_store_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        RunStore(tmp_path / "file")


def test_disk_full_gives_clean_store_error(store):
    run_id = store.create_run("r", {})
    conn = store._conn()  # same thread: the store's own connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite then reports SQLITE_FULL
    with pytest.raises(StoreError, match="the disk is full") as info:
        store.add_metrics(run_id, _rows(0, 5000))
    assert "\n" not in str(info.value)
    assert store.metrics(run_id).empty  # the failed batch left nothing behind


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_store_gives_clean_store_error(store):
    run_id = store.create_run("r", {})
    store.close()
    for path in store.home.glob("store.sqlite*"):
        path.chmod(0o444)
    store.home.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="read-only"):
            RunStore(store.home).create_run("x", {})
        assert store.get_run(run_id)["status"] == "queued"  # reading still works
    finally:
        store.home.chmod(0o755)
        for path in store.home.glob("store.sqlite*"):
            path.chmod(0o644)


def test_store_module_does_not_import_torch():
    proc = _python("import mtl.runs.store, sys; assert 'torch' not in sys.modules")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
