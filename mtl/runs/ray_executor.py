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

Cheap to import: neither ray nor torch is loaded here (only the driver process and the
cluster check import ray).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from mtl.errors import UserError
from mtl.runs.local_executor import LocalExecutor
from mtl.runs.processes import spawn_module
from mtl.runs.store import RunStore

__all__ = [
    "EXECUTORS",
    "EXECUTOR_ENV",
    "OPTIONS_FILE",
    "RAY_TAG",
    "RayExecutor",
    "RayOptions",
    "check_cluster",
    "default_executor",
    "is_ray_run",
    "read_options",
    "with_ray_tag",
    "write_options",
]

EXECUTORS = ("local", "ray")
"""The executor names ``--executor`` accepts."""
EXECUTOR_ENV = "MTL_EXECUTOR"
"""Default executor name when ``--executor`` is not given (``local`` when unset)."""
ADDRESS_ENV = "RAY_ADDRESS"
"""Ray's own variable for the cluster to join; unset: each run starts a local Ray instance."""
RAY_TAG = "executor:ray"
"""The tag of a run that trains on Ray (set when it is queued, so every dispatcher sees it)."""
OPTIONS_FILE = "ray.json"
"""The file in a Ray run's folder holding its :class:`RayOptions`."""
WORKER_FILE = "ray_worker.json"
"""Written by the driver once the actor runs: node, pid and actor id of the Ray worker."""


@dataclass(frozen=True)
class RayOptions:
    """Where and with what a run trains on Ray.

    Args:
        address: the cluster (``host:port`` of its head, or a ``ray://host:port`` client
            address); ``None``: a private local Ray instance per run (slow to start; set
            ``RAY_ADDRESS`` to a running cluster instead).
        num_cpus: CPUs the run's actor reserves on its node.
        num_gpus: GPUs it reserves (a fraction shares one GPU between runs).
    """

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def __post_init__(self) -> None:
        for name in ("num_cpus", "num_gpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"--ray-{name[4:]} {value!r} must be a number of at least 0")

    @classmethod
    def from_env(cls, num_cpus: float | None = None, num_gpus: float | None = None) -> RayOptions:
        """Options for this launcher: the address from ``RAY_ADDRESS``, resources as given
        (default 1 CPU, no GPU)."""
        return cls(
            address=os.environ.get(ADDRESS_ENV) or None,
            num_cpus=1.0 if num_cpus is None else num_cpus,
            num_gpus=0.0 if num_gpus is None else num_gpus,
        )


def default_executor() -> str:
    """The executor used when none is named: ``$MTL_EXECUTOR`` (``local`` or ``ray``), else local.

    Raises:
        ValueError: ``MTL_EXECUTOR`` names something else.
    """
    name = os.environ.get(EXECUTOR_ENV) or "local"
    if name not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV}={name!r}: choose one of {', '.join(EXECUTORS)}")
    return name


def cluster_configured() -> bool:
    """Whether this launcher is set up for Ray (``RAY_ADDRESS`` or ``MTL_EXECUTOR=ray``): the
    dashboard offers the Ray executor only then."""
    return bool(os.environ.get(ADDRESS_ENV)) or os.environ.get(EXECUTOR_ENV) == "ray"


def check_cluster(address: str | None, timeout_s: float = 3.0) -> None:
    """Fail fast, before anything is queued, when Ray runs cannot start from here.

    Checks that ``ray`` is installed and that the cluster's address accepts a connection
    (``auto`` and a local instance are not checked: the driver reports those).

    Raises:
        UserError: one line naming what is missing or unreachable.
    """
    if importlib.util.find_spec("ray") is None:  # looked up, not imported: ray loads slowly
        raise UserError(
            "the Ray executor needs the `ray` package; install it with "
            "`python -m pip install 'ray==2.60.0'` (see docs/scale.md)"
        )
    if address is None or address == "auto":
        return
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserError(
            f"cannot reach the Ray cluster at {address!r} ({ADDRESS_ENV}): {reason.lower()}; "
            "start it with `ray start --head` or fix the address"
        ) from None


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(
            f"{ADDRESS_ENV}={address!r} is not a cluster address; write it as HOST:PORT "
            "(e.g. 10.0.0.5:6379) or ray://HOST:PORT"
        )
    return host.strip("[]"), int(port)


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
