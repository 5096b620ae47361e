"""The long-lived Ray driver of a store: ``python -m mtl.runs.ray_driver --home HOME --key KEY``.

Started on demand by :func:`mtl.runs.ray_drivers.ensure_driver` (from
:class:`~mtl.runs.ray_executor.RayExecutor`), one per store and cluster, found again through
its lock file in ``<home>/ray/``. It connects to the cluster once and trains every Ray run of
the store that the scheduler claimed (``running``, tagged ``executor:ray``, sent to its
cluster, not yet owned: :data:`~mtl.runs.ray_executor.OWNER_FILE` missing) in **warm actors**
(:class:`~mtl.runs.ray_actor.RemoteRun`: torch and MTL Lab imported once) that it reuses for
the next run with the same CPUs and GPUs. It polls each busy actor every :data:`POLL_S`
seconds and writes into this machine's store what it hands back: files first (checkpoint,
predictions, summary…), then metric rows and weights, then a heartbeat, and the final status
last, so whoever sees ``finished`` finds the files. When a run ends, it starts the next queued
runs, as a local worker does.

A stop request in the store is passed on to the run's actor (the run ends ``stopped`` with its
checkpoint); a run someone else ended (a forced stop) has its actor killed. When an actor's
worker process or its node dies, its run ends ``interrupted`` with what arrived before, and
the driver starts a fresh actor in its place. If the driver itself dies, Ray ends its actors
(they belong to its job) and its runs, whose pid is the driver's, end ``interrupted`` through
the scheduler's heartbeat check. SIGTERM stops every run of the driver, then the driver.

Idle (no run) for ``$MTL_RAY_IDLE_S`` seconds (default :data:`DEFAULT_IDLE_S`), it releases
its lock, looks at the store once more (a run claimed meanwhile keeps it serving) and exits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mtl.config import ExperimentConfig
from mtl.errors import ConfigError
from mtl.runs.lineage import source_checkpoint
from mtl.runs.processes import hold_pid_lock, write_new
from mtl.runs.ray_actor import Batch, RemoteRun, write_files
from mtl.runs.ray_drivers import driver_key, lock_path
from mtl.runs.ray_executor import OPTIONS_FILE, OWNER_FILE, RAY_TAG, WORKER_FILE, read_options
from mtl.runs.scheduler import dispatch
from mtl.runs.status import ACTIVE, RunStatus
from mtl.runs.store import IllegalTransitionError, RunStore, StoreError
from mtl.runs.store_db import RunNotFoundError

POLL_S = 0.5
"""Seconds between two polls of each busy actor (rows reach the store within about one flush)."""
BEAT_S = 0.5
"""Heartbeat period of the driver's runs, whatever the driver is busy with."""
POLL_TIMEOUT_S = 60.0
"""A poll unanswered this long (a hung node) ends the run ``interrupted``."""
IDLE_ENV = "MTL_RAY_IDLE_S"
DEFAULT_IDLE_S = 120.0
"""Seconds without a run before the driver (and its warm actors) exits."""
OPTIONS_WAIT_S = 5.0
"""How long a claimed run may lack its ``ray.json`` (the launcher writes it right after
queueing) before the driver falls back to :meth:`RayOptions.from_env`."""
START_TRIES = 2
"""Actors tried for one run when the warm one turns out dead before it started the run."""
LOST = "the Ray worker training this run is gone"

Shape = tuple[float, float]
"""(CPUs, GPUs) of an actor: runs asking for the same reuse each other's actors."""


def idle_seconds() -> float:
    """``$MTL_RAY_IDLE_S`` (at least 1), else :data:`DEFAULT_IDLE_S`."""
    value = os.environ.get(IDLE_ENV)
    try:
        return DEFAULT_IDLE_S if value is None else max(1.0, float(value))
    except ValueError:
        return DEFAULT_IDLE_S


@dataclass
class Slot:
    """A run this driver trains, and where."""

    run_id: str
    shape: Shape
    config: dict[str, Any]
    data_file: tuple[str, bytes] | None
    source: tuple[str, bytes] | None = None  # model.init_from's id and checkpoint, once read
    actor: Any = None
    started: Any = None  # the ObjectRef of actor.start until it answered
    poll: Any = None  # the ObjectRef of the pending poll
    poll_sent: float = 0.0
    asked: bool = False
    tries: int = 0


