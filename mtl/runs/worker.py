"""Execute one recorded run: in this process (foreground CLI) or as a detached worker.

``python -m mtl.runs.worker RUN_ID --home HOME`` is what the launcher starts in its own
session. The worker trains with a :class:`StoreRecorder` and an :class:`OutputWriter`,
turns SIGTERM into a graceful stop, writes a traceback to the run's ``worker.log`` on
failure, and finally starts the next queued runs, so the queue advances without a daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mtl.config import ExperimentConfig
from mtl.runs.lineage import source_checkpoint
from mtl.runs.recorder import StoreRecorder, disk_full_message
from mtl.runs.scheduler import dispatch
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore, StoreError, StoreFullError

if TYPE_CHECKING:  # the heavy modules (torch, scikit-learn) load only once the heartbeat runs
    from mtl.data.prepare import PreparedData
    from mtl.train.callbacks import Callback
    from mtl.train.trainer import Trainer, TrainResult

EARLY_BEAT_S = 0.5


def execute(
    store: RunStore,
    run_id: str,
    config: ExperimentConfig,
    data: PreparedData | None = None,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train run ``run_id`` (status ``running``) here and record everything into ``store``.

    The output writer comes before the recorder, so the terminal status (``finished``…)
    is written only once the checkpoint, preprocessor and predictions exist: whoever sees
    ``finished`` finds the files, and a worker killed in between leaves a run that ends
    ``interrupted``, never a ``finished`` one without files.

    Raises whatever training raised, after the run is marked ``failed`` with the message
    (a full disk: "disk full: …").
    """
    # why: torch loads here, after main() started the heartbeat (a worker importing it for
    # seconds must not look dead), and never on the CLI's or the dashboard's import path
    from mtl.train.distributed import create_trainer
    from mtl.train.outputs import OutputWriter

    recorder = StoreRecorder(store, run_id)
    recorder.start()
    trainer: Trainer | None = None
    reserve = DiskReserve(store.run_dir(run_id) / RESERVE_NAME)

    def on_sigterm(signum: int, frame: object) -> None:
        if trainer is not None:
            trainer.request_stop("terminated")

    previous = signal.signal(signal.SIGTERM, on_sigterm) if _main_thread() else None
    try:
        source = config.model.init_from
        checkpoint = (
            None
            if source is None
            else source_checkpoint(
                store, source, wait=True, should_stop=lambda: store.stop_requested(run_id)
            )
        )
        writer = OutputWriter(store.run_dir(run_id))
        # one process, or rank 0 of train.workers data-parallel ranks that it starts itself
        trainer = create_trainer(
            config, data, callbacks=[writer, recorder, *callbacks], init_checkpoint=checkpoint
        )
        return trainer.fit()
    except BaseException as err:
        with contextlib.suppress(StoreError):
            recorder.close()  # a full disk is remembered by the recorder, other rows are lost
        reserve.release()  # room to record the failure even when the disk is full
        if isinstance(err, InterruptedError):  # stopped while waiting for the source run
            with contextlib.suppress(StoreError):
                store.set_status(run_id, RunStatus.STOPPED, error=str(err))
        _record_failure(store, run_id, _failure_message(err, recorder.disk_full))
        with (
            contextlib.suppress(OSError),
            open(store.run_dir(run_id) / "worker.log", "a", encoding="utf-8") as log,
        ):
            traceback.print_exc(file=log)
        raise
    finally:
        reserve.release()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


RESERVE_NAME = ".disk-reserve"
RESERVE_BYTES = 1 << 20


class DiskReserve:
    """A file of :data:`RESERVE_BYTES` held on the run's disk while it trains.

    When the disk fills up, deleting it frees the room needed to record the run as
    ``failed`` ("disk full") and to log why; without it that last write would fail too
    and the run would end as a puzzling ``interrupted``. Made best-effort: on a disk that
    is already full there is simply no reserve.
    """

    def __init__(self, path: Path, size: int = RESERVE_BYTES) -> None:
        self.path = path
        try:
            with open(path, "wb") as file:
                if hasattr(os, "posix_fallocate"):
                    os.posix_fallocate(file.fileno(), 0, size)  # real blocks, not a sparse file
                else:  # pragma: no cover - macOS, Windows
                    file.write(bytes(size))
        except OSError:
            self.release()

    def release(self) -> None:
        """Delete the reserve (idempotent)."""
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)


def _failure_message(err: BaseException, disk_full: StoreFullError | None) -> str:
    """The ``error`` of a failed run: one line; "disk full: …" when the disk filled up."""
    if isinstance(err, StoreFullError) or (isinstance(err, OSError) and err.errno == errno.ENOSPC):
        return disk_full_message(err)
    if disk_full is not None:
        return disk_full_message(disk_full)
    return str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"


def _record_failure(store: RunStore, run_id: str, message: str) -> None:
    """Mark a still-running run ``failed``; say so on stderr if even that cannot be written."""
    try:
        if store.get_run(run_id)["status"] == RunStatus.RUNNING:
            store.set_status(run_id, RunStatus.FAILED, error=message)
    except StoreError as err:
        print(
            f"error: run {run_id} failed ({message}) but the store could not record it: {err}",
            file=sys.stderr,
            flush=True,
        )


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a detached worker process."""
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.worker")
    parser.add_argument("run_id")
    parser.add_argument("--home", required=True)
    parser.add_argument("--max-running", type=int, default=None)
    parser.add_argument(
        "--warm", action="store_true", help="a dashboard run: hand queued runs to warm spares"
    )
    args = parser.parse_args(argv)
    store = RunStore(args.home)
    code = 0
    beating = threading.Event()
    try:
        store.set_pid(args.run_id, os.getpid())
        # Beat from the first moment: importing torch and preparing the data can take
        # seconds on a busy machine, and a silent worker would look dead.
        threading.Thread(target=_beat, args=(store, args.run_id, beating), daemon=True).start()
        try:
            config = ExperimentConfig.from_dict(store.get_run(args.run_id)["config"])
        except ValueError as err:
            store.set_status(args.run_id, RunStatus.FAILED, error=str(err))
            raise
        result = execute(store, args.run_id, config)
        print(f"run {args.run_id} ended {result.status}", flush=True)
    except Exception as err:  # recorded as failed by execute; the log has the traceback
        print(f"run {args.run_id} failed: {err}", file=sys.stderr, flush=True)
        code = 1
    finally:
        beating.set()
        try:
            dispatch(store, args.max_running, warm=args.warm)
        except StoreError as err:  # e.g. a full disk: the supervisor or a later reader retries
            print(
                f"warning: could not start the next queued run: {err}", file=sys.stderr, flush=True
            )
    return code


def _beat(store: RunStore, run_id: str, done: threading.Event) -> None:
    """Heartbeat every :data:`EARLY_BEAT_S` until ``done`` (the recorder beats too, once training starts)."""
    while not done.is_set():
        with contextlib.suppress(StoreError):  # a missed beat is no error; the next may pass
            store.heartbeat(run_id)
        done.wait(EARLY_BEAT_S)


if __name__ == "__main__":
    sys.exit(main())
