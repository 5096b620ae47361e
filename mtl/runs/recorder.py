"""A training callback that records a run into the store, in batches, from a background thread.

The training thread only appends rows to an in-memory buffer. A daemon thread flushes the
buffer every ``flush_every`` seconds (so a reader sees new points within about a second),
writes the heartbeat, and turns a stop request found in the store into
``trainer.request_stop()``. The run's final status is written when training ends: the
worker puts this recorder *after* the output writer, so ``finished`` is only written once
the run's files exist.

A full disk is fatal: the rows cannot be written, so the recorder asks the trainer to stop
and ends the run ``failed`` with an error starting "disk full" (not a silent
``interrupted`` once the worker gives up).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from typing import TYPE_CHECKING

from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore, StoreError, StoreFullError
from mtl.train.callbacks import Callback, EpochEnd, RunEnd, StepEnd

if TYPE_CHECKING:  # types only: the recorder itself stays torch-free
    from mtl.train.diagnostics import DiagnosticsEnd
    from mtl.train.trainer import Trainer

DISK_FULL = "disk full"
"""How the error of a run that ended because the disk filled up begins."""

STEP_SPLIT = "step"
"""Split name of the losses reported every ``train.log_every`` steps (epoch rows use train/val)."""


class StoreRecorder(Callback):
    """Writes metrics, loss weights, heartbeats and the final status of ``run_id``.

    Args:
        store: the run store.
        run_id: the run, already ``running``.
        flush_every: seconds between background flushes (and heartbeats).
    """

    def __init__(self, store: RunStore, run_id: str, flush_every: float = 0.5) -> None:
        self.store = store
        self.run_id = run_id
        self.flush_every = flush_every
        self._metrics: list[tuple] = []
        self._weights: list[tuple] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._trainer: Trainer | None = None
        self._full: StoreFullError | None = None  # the disk filled up: the run fails

    def start(self, trainer: Trainer | None = None) -> None:
        """Start the heartbeat/flush thread (also before training, while data loads)."""
        if trainer is not None:
            self._trainer = trainer
        if self._thread is None:
            self.store.heartbeat(self.run_id)
            self._thread = threading.Thread(
                target=self._run, name=f"recorder-{self.run_id}", daemon=True
            )
            self._thread.start()

    def on_run_start(self, trainer: Trainer, event: object) -> None:
        self.start(trainer)

    def on_step(self, trainer: Trainer, event: StepEnd) -> None:
        rows = [
            (event.step, event.epoch, event.wall_time, task, STEP_SPLIT, "loss", value, None)
            for task, value in event.losses.items()
        ]
        rows.append(
            (event.step, event.epoch, event.wall_time, "*", STEP_SPLIT, "lr", event.lr, None)
        )
        weights = [
            (event.step, event.epoch, event.wall_time, task, w) for task, w in event.weights.items()
        ]
        with self._lock:
            self._metrics.extend(rows)
            self._weights.extend(weights)

    def on_epoch_end(self, trainer: Trainer, event: EpochEnd) -> None:
        rows = [(*row[:6], _finite(row[6]), row[7]) for row in event.rows]
        with self._lock:
            self._metrics.extend(rows)

    def on_diagnostics(self, trainer: Trainer, event: DiagnosticsEnd) -> None:
        rows = [(*row[:6], _finite(row[6]), row[7]) for row in event.rows]
        with self._lock:
            self._metrics.extend(rows)

    def on_run_end(self, trainer: Trainer, event: RunEnd) -> None:
        self.close()
        if self._full is not None:
            self.store.set_status(
                self.run_id, RunStatus.FAILED, error=disk_full_message(self._full)
            )
            return
        self.store.set_status(
            self.run_id, event.status, error=event.error, summary=event.summary or None
        )

    def close(self) -> None:
        """Stop the thread and write what is still buffered.

        On a full disk the buffered rows are dropped (they cannot be written) and the run
        is remembered as failed; other store errors propagate.
        """
        self._done.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            self.flush()
        except StoreFullError as err:
            self._disk_full(err)

    @property
    def disk_full(self) -> StoreFullError | None:
        """The error that showed the disk is full, if it filled up during the run."""
        return self._full

    def _disk_full(self, err: StoreFullError) -> None:
        self._full = self._full or err
        with self._lock:
            self._metrics, self._weights = [], []
        if self._trainer is not None:
            self._trainer.request_stop(DISK_FULL)

    def flush(self) -> None:
        """Write the buffered rows (one transaction each); on failure they stay buffered."""
        with self._lock:
            metrics, self._metrics = self._metrics, []
            weights, self._weights = self._weights, []
        try:
            if metrics:
                self.store.add_metrics(self.run_id, metrics)
                metrics = []
            if weights:
                self.store.add_weights(self.run_id, weights)
        except StoreError:
            with self._lock:
                self._metrics[:0] = metrics
                self._weights[:0] = weights
            raise

    def _run(self) -> None:
        # Every flush_every seconds: write buffered rows, beat, look for a stop request.
        # The very first rows go out at once: the live view is waiting for them.
        last = time.monotonic()
        shown_first = False
        while not self._done.wait(0.02):
            first_ready = not shown_first and bool(self._metrics or self._weights)
            if not first_ready and time.monotonic() - last < self.flush_every:
                continue
            last = time.monotonic()
            shown_first = shown_first or first_ready
            try:
                self.flush()
                self.store.heartbeat(self.run_id)
                if self._trainer is not None and self.store.stop_requested(self.run_id):
                    self._trainer.request_stop("stop requested")
            except StoreFullError as err:
                print(f"error: {disk_full_message(err)}", file=sys.stderr, flush=True)
                self._disk_full(err)
                return
            except StoreError as err:  # keep training; the rows stay buffered for the next try
                print(
                    f"warning: could not write to the run store: {err}", file=sys.stderr, flush=True
                )


def disk_full_message(err: BaseException) -> str:
    """The ``error`` of a run ended by a full disk: "disk full: …" and what failed."""
    if isinstance(err, OSError) and err.strerror:
        where = f" (writing {err.filename})" if err.filename else ""
        return f"{DISK_FULL}: {err.strerror.lower()}{where}; free some space and run again"
    return f"{DISK_FULL}: {err}"


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