class Driver:
    """Warm actors and the runs they train, for one store and one cluster.

    Args:
        store: the launcher's store.
        address: the cluster (``None``: a private local instance, started by :meth:`connect`).
        limit: the concurrency limit passed on when the driver dispatches the next runs.
    """

    def __init__(self, store: RunStore, address: str | None, limit: int | None) -> None:
        self.store = store
        self.address = address
        self.limit = limit
        self.ray: Any = None
        self.slots: dict[str, Slot] = {}
        self.idle: dict[Shape, list[Any]] = {}
        self._lock = threading.Lock()
        self.last_busy = time.monotonic()

    # ------------------------------------------------------------------ runs

    def owned(self) -> list[str]:
        """The runs this driver trains now (heartbeat thread)."""
        with self._lock:
            return list(self.slots)

    def unowned(self) -> list[str]:
        """Claimed Ray runs for this driver's cluster that no driver owns yet, oldest first."""
        runs = self.store.list_runs(RunStatus.RUNNING)
        found = []
        for run_id, tags, started in zip(runs["id"], runs["tags"], runs["started_at"], strict=True):
            if RAY_TAG not in (tags or []) or run_id in self.slots:
                continue
            folder = self.store.run_dir(run_id)
            if (folder / OWNER_FILE).exists():
                continue  # another driver's, dead or alive: never trained twice
            ready = (folder / OPTIONS_FILE).is_file()
            if not ready and not pd.isna(started) and time.time() - started < OPTIONS_WAIT_S:
                continue  # its options are being written
            if read_options(self.store, run_id, wait_s=0).address == self.address:
                found.append(run_id)
        return found[::-1]

    def adopt(self) -> None:
        """Own every claimed run for this cluster: pid, heartbeat, owner file; not started."""
        for run_id in self.unowned():
            folder = self.store.run_dir(run_id)
            if not write_new(folder / OWNER_FILE, str(os.getpid())):
                continue
            self.store.set_pid(run_id, os.getpid())
            self.store.heartbeat(run_id)
            run = self.store.get_run(run_id)
            options = read_options(self.store, run_id, wait_s=0)
            slot = Slot(run_id, (options.num_cpus, options.num_gpus), run["config"], data_file=None)
            with self._lock:
                self.slots[run_id] = slot
            try:
                slot.data_file = _data_file(ExperimentConfig.from_dict(run["config"]))
            except (OSError, ValueError) as err:
                self._finish(slot, RunStatus.FAILED, f"cannot read the data: {_one_line(err)}")

    # ------------------------------------------------------------------ cluster

    def connect(self) -> None:
        """Import ray and join the cluster (a private local instance without an address)."""
        import ray

        kwargs: dict[str, Any] = {
            "logging_level": "WARNING",
            "log_to_driver": False,
            "configure_logging": False,
        }
        if self.address is None:  # a private local instance, ended with this process
            kwargs["include_dashboard"] = False
        ray.init(address=self.address, **kwargs)
        self.ray = ray

    def _actor(self, shape: Shape) -> Any:
        """A warm actor of ``shape``: an idle one, else a new one (idle actors of other shapes
        are ended first, so they hold no resources the new one waits for)."""
        if self.idle.get(shape):
            return self.idle[shape].pop()
        for other in [s for s in self.idle if s != shape]:
            for actor in self.idle.pop(other):
                self._kill(actor)
        remote: Any = self.ray.remote(RemoteRun)  # Any: ray's stubs do not type actor methods
        return remote.options(num_cpus=shape[0], num_gpus=shape[1], max_restarts=0).remote()

    def _kill(self, actor: Any) -> None:
        with contextlib.suppress(Exception):
            self.ray.kill(actor)

    def begin(self, slot: Slot) -> None:
        """Hand the run to a warm actor (it waits in Ray's queue until a node has room)."""
        slot.actor = self._actor(slot.shape)
        slot.tries += 1
        args = (slot.run_id, slot.config, slot.data_file, slot.source)
        slot.started = slot.actor.start.remote(*args)

    def _prepare(self, slot: Slot, stopping: bool) -> None:
        """Start a run not yet handed to an actor, once the run it starts from (``model.
        init_from``) has finished: its checkpoint goes with the run (the node cannot read this
        machine's disk). Waiting happens here, not in an actor."""
        source_id = (slot.config.get("model") or {}).get("init_from")
        wants_stop = stopping or self.store.stop_requested(slot.run_id)
        if source_id is not None and slot.source is None:
            if _active(self.store, source_id):
                if wants_stop:
                    self._finish(
                        slot, RunStatus.STOPPED, f"stopped while waiting for run {source_id}"
                    )
                return
            try:
                path = source_checkpoint(self.store, source_id)
                slot.source = (source_id, path.read_bytes())
            except (ConfigError, OSError) as err:
                self._finish(slot, RunStatus.FAILED, _one_line(err))
                return
        self.begin(slot)

    # ------------------------------------------------------------------ the loop

    def step(self, stopping: bool) -> None:
        """One round: adopt and start new runs, pass stop requests on, poll busy actors."""
        if not stopping:
            self.adopt()
        for slot in [s for s in self.slots.values() if s.actor is None]:
            self._prepare(slot, stopping)
        for slot in list(self.slots.values()):
            if slot.actor is not None and slot.poll is None and slot.started is None:
                slot.poll, slot.poll_sent = slot.actor.poll.remote(), time.monotonic()
        pending = [r for s in self.slots.values() for r in (s.started, s.poll) if r is not None]
        if pending:  # answers come within milliseconds unless a node is slow or gone
            self.ray.wait(pending, num_returns=len(pending), timeout=1.0)
        for slot in [s for s in self.slots.values() if s.actor is not None]:
            try:
                self._advance(slot, stopping)
            except StoreError as err:  # the run was deleted meanwhile, or the store is gone
                print(f"run {slot.run_id}: {err}", file=sys.stderr, flush=True)
                self._drop(slot, "kill")
        if self.slots:
            self.last_busy = time.monotonic()

    def _advance(self, slot: Slot, stopping: bool) -> None:
        from ray.exceptions import RayActorError, RayError

        run = self.store.get_run(slot.run_id)
        if run["status"] != RunStatus.RUNNING:  # ended by someone else (a forced stop)
            self._drop(slot, "kill")
            return
        wants_stop = stopping or bool(run["stop_requested"])
        if slot.started is not None:
            if not self.ray.wait([slot.started], timeout=0)[0]:
                if wants_stop:
                    self._drop(slot, "kill")
                    self._end(slot.run_id, RunStatus.STOPPED, "stopped while waiting for a node")
                return
            try:
                where = self.ray.get(slot.started)
            except RayActorError as err:  # the warm actor died before it took the run
                if slot.tries >= START_TRIES:
                    self._lost(slot, _one_line(err))
                    return
                self._kill(slot.actor)
                self.begin(slot)  # on another warm actor, or a new one
                return
            slot.started = None
            info = dict(where, actor_id=slot.actor._actor_id.hex())
            _write_json(self.store.run_dir(slot.run_id) / WORKER_FILE, info)
        if wants_stop and not slot.asked:
            slot.actor.request_stop.remote()
            slot.asked = True
        if slot.poll is None or not self.ray.wait([slot.poll], timeout=0)[0]:
            if slot.poll is not None and time.monotonic() - slot.poll_sent > POLL_TIMEOUT_S:
                self._lost(slot, f"no answer for {POLL_TIMEOUT_S:g} s")
            return
        try:
            batch: Batch = self.ray.get(slot.poll)
        except RayError as err:  # the actor's process or node died
            self._lost(slot, _one_line(err))
            return
        slot.poll = None
        _apply(self.store, slot.run_id, batch)
        if batch.status is not None:
            self._drop(slot, "keep")
            self._end(slot.run_id, batch.status, batch.error, batch.summary)

    def _lost(self, slot: Slot, why: str) -> None:
        """The run's actor died (or hangs): the run ends ``interrupted``, a new actor is warmed."""
        self._drop(slot, "replace")
        self._end(slot.run_id, RunStatus.INTERRUPTED, f"{LOST}: {why}")

    def _drop(self, slot: Slot, actor: str) -> None:
        """Forget the run; its actor is kept warm for the next run (``keep``), ended
        (``kill``), or ended and replaced by a new warm one (``replace``)."""
        with self._lock:
            self.slots.pop(slot.run_id, None)
        if slot.actor is None:
            return
        if actor == "keep":
            self.idle.setdefault(slot.shape, []).append(slot.actor)
            return
        self._kill(slot.actor)
        if actor == "replace" and not self.idle.get(slot.shape):
            self.idle.setdefault(slot.shape, []).append(self._actor(slot.shape))

    def _end(
        self,
        run_id: str,
        status: str,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Record the final status (unless someone else ended the run), start the next runs."""
        with contextlib.suppress(IllegalTransitionError):
            self.store.set_status(run_id, status, error=error, summary=summary or None)
        print(f"run {run_id} ended {self.store.get_run(run_id)['status']}", flush=True)
        try:
            dispatch(self.store, self.limit)
        except StoreError as err:
            print(f"warning: could not start the next queued run: {err}", file=sys.stderr)

    def _finish(self, slot: Slot, status: str, error: str) -> None:
        self._drop(slot, "kill")
        self._end(slot.run_id, status, error)

    def fail_all(self, error: str) -> None:
        """End every run of this driver ``failed`` (the cluster cannot be joined)."""
        for slot in list(self.slots.values()):
            self._finish(slot, RunStatus.FAILED, error)

    def serve(self, stop: threading.Event) -> None:
        """Run until idle for :func:`idle_seconds`, or until ``stop`` and every run ended."""
        idle_s = idle_seconds()
        while True:
            self.step(stopping=stop.is_set())
            if not self.slots and (stop.is_set() or time.monotonic() - self.last_busy > idle_s):
                return
            stop.wait(POLL_S)


def _active(store: RunStore, run_id: str) -> bool:
    """Whether ``run_id`` is queued or running (a missing run is not: it is reported later)."""
    try:
        return RunStatus(store.get_run(run_id)["status"]) in ACTIVE
    except RunNotFoundError:
        return False


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


def _write_json(path: Path, info: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        path.write_text(json.dumps(info), encoding="utf-8")


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]


def _beat(driver: Driver, done: threading.Event) -> None:
    """Heartbeat every run of the driver, whatever the main thread waits for."""
    while not done.is_set():
        for run_id in driver.owned():
            with contextlib.suppress(StoreError):
                driver.store.heartbeat(run_id)
        done.wait(BEAT_S)


def _hold(driver: Driver, key: str, stop: threading.Event) -> bool:
    """Serve while holding the driver lock; ``False`` if another driver holds it."""
    with hold_pid_lock(lock_path(driver.store.home, key)) as held:
        if not held:
            return False
        driver.adopt()  # before importing ray: these runs show a live owner at once
        if driver.ray is None:
            try:
                driver.connect()
            except Exception as err:  # noqa: BLE001 - any failure to connect is the runs' error
                where = driver.address or "a local Ray instance"
                driver.fail_all(f"cannot start on {where}: {_one_line(err)}")
                return True
        driver.serve(stop)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the driver process."""
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.ray_driver")
    parser.add_argument("--home", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--address", default=None)
    parser.add_argument("--max-running", type=int, default=None)
    args = parser.parse_args(argv)
    if driver_key(args.address) != args.key:
        print(f"error: --key {args.key!r} does not name {args.address!r}", file=sys.stderr)
        return 2
    store = RunStore(args.home)
    driver = Driver(store, args.address, args.max_running)
    stop, done = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    threading.Thread(target=_beat, args=(driver, done), daemon=True).start()
    try:
        # The lock is free again: a run claimed while it was being released would be stranded.
        while _hold(driver, args.key, stop) and not stop.is_set() and driver.unowned():
            pass
    finally:
        done.set()
        if driver.ray is not None:
            with contextlib.suppress(Exception):
                driver.ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
