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

import os
from pathlib import Path

from mtl.runs.processes import locked_pid, spawn_module, stop_lock_holder, try_lock
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
    "lock_path",
    "stop_supervisor",
    "supervisor_pid",
]


def lock_path(home: Path) -> Path:
    """The lock file the supervisor of ``home`` holds while it runs (it holds its pid too)."""
    return Path(home) / LOCK_NAME


def supervisor_pid(home: Path) -> int | None:
    """The pid of the supervisor running for ``home``, or ``None`` if there is none."""
    return locked_pid(lock_path(home))


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
        with try_lock(lock_path(store.home)) as lock:
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
    stop_lock_holder(lock_path(home), timeout_s / 2, timeout_s / 2)
