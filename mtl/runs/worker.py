"""Execute one recorded run: in this process (foreground CLI) or as a detached worker.

``python -m mtl.runs.worker RUN_ID --home HOME`` is what the launcher starts in its own
session. The worker trains with a :class:`StoreRecorder` and an :class:`OutputWriter`,
turns SIGTERM into a graceful stop, writes a traceback to the run's ``worker.log`` on
failure, and finally starts the next queued runs, so the queue advances without a daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mtl.config import ExperimentConfig
from mtl.runs.store import RunStore, StoreError

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

    Raises whatever training raised, after the run is marked ``failed`` with the message.
    """
    from mtl.runs.recorder import StoreRecorder
    from mtl.train.outputs import OutputWriter
    from mtl.train.trainer import Trainer

    recorder = StoreRecorder(store, run_id)
    recorder.start()
    trainer: Trainer | None = None

    def on_sigterm(signum: int, frame: object) -> None:
        if trainer is not None:
            trainer.request_stop("terminated")

    previous = signal.signal(signal.SIGTERM, on_sigterm) if _main_thread() else None
    try:
        trainer = Trainer(config, data, callbacks=[recorder, OutputWriter(store.run_dir(run_id)), *callbacks])
        return trainer.fit()
    except BaseException as err:
        recorder.close()
        message = f"{type(err).__name__}: {err}" if not isinstance(err, ValueError) else str(err)
        if store.get_run(run_id)["status"] == "running":
            store.set_status(run_id, "failed", error=message)
        with open(store.run_dir(run_id) / "worker.log", "a", encoding="utf-8") as log:
            traceback.print_exc(file=log)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of a detached worker process."""
    from mtl.runs.launcher import dispatch

    parser = argparse.ArgumentParser(prog="python -m mtl.runs.worker")
    parser.add_argument("run_id")
    parser.add_argument("--home", required=True)
    parser.add_argument("--max-running", type=int, default=None)
    parser.add_argument("--warm", action="store_true", help="a dashboard run: hand queued runs to warm spares")
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
            store.set_status(args.run_id, "failed", error=str(err))
            raise
        result = execute(store, args.run_id, config)
        print(f"run {args.run_id} ended {result.status}", flush=True)
    except Exception as err:  # recorded as failed by execute; the log has the traceback
        print(f"run {args.run_id} failed: {err}", file=sys.stderr, flush=True)
        code = 1
    finally:
        beating.set()
        dispatch(store, args.max_running, warm=args.warm)
    return code


def _beat(store: RunStore, run_id: str, done: threading.Event) -> None:
    """Heartbeat every :data:`EARLY_BEAT_S` until ``done`` (the recorder beats too, once training starts)."""
    while not done.is_set():
        with contextlib.suppress(StoreError):  # a missed beat is no error; the next may pass
            store.heartbeat(run_id)
        done.wait(EARLY_BEAT_S)


if __name__ == "__main__":
    sys.exit(main())
