"""The launcher-side process of one Ray run: ``python -m mtl.runs.ray_driver RUN_ID --home HOME``.

Started by :class:`~mtl.runs.ray_executor.RayExecutor` for a claimed run. It connects to the
cluster (``ray.json`` in the run's folder names it), creates the run's
:class:`~mtl.runs.ray_actor.RemoteRun` actor with the CPUs and GPUs asked for, and polls it
every :data:`POLL_S` seconds, writing into this machine's store what it hands back: files first
(checkpoint, predictions, summary…), then metric rows and weights, then a heartbeat, and the
final status last, so whoever sees ``finished`` finds the files.

A stop request in the store, or SIGTERM, is passed on to the actor (the run ends ``stopped``
with its checkpoint). When the actor's worker process or its node dies, the run ends
``interrupted`` and what arrived before stays. Whatever happens, the driver then starts the
next queued runs, as a local worker does. Ray is imported once the heartbeat runs (importing
it takes a while on a busy machine, and a silent driver would look dead); only this process
and the Ray workers load it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mtl.config import ExperimentConfig
from mtl.runs.ray_actor import Batch, RemoteRun, write_files
from mtl.runs.ray_executor import WORKER_FILE, read_options
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import dispatch
from mtl.runs.status import RunStatus
from mtl.runs.store import IllegalTransitionError, RunStore, StoreError

POLL_S = 0.5
"""Seconds between two polls of the actor (rows reach the store within about one flush)."""
BEAT_S = 0.5
"""Heartbeat period of the driver while it waits for the cluster or the actor."""
POLL_TIMEOUT_S = 60.0
"""A poll unanswered this long (a hung node) ends the run ``interrupted``."""
LOST = "the Ray worker training this run is gone"


def run(store: RunStore, run_id: str, stop: threading.Event) -> str:
    """Train ``run_id`` on the cluster and record it into ``store``; return its final status.

    Args:
        store: the launcher's store; the run is ``running``.
        run_id: the run.
        stop: set (e.g. by SIGTERM) to ask the run to stop.
    """
    import ray
    from ray.exceptions import RayError

    options = read_options(store, run_id)
    config = ExperimentConfig.from_dict(store.get_run(run_id)["config"])
    data_file = _data_file(config)
    try:
        _connect(ray, options)
    except Exception as err:  # noqa: BLE001 - any failure to connect is the run's error
        where = options.address or "a local Ray instance"
        return _end(store, run_id, RunStatus.FAILED, f"cannot start on {where}: {_one_line(err)}")
    actor_class: Any = ray.remote(RemoteRun)  # Any: ray's stubs do not type actor methods
    actor = actor_class.options(
        num_cpus=options.num_cpus, num_gpus=options.num_gpus, max_restarts=0
    ).remote(run_id, config.to_dict(), data_file)
    asked = False
    try:
        started = actor.start.remote()
        # The actor waits in Ray's queue until a node has its resources: no time limit
        # here, but a stop request ends the wait (and the run, with nothing trained).
        while not ray.wait([started], timeout=POLL_S)[0]:
            if stop.is_set() or store.stop_requested(run_id):
                ray.kill(actor)
                return _end(store, run_id, RunStatus.STOPPED, "stopped while waiting for a node")
        where = ray.get(started)
        _write_worker_file(store, run_id, dict(where, actor_id=actor._actor_id.hex()))
        while True:
            if not asked and (stop.is_set() or store.stop_requested(run_id)):
                actor.request_stop.remote()
                asked = True
            batch: Batch = ray.get(actor.poll.remote(), timeout=POLL_TIMEOUT_S)
            _apply(store, run_id, batch)
            if batch.status is not None:
                return _end(store, run_id, batch.status, batch.error, batch.summary)
            stop.wait(POLL_S)
    except RayError as err:  # the actor's process or node died, or a poll went unanswered
        return _end(store, run_id, RunStatus.INTERRUPTED, f"{LOST}: {_one_line(err)}")


def _connect(ray: Any, options: RayOptions) -> None:
    kwargs: dict[str, Any] = {
        "logging_level": "WARNING",
        "log_to_driver": False,
        "configure_logging": False,
    }
    if options.address is None:  # a private local instance, ended with this process
        kwargs["include_dashboard"] = False
    ray.init(address=options.address, **kwargs)


def _data_file(config: ExperimentConfig) -> tuple[str, bytes] | None:
    """The CSV named by ``data.path``, read here: the node cannot see this machine's disk."""
    if config.data.path is None:
        return None
    path = Path(config.data.path)
    return path.name, path.read_bytes()


def _apply(store: RunStore, run_id: str, batch: Batch) -> None:
    if batch.files:
        write_files(store.run_dir(run_id), batch.files)
    if batch.metrics:
        store.add_metrics(run_id, batch.metrics)
    if batch.weights:
        store.add_weights(run_id, batch.weights)
    store.heartbeat(run_id)


def _end(
    store: RunStore,
    run_id: str,
    status: str,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
) -> str:
    """Record the final status (unless someone else already ended the run); return it."""
    with contextlib.suppress(IllegalTransitionError):
        store.set_status(run_id, status, error=error, summary=summary or None)
    return str(store.get_run(run_id)["status"])


def _write_worker_file(store: RunStore, run_id: str, info: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        (store.run_dir(run_id) / WORKER_FILE).write_text(json.dumps(info), encoding="utf-8")


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _beat(store: RunStore, run_id: str, done: threading.Event) -> None:
    """Heartbeat while this driver lives (the actor's health is checked by each poll)."""
    while not done.is_set():
        with contextlib.suppress(StoreError):
            store.heartbeat(run_id)
        done.wait(BEAT_S)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the driver process."""
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.ray_driver")
    parser.add_argument("run_id")
    parser.add_argument("--home", required=True)
    parser.add_argument("--max-running", type=int, default=None)
    args = parser.parse_args(argv)
    store = RunStore(args.home)
    stop, done = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    code = 0
    try:
        store.set_pid(args.run_id, os.getpid())
        threading.Thread(target=_beat, args=(store, args.run_id, done), daemon=True).start()
        status = run(store, args.run_id, stop)
        print(f"run {args.run_id} ended {status}", flush=True)
    except Exception as err:  # noqa: BLE001 - recorded as the run's error; the log has it
        print(f"run {args.run_id} failed: {err}", file=sys.stderr, flush=True)
        with contextlib.suppress(StoreError):
            _end(store, args.run_id, RunStatus.FAILED, f"{type(err).__name__}: {_one_line(err)}")
        code = 1
    finally:
        done.set()
        try:  # first: disconnecting from the cluster takes a while, the next run need not wait
            dispatch(store, args.max_running)
        except StoreError as err:
            print(f"warning: could not start the next queued run: {err}", file=sys.stderr)
        if "ray" in sys.modules:
            with contextlib.suppress(Exception):
                sys.modules["ray"].shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())
