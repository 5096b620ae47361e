"""The :class:`~mtl.runs.executor.Executor` of this machine: one detached worker process per run.

Each claimed run trains in ``python -m mtl.runs.worker`` in its own session (it outlives the
caller: a CLI that exits, a Streamlit rerun, a closed tab), its log in the run's folder. With
``warm`` (the dashboard), a run goes to an idle warm spare worker first (:mod:`mtl.runs.spare`).
Torch-free: starting a process never loads the training stack here.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from mtl.runs import spare
from mtl.runs.processes import pid_alive, signal_group, spawn_module
from mtl.runs.store import RunStore

__all__ = ["LocalExecutor"]


@dataclass(frozen=True)
class LocalExecutor:
    """Runs train in detached worker processes on this machine, up to the scheduler's limit.

    Args:
        store: the run store the workers record into.
        limit: the concurrency limit a worker passes on when it dispatches the next run.
        warm: hand a run to an idle warm spare worker when there is one.
    """

    store: RunStore
    limit: int
    warm: bool = False

    def submit(self, run_id: str) -> int:
        """Start a worker for ``run_id`` (or hand it to a warm spare); return its pid."""
        given = spare.assign(self.store, run_id, self.limit) if self.warm else None
        return given or _spawn_worker(self.store, run_id, self.limit)

    def stop(self, run_id: str, *, force: bool = False) -> bool:
        """SIGTERM the run's process group (the worker turns it into a graceful stop), or
        SIGKILL it with ``force``. ``False`` when that process is gone; ``True`` as well while
        no pid is recorded yet (a worker just starting may still appear)."""
        pid = self.store.get_run(run_id)["pid"]
        if not pid:
            return True
        return signal_group(pid, signal.SIGKILL if force else signal.SIGTERM)

    def alive(self, run_id: str) -> bool:
        """Whether the run's recorded process is alive (a zombie counts as dead)."""
        pid = self.store.get_run(run_id)["pid"]
        return pid is not None and pid_alive(int(pid))

    def warm_up(self) -> None:
        """Keep one warm spare worker waiting (see :func:`mtl.runs.spare.ensure_spare`)."""
        spare.ensure_spare(self.store)


def _spawn_worker(store: RunStore, run_id: str, limit: int) -> int:
    return spawn_module(
        "mtl.runs.worker",
        [run_id, "--home", str(store.home), "--max-running", str(limit)],
        log=store.run_dir(run_id) / "worker.log",
        name=f"reap-{run_id}",
    )
