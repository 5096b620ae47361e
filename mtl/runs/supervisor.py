"""The queue supervisor of a home, seen from outside: start one when runs wait, find it, stop it.

Workers start the next queued run when they end, but a worker killed with ``kill -9``
starts nothing, and with every slot held by dead runs the queue would wait for somebody to
run ``python -m mtl runs``. So while runs are queued, one supervisor process per home
(:mod:`mtl.runs.supervisor_process`) watches the store and dispatches when a slot frees up.

One supervisor per home: it holds an exclusive ``flock`` on ``<home>/supervisor.lock``
(which also holds its pid). :func:`ensure_supervisor` starts one when runs are queued and
the lock is free; a supervisor that finds the lock taken exits at once. POSIX only
(``fcntl``); elsewhere nothing is started and the queue advances as before (when a worker
ends, or on ``python -m mtl runs``).

Never imports torch: it is used from the dashboard's process tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from mtl.runs.processes import signal_group, spawn_module
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore

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
    "stop_supervisor",
    "supervisor_pid",
    "try_lock",
]


@contextlib.contextmanager
def try_lock(home: Path) -> Iterator[IO[str] | None]:
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
    with try_lock(home) as lock:
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
        with try_lock(store.home) as lock:
            if lock is None:
                return None
    except OSError:  # a read-only home: nothing can be started from it anyway
        return None
    return spawn_module(
        "mtl.runs.supervisor_process",
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
        signal_group(pid, sig)
        deadline = time.monotonic() + timeout_s / 2
        while time.monotonic() < deadline:
            if supervisor_pid(home) is None:
                return
            time.sleep(0.05)
