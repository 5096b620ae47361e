"""mtl.runs.processes: spawning, liveness, signals, command lines, exclusive files and pid
lock files, on real processes and files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from conftest import wait_for
from mtl.runs.processes import (
    cmdline,
    hold_pid_lock,
    is_plain_dir,
    locked_pid,
    pid_alive,
    read_regular,
    signal_group,
    spawn_module,
    start_time,
    stop_lock_holder,
    write_new,
)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid names no process now
    return proc.pid


def test_a_live_process_and_a_dead_one() -> None:
    assert pid_alive(os.getpid())
    assert isinstance(start_time(os.getpid()), int)
    dead = _dead_pid()
    assert not pid_alive(dead) and start_time(dead) is None
    assert not pid_alive(0) and not pid_alive(-1)


def test_an_unreaped_child_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
        assert not pid_alive(proc.pid)
        assert start_time(proc.pid) is None
    finally:
        proc.wait()


def test_write_new_creates_once_and_never_follows_a_link(tmp_path: Path) -> None:
    path = tmp_path / "job"
    assert write_new(path, "first")
    assert not write_new(path, "second")
    assert path.read_text(encoding="utf-8") == "first"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    assert not write_new(tmp_path / "link", "x")
    assert not (tmp_path / "elsewhere").exists()


def test_spawn_module_runs_a_module_logs_it_and_reaps_it(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    pid = spawn_module("json.tool", ["--help"], log=log, name="reap-test")
    reaper = next(t for t in threading.enumerate() if t.name == "reap-test")
    reaper.join(timeout=120)  # returns when the child has exited and been reaped
    assert not reaper.is_alive()
    assert not pid_alive(pid)
    assert "usage" in log.read_text(encoding="utf-8")


def test_spawned_children_find_this_package(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    spawn_module("mtl.runs.status", [], log=log, name="reap-test-mtl")  # importable, prints nothing
    next(t for t in threading.enumerate() if t.name == "reap-test-mtl").join(timeout=120)
    assert log.read_text(encoding="utf-8") == ""


def test_signal_group_reaches_the_group_and_says_when_it_is_gone() -> None:
    leader = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "--marker-arg"],
        start_new_session=True,
    )
    try:
        # between fork and exec /proc/<pid>/cmdline is briefly empty: wait for the exec
        wait_for(lambda: "--marker-arg" in cmdline(leader.pid), 30, "the child's exec")
        assert signal_group(leader.pid, signal.SIGTERM)
        assert leader.wait(timeout=30) == -signal.SIGTERM
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
    assert not signal_group(leader.pid, signal.SIGTERM)  # reaped: no such group
    assert cmdline(leader.pid) == []


def test_read_regular_reads_files_only_never_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "marker").write_text("0123456789", encoding="utf-8")
    assert read_regular(tmp_path / "marker", 4) == "0123"
    (tmp_path / "link").symlink_to(tmp_path / "marker")
    assert read_regular(tmp_path / "link", 100) is None
    os.mkfifo(tmp_path / "fifo")
    assert read_regular(tmp_path / "fifo", 100) is None  # returns at once, no blocking
    assert read_regular(tmp_path, 100) is None and read_regular(tmp_path / "none", 100) is None


def test_is_plain_dir_takes_a_folder_never_a_link_to_one(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    assert is_plain_dir(tmp_path / "real")
    assert not is_plain_dir(tmp_path / "link")
    assert not is_plain_dir(tmp_path / "file")
    assert not is_plain_dir(tmp_path / "missing")


def test_a_pid_lock_names_its_holder_and_is_held_once(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    assert locked_pid(path) is None  # no file yet
    with hold_pid_lock(path) as held:
        assert held
        assert locked_pid(path) == os.getpid()
        with hold_pid_lock(path) as again:  # another open file: flock refuses it
            assert not again
        assert path.read_text(encoding="utf-8") == str(os.getpid())
    assert locked_pid(path) is None  # released: the pid left in the file names no holder


HOLDER = """
import signal, sys, time
from pathlib import Path
from mtl.runs.processes import hold_pid_lock
if sys.argv[2] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with hold_pid_lock(Path(sys.argv[1])) as held:
    print("held" if held else "refused", flush=True)
    time.sleep(600)
"""


def test_stop_lock_holder_terms_then_kills_and_waits_for_the_lock(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    # a holder that obeys SIGTERM ends by it; one that ignores it is killed after term_s
    cases = (("obey", 60.0, signal.SIGTERM), ("ignore-term", 0.5, signal.SIGKILL))
    for mode, term_s, killed_by in cases:
        path = tmp_path / f"{mode}.lock"
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), mode],
            cwd=root,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own group, as spawn_module's children
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
            assert locked_pid(path) == proc.pid
            stop_lock_holder(path, term_s=term_s, kill_s=30.0)
            assert locked_pid(path) is None
            assert proc.wait(timeout=30) == -killed_by
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
