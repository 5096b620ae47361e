"""The Ray :class:`~mtl.runs.executor.Executor`: runs train on a Ray cluster, rows come back here.

A run launched with ``--executor ray`` is tagged :data:`RAY_TAG` and its Ray settings
(:class:`RayOptions`: the cluster address and the CPUs and GPUs it asks for) are saved in its
folder. When the scheduler claims it, :class:`RayExecutor` starts a small *driver* process on
this machine (``python -m mtl.runs.ray_driver``): it connects to the cluster, creates one Ray
actor that trains the run on some node (:mod:`mtl.runs.ray_actor`), and writes everything that
actor sends back (metric rows, loss weights, heartbeats, the final status and the run's files:
checkpoint, predictions, summary) into this machine's store. The nodes need no shared disk.

The driver is an ordinary local process with a pid, so stopping, liveness and stale runs work
as for :class:`~mtl.runs.local_executor.LocalExecutor`: SIGTERM makes the driver ask the actor
to stop (the run ends ``stopped`` with its checkpoint); if the actor's worker or node dies, the
driver ends the run ``interrupted`` and every row received so far stays; if the driver itself
is killed, Ray ends its actor (fate sharing) and the heartbeat check marks the run
``interrupted``.

Cheap to import: neither ray nor torch is loaded here (only the driver process and the Ray
workers import ray). Choosing the executor and checking the cluster: :mod:`mtl.runs.ray_options`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from mtl.runs.local_executor import LocalExecutor
from mtl.runs.processes import spawn_module
from mtl.runs.ray_options import RayOptions
from mtl.runs.store import RunStore

__all__ = [
    "OPTIONS_FILE",
    "RAY_TAG",
    "WORKER_FILE",
    "RayExecutor",
    "is_ray_run",
    "read_options",
    "with_ray_tag",
    "worker_info",
    "write_options",
]

RAY_TAG = "executor:ray"
"""The tag of a run that trains on Ray (set when it is queued, so every dispatcher sees it)."""
OPTIONS_FILE = "ray.json"
"""The file in a Ray run's folder holding its :class:`RayOptions`."""
WORKER_FILE = "ray_worker.json"
"""Written by the driver once the actor runs: host and pid of the Ray worker, actor id."""


def is_ray_run(run: dict) -> bool:
    """Whether the run (a :meth:`RunStore.get_run` dict) was queued for the Ray executor."""
    return RAY_TAG in (run.get("tags") or [])


def with_ray_tag(tags: Sequence[str]) -> tuple[str, ...]:
    """``tags`` plus :data:`RAY_TAG` (once)."""
    return tuple(tags) if RAY_TAG in tags else (*tags, RAY_TAG)


def write_options(store: RunStore, run_id: str, options: RayOptions) -> None:
    """Save ``options`` in the run's folder (the driver reads them when it starts)."""
    path = store.run_dir(run_id) / OPTIONS_FILE
    tmp = path.with_name(f".{OPTIONS_FILE}.tmp")
    tmp.write_text(json.dumps(asdict(options)), encoding="utf-8")
    os.replace(tmp, path)


def read_options(store: RunStore, run_id: str, wait_s: float = 5.0) -> RayOptions:
    """The run's saved :class:`RayOptions`.

    The launcher writes them right after queueing the run, so a dispatcher that claimed it in
    between may start the driver a moment before they exist: wait up to ``wait_s`` seconds,
    then fall back to :meth:`RayOptions.from_env`.
    """
    path = store.run_dir(run_id) / OPTIONS_FILE
    deadline = time.monotonic() + wait_s
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(OSError, ValueError, TypeError):
        data = json.loads(path.read_text(encoding="utf-8"))
        return RayOptions(
            address=data.get("address"),
            num_cpus=float(data["num_cpus"]),
            num_gpus=float(data["num_gpus"]),
        )
    return RayOptions.from_env()


def worker_info(store: RunStore, run_id: str) -> dict | None:
    """Node, pid and actor id of the Ray worker training ``run_id`` (once it started)."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads((store.run_dir(run_id) / WORKER_FILE).read_text(encoding="utf-8"))
    return None


@dataclass(frozen=True)
class RayExecutor:
    """Runs train in Ray actors; a local driver process per run streams them into ``store``.

    Args:
        store: the launcher's run store (the only place anything is written).
        limit: the concurrency limit the driver passes on when it dispatches the next run.
    """

    store: RunStore
    limit: int

    def submit(self, run_id: str) -> int:
        """Start the run's driver process; return its pid (the run's local process)."""
        return spawn_module(
            "mtl.runs.ray_driver",
            [run_id, "--home", str(self.store.home), "--max-running", str(self.limit)],
            log=self.store.run_dir(run_id) / "worker.log",
            name=f"reap-{run_id}",
        )

    def stop(self, run_id: str, *, force: bool = False) -> bool:
        """SIGTERM the driver (it asks the actor to stop and ships the checkpoint), or SIGKILL
        it with ``force`` (Ray then ends the actor). Same signals as the local executor."""
        return LocalExecutor(self.store, self.limit).stop(run_id, force=force)

    def alive(self, run_id: str) -> bool:
        """Whether the run's driver process is alive (it ends the run when the actor dies)."""
        return LocalExecutor(self.store, self.limit).alive(run_id)

    def warm_up(self) -> None:
        """Nothing: a Ray actor starts with the run."""
