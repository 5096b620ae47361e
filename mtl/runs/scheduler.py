"""Scheduling: the queue of runs, its concurrency limit, and stopping runs.

``launch`` records a run as queued and calls ``dispatch``, which marks dead runs
``interrupted``, then moves queued runs to running (atomically, in the store:
:meth:`~mtl.runs.store.RunStore.claim_next`) while fewer than ``max_running`` run, and starts
each through an :class:`~mtl.runs.executor.Executor`: one detached worker process per run
(:class:`~mtl.runs.local_executor.LocalExecutor`), or, for a run queued with ``ray=``, a driver
that trains it on a Ray cluster (:class:`~mtl.runs.ray_executor.RayExecutor`; the run's tag
tells every dispatcher which). ``stop`` asks a run to stop through the
store and, if it does not, ends its process through the executor.

The capacity logic lives here, the processes in the executor. Each worker calls ``dispatch``
again when it ends, and while runs stay queued a small supervisor process
(:mod:`mtl.runs.supervisor`) calls it too, so the queue advances on its own even after a
worker is killed. Those processes import this module; it imports none of them (it starts
them by module name), so the package has no import cycle. Torch-free.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from mtl.config import ExperimentConfig
from mtl.runs.executor import Executor
from mtl.runs.local_executor import LocalExecutor
from mtl.runs.ray_executor import RayExecutor, is_ray_run, with_ray_tag, write_options
from mtl.runs.ray_options import RayOptions
from mtl.runs.status import TERMINAL, RunStatus
from mtl.runs.store import IllegalTransitionError, RunStore
from mtl.runs.supervisor import ensure_supervisor

MAX_RUNNING_ENV = "MTL_MAX_RUNNING"
WARM_ENV = "MTL_WARM_WORKER"
HEARTBEAT_TIMEOUT_ENV = "MTL_HEARTBEAT_TIMEOUT"
DEFAULT_HEARTBEAT_TIMEOUT_S = 10.0
"""A running run whose heartbeat is older than this and whose process is gone is ``interrupted``."""


def heartbeat_timeout() -> float:
    """Seconds without a heartbeat before a dead worker's run is ``interrupted``
    (``$MTL_HEARTBEAT_TIMEOUT``, else 10; workers beat every 0.5 s)."""
    value = os.environ.get(HEARTBEAT_TIMEOUT_ENV)
    try:
        return DEFAULT_HEARTBEAT_TIMEOUT_S if value is None else max(1.0, float(value))
    except ValueError:
        raise ValueError(f"{HEARTBEAT_TIMEOUT_ENV}={value!r} is not a number of seconds") from None


def default_max_running() -> int:
    """The concurrency limit: ``$MTL_MAX_RUNNING``, else 1."""
    value = os.environ.get(MAX_RUNNING_ENV, "1")
    try:
        limit = int(value)
    except ValueError:
        raise ValueError(f"{MAX_RUNNING_ENV}={value!r} is not a whole number") from None
    if limit < 1:
        raise ValueError(f"{MAX_RUNNING_ENV}={value!r} must be at least 1")
    return limit


def max_running_limit(max_running: int | None = None) -> int:
    """The concurrency limit to use: ``max_running`` if given, else :func:`default_max_running`.

    Raises:
        ValueError: the limit is below 1 (0 would never start a run; it is refused, not
            silently read as 1).
    """
    if max_running is None:
        return default_max_running()
    if isinstance(max_running, bool) or not isinstance(max_running, int) or max_running < 1:
        raise ValueError(f"--max-running {max_running!r} must be a whole number of at least 1")
    return max_running


def launch(
    config: ExperimentConfig,
    store: RunStore,
    max_running: int | None = None,
    tags: tuple[str, ...] = (),
    warm: bool = False,
    ray: RayOptions | None = None,
) -> str:
    """Record ``config`` as a queued run, start it if a slot is free, return its id.

    With ``ray``, the run trains on that Ray cluster (tagged ``executor:ray``, its options
    saved in its folder) instead of in a local worker.
    """
    max_running = max_running_limit(max_running)  # a bad limit records nothing
    if ray is not None:
        tags = with_ray_tag(tags)
    run_id = store.create_run(config.name, config.to_dict(), tags=tags)
    if ray is not None:
        write_options(store, run_id, ray)
    dispatch(store, max_running, warm=warm)
    return run_id


def dispatch(
    store: RunStore,
    max_running: int | None = None,
    warm: bool = False,
    supervise: bool = True,
    executor: Executor | None = None,
) -> list[str]:
    """Mark dead runs ``interrupted``, then start queued runs while slots are free.

    With ``warm`` (the dashboard), a run goes to an idle warm spare worker when there is
    one (see :mod:`mtl.runs.spare`), and while a slot is free the executor keeps one warm
    (:meth:`~mtl.runs.executor.Executor.warm_up`). With ``supervise``, runs still queued get
    a supervisor process that starts them when slots free up, even if every worker dies (see
    :mod:`mtl.runs.supervisor`). A read-only store (e.g. on a read-only disk) is only looked
    at: nothing is marked or started. Runs start through ``executor`` (default: each through
    :func:`executor_for` it).

    Returns:
        The ids of the runs started now, oldest first.
    """
    limit = max_running_limit(max_running)
    if store.read_only:  # e.g. a store on a read-only disk: look, never write
        return []
    store.mark_stale(heartbeat_timeout())
    local = executor or LocalExecutor(store, limit, warm=warm)
    started = []
    while (run_id := store.claim_next(limit)) is not None:
        pid = (executor or executor_for(store, run_id, limit, warm=warm)).submit(run_id)
        if pid is not None:
            store.set_pid(run_id, pid)
        started.append(run_id)
    if warm and warm_workers_enabled() and len(store.list_runs(RunStatus.RUNNING)) < limit:
        # only while a slot is free: a spare importing torch next to a training run
        # would slow that run (and the page that watches it) down for nothing
        local.warm_up()
    if supervise:
        ensure_supervisor(store, limit)
    return started


def executor_for(store: RunStore, run_id: str, limit: int, warm: bool = False) -> Executor:
    """The executor of run ``run_id``: Ray for a run tagged ``executor:ray``, else local."""
    if is_ray_run(store.get_run(run_id)):
        return RayExecutor(store, limit)
    return LocalExecutor(store, limit, warm=warm)


_server_homes: set[Path] = set()


def start_with_server(store: RunStore) -> None:
    """Once per server process and home: queue housekeeping and a warm spare, so the first
    launch from the dashboard does not wait for a cold worker. The spare belongs to this
    process and exits soon after it is gone."""
    if store.home in _server_homes:
        return
    _server_homes.add(store.home)
    dispatch(store, warm=True)


def warm_workers_enabled() -> bool:
    """Whether the dashboard keeps a warm spare worker (``MTL_WARM_WORKER=0`` turns it off)."""
    return os.environ.get(WARM_ENV, "1") != "0"


def stop(
    store: RunStore, run_id: str, grace_s: float = 10.0, executor: Executor | None = None
) -> RunStatus:
    """Stop a run and return its final status.

    A queued run is cancelled at once. A running one is asked to stop at its next step;
    if it has not ended within ``grace_s`` the executor ends its process (SIGTERM, which the
    worker also turns into a graceful stop, then SIGKILL), and the run is marked ``stopped``.
    """
    status = RunStatus(store.request_stop(run_id))
    if status in TERMINAL or _wait_terminal(store, run_id, grace_s):
        return _status(store, run_id)
    executor = executor or executor_for(store, run_id, 1)  # the limit matters only to submit
    for force in (False, True):
        if not executor.stop(run_id, force=force):
            break  # its process is gone already
        if _wait_terminal(store, run_id, grace_s / 2):
            return _status(store, run_id)
    # The worker may have recorded its own end status in the meantime.
    with contextlib.suppress(IllegalTransitionError):
        store.set_status(
            run_id, RunStatus.STOPPED, error=f"terminated after not stopping within {grace_s:g} s"
        )
    return _status(store, run_id)


def _status(store: RunStore, run_id: str) -> RunStatus:
    return RunStatus(store.get_run(run_id)["status"])


def _wait_terminal(store: RunStore, run_id: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _status(store, run_id) in TERMINAL:
            return True
        time.sleep(0.1)
    return _status(store, run_id) in TERMINAL
