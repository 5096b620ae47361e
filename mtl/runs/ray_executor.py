"""The Ray :class:`~mtl.runs.executor.Executor`: runs train on a Ray cluster, rows come back here.

A run launched with ``--executor ray`` is tagged :data:`RAY_TAG` and its Ray settings
(:class:`RayOptions`: the cluster address and the CPUs and GPUs it asks for) are saved in its
folder. When the scheduler claims it, :class:`RayExecutor` hands it to the store's long-lived
*driver* process for that cluster (:mod:`mtl.runs.ray_driver`), starting one if none serves
(:mod:`mtl.runs.ray_drivers`). The driver trains it in a warm Ray actor that it reuses across
runs (:mod:`mtl.runs.ray_actor`: torch and MTL Lab imported once) and writes everything that
actor sends back (metric rows, loss weights, heartbeats, the final status and the run's files:
checkpoint, predictions, summary) into this machine's store. The nodes need no shared disk.

The driver is an ordinary local process: the run's pid is the driver's, so liveness and stale
runs work as for :class:`~mtl.runs.local_executor.LocalExecutor`. Stop goes through the store
(the driver asks the actor to stop; the run ends ``stopped`` with its checkpoint), never
through a signal to the driver, which serves other runs too. If the actor's worker or node
dies, the driver ends the run ``interrupted`` (every row received so far stays) and warms a new
actor; if the driver itself dies, Ray ends its actors and the heartbeat check marks its runs
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

from mtl.config import ExperimentConfig
from mtl.runs.processes import pid_alive
from mtl.runs.ray_drivers import ensure_driver
from mtl.runs.ray_options import RayOptions
from mtl.runs.store import RunStore

__all__ = [
    "OPTIONS_FILE",
    "OWNER_FILE",
    "RAY_TAG",
    "WORKER_FILE",
    "RayExecutor",
    "is_ray_run",
    "queue_run",
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
"""Written by the driver once the actor runs: host and pid of the Ray worker, actor id, and how
many runs that actor was given so far (``runs``: 1 for a new actor)."""
OWNER_FILE = "ray_driver.pid"
"""Created (exclusively) by the driver that takes the run: a run is trained by one driver only,
and a run whose driver died is never taken by the next one (it ends ``interrupted``)."""


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


def queue_run(
    store: RunStore, config: ExperimentConfig, tags: Sequence[str], ray: RayOptions | None
) -> str:
    """Record ``config`` as a queued run without starting it (the caller dispatches); with
    ``ray``, tagged :data:`RAY_TAG` and its options saved, as :func:`~mtl.runs.scheduler.launch`
    does."""
    run_id = store.create_run(
        config.name, config.to_dict(), tags=tags if ray is None else with_ray_tag(tags)
    )
    if ray is not None:
        write_options(store, run_id, ray)
    return run_id


def worker_info(store: RunStore, run_id: str) -> dict | None:
    """Node, pid and actor id of the Ray worker training ``run_id`` (once it started)."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads((store.run_dir(run_id) / WORKER_FILE).read_text(encoding="utf-8"))
    return None


@dataclass(frozen=True)
class RayExecutor:
    """Runs train in warm Ray actors of the store's driver, which streams them into ``store``.

    Args:
        store: the launcher's run store (the only place anything is written).
        limit: the concurrency limit the driver passes on when it dispatches the next run.
    """

    store: RunStore
    limit: int

    def submit(self, run_id: str) -> int:
        """Hand the run to the driver of its cluster (started if none serves); its pid.

        The driver finds the run in the store (claimed, tagged, not yet owned) within one
        poll and takes it; until then the driver's pid keeps the run from looking dead.
        """
        options = read_options(self.store, run_id)
        return ensure_driver(self.store, options.address, self.limit)

    def stop(self, run_id: str, *, force: bool = False) -> bool:
        """The stop request is already in the store and the driver passes it to the actor:
        nothing to signal. ``True`` while the driver lives (wait for it), and ``False`` with
        ``force``: the scheduler then ends the run, and the driver, seeing it ended, kills
        its actor."""
        return not force and self.alive(run_id)

    def alive(self, run_id: str) -> bool:
        """Whether the run's driver process is alive (it ends the run when the actor dies)."""
        pid = self.store.get_run(run_id)["pid"]
        return pid is not None and pid_alive(int(pid))

    def warm_up(self) -> None:
        """Nothing: the driver keeps its actors warm between runs."""
