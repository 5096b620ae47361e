"""A tiny process that keeps the queue moving while runs wait, so a crash never stalls it.

Workers start the next queued run when they end, but a worker killed with ``kill -9``
starts nothing, and with every slot held by dead runs the queue would wait for somebody to
run ``python -m mtl runs``. So while runs are queued, one supervisor per home watches the
store: every :func:`poll_interval` seconds it looks (read-only) for a free slot or a run
whose heartbeat is older than the timeout, and only then calls
:func:`mtl.runs.launcher.dispatch`, which marks dead runs ``interrupted`` and starts queued
ones. It exits as soon as nothing is queued (or its home is gone).

One supervisor per home: it holds an exclusive ``flock`` on ``<home>/supervisor.lock``
(which also holds its pid). :func:`ensure_supervisor` starts one when runs are queued and
the lock is free; a supervisor that finds the lock taken exits at once. Before exiting, a
supervisor releases the lock and looks at the queue once more, so a run queued while it
was leaving is never stranded. POSIX only (``fcntl``); elsewhere nothing is started and the
queue advances as before (when a worker ends, or on ``python -m mtl runs``).

Never imports torch: it may be started from the dashboard's process tree.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from mtl.runs.processes import spawn_module
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore, StoreError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "supervisor.lock"
SUPERVISOR_ENV = "MTL_SUPERVISOR"
"""``MTL_SUPERVISOR=0`` starts no supervisor (the test suite does so, like ``MTL_WARM_WORKER``)."""

__all__ = [
    "LOCK_NAME",
    "SUPERVISOR_ENV",
    "ensure_supervisor",
    "poll_interval",
    "stop_supervisor",
    "supervise",
    "supervisor_pid",
]


def poll_interval(timeout_s: float) -> float:
    """Seconds between two looks at the store: a quarter of the heartbeat timeout, at most 1."""
    return min(1.0, timeout_s / 4)


@contextlib.contextmanager
def _try_lock(home: Path) -> Iterator[IO[str] | None]:
    """The supervisor lock of ``home`` if it is free (``None`` if another process holds it)."""
    file = open(home / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield file
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
    finally:
        file.close()


def supervisor_pid(home: Path) -> int | None:
    """The pid of the supervisor running for ``home``, or ``None`` if there is none."""
    if fcntl is None or not (home / LOCK_NAME).exists():
        return None
    with _try_lock(home) as lock:
        if lock is not None:
            return None
    try:
        return int((home / LOCK_NAME).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def ensure_supervisor(store: RunStore, max_running: int) -> int | None:
    """Start a supervisor for ``store`` if runs are queued and none is running.

    Returns:
        The new supervisor's pid, or ``None`` (nothing queued, one already runs, turned
        off with ``MTL_SUPERVISOR=0``, or the platform or a read-only home does not allow it).
    """
    if (
        fcntl is None
        or os.environ.get(SUPERVISOR_ENV, "1") == "0"
        or store.list_runs(RunStatus.QUEUED).empty
    ):
        return None
    try:
        with _try_lock(store.home) as lock:
            if lock is None:
                return None
    except OSError:  # a read-only home: nothing can be started from it anyway
        return None
    return spawn_module(
        "mtl.runs.supervisor",
        ["--home", str(store.home), "--max-running", str(max_running)],
        log=None,
        name="reap-supervisor",
    )


def stop_supervisor(home: Path, timeout_s: float = 10.0) -> None:
    """Stop the supervisor of ``home`` (SIGTERM, then SIGKILL) and wait until its lock is free."""
    pid = supervisor_pid(home)
    if pid is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s / 2
        while time.monotonic() < deadline:
            if supervisor_pid(home) is None:
                return
            time.sleep(0.05)


def supervise(store: RunStore, max_running: int, timeout_s: float) -> None:
    """Dispatch while runs are queued; return when none are (see the module docstring)."""
    while True:
        with _try_lock(store.home) as lock:
            if lock is None:
                return  # another supervisor watches this home
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))
            lock.flush()
            _watch(store, max_running, timeout_s)
        # The lock is free again: a run queued just now would have no supervisor.
        if not store.db_path.exists() or store.list_runs(RunStatus.QUEUED).empty:
            return


def _watch(store: RunStore, max_running: int, timeout_s: float) -> None:
    from mtl.runs.launcher import dispatch

    every = poll_interval(timeout_s)
    while store.db_path.exists():
        runs = store.list_runs([RunStatus.QUEUED, RunStatus.RUNNING])
        queued = runs[runs["status"] == RunStatus.QUEUED]
        if queued.empty:
            return
        running = runs[runs["status"] == RunStatus.RUNNING]
        last = running["heartbeat"].fillna(running["started_at"]).fillna(running["created_at"])
        if len(running) < max_running or (time.time() - last > timeout_s).any():
            dispatch(store, max_running, supervise=False)
        time.sleep(every)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: ``python -m mtl.runs.supervisor --home HOME --max-running N``."""
    from mtl.runs.launcher import heartbeat_timeout

    parser = argparse.ArgumentParser(prog="python -m mtl.runs.supervisor")
    parser.add_argument("--home", required=True)
    parser.add_argument("--max-running", type=int, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        supervise(RunStore(args.home), args.max_running, heartbeat_timeout())
    except StoreError as err:  # the home was removed or broke: nothing left to watch
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
