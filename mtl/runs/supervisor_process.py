"""The queue supervisor process: ``python -m mtl.runs.supervisor_process --home H --max-running N``.

While runs are queued it looks at the store (read-only) every :func:`poll_interval` seconds
for a free slot or a run whose heartbeat is older than the timeout, and only then calls
:func:`mtl.runs.scheduler.dispatch`, which marks dead runs ``interrupted`` and starts queued
ones. It exits as soon as nothing is queued (or its home is gone). It holds the home's
supervisor lock while it watches (:mod:`mtl.runs.supervisor`: one per home); before exiting it
releases the lock and looks at the queue once more, so a run queued while it was leaving is
never stranded.

Never imports torch: it is started from the dashboard's process tree.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence

from mtl.runs.processes import hold_pid_lock
from mtl.runs.scheduler import dispatch, heartbeat_timeout
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore, StoreError
from mtl.runs.supervisor import lock_path

__all__ = ["main", "poll_interval", "supervise"]


def poll_interval(timeout_s: float) -> float:
    """Seconds between two looks at the store: a quarter of the heartbeat timeout, at most 1."""
    return min(1.0, timeout_s / 4)


def supervise(store: RunStore, max_running: int, timeout_s: float) -> None:
    """Dispatch while runs are queued; return when none are (see the module docstring)."""
    while True:
        with hold_pid_lock(lock_path(store.home)) as held:
            if not held:
                return  # another supervisor watches this home
            _watch(store, max_running, timeout_s)
        # The lock is free again: a run queued just now would have no supervisor.
        if not store.db_path.exists() or store.list_runs(RunStatus.QUEUED).empty:
            return


def _watch(store: RunStore, max_running: int, timeout_s: float) -> None:
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
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.supervisor_process")
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
