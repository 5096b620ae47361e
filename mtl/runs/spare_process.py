"""A warm spare worker process: ``python -m mtl.runs.spare_process --home H --token T --owner P:S``.

It imports torch, the trainer and every registered architecture and strategy, trains two tiny
runs to pay the first-use costs, announces itself with ``<pid>.idle`` in ``<home>/spares/``
and waits for a job file; it then trains that run as a normal worker
(:func:`mtl.runs.worker.main`) and exits. The launcher's side of the hand-over (markers,
verification, start and stop) is :mod:`mtl.runs.spare`.

While idle it exits soon after its owner (the dashboard server that started it) is gone
(checked every :data:`OWNER_POLL_S`), or after :data:`IDLE_TIMEOUT_S`: it then claims its own
job file with "exit", so no launcher can hand it a run any more.

Imports the training stack at module level: only the spare process itself loads this module.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from mtl.config import ExperimentConfig
from mtl.models import ARCHITECTURES
from mtl.runs import worker
from mtl.runs.processes import read_regular, start_time, write_new
from mtl.runs.spare import EXIT, MAX_MARKER_BYTES, OWNER_ENV, owner_alive, spare_dir
from mtl.runs.store import RunStore
from mtl.train.trainer import Trainer
from mtl.weighting import WEIGHTINGS

IDLE_TIMEOUT_S = 15 * 60
OWNER_POLL_S = 1.0
POLL_S = 0.02


def _warm_up() -> None:
    """Pay the first-use costs now: every architecture and strategy module, and one tiny
    training step each through an MLP and a CNN (optimizer, autograd and kernel set-up)."""
    for registry in (ARCHITECTURES, WEIGHTINGS):
        for name in registry.names():
            registry.get(name)
    tiny = [
        {
            "data": {"dataset": "synthetic", "options": {"samples": 64, "features": 4}},
            "tasks": [{"name": "y1", "target": "y1"}],
            "model": {"hidden": [4]},
        },
        {
            "data": {"dataset": "digits"},
            "tasks": [{"name": "digit", "target": "digit"}],
            "model": {"encoder": "cnn", "channels": [2], "hidden": [4]},
        },
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for config in tiny:
            config["train"] = {"epochs": 1, "batch_size": 64}
            Trainer(ExperimentConfig.from_dict(config)).fit()


def _exit_when_owner_goes(owner: str, claimed: threading.Event) -> None:
    """While idle, end this process soon after its owner is gone (never during a run)."""
    while not claimed.wait(OWNER_POLL_S):
        if not owner_alive(owner):
            os._exit(0)


def _wait_for_job(job: Path) -> str:
    """The job text once a launcher (or this spare, leaving) has written it."""
    idle_since = time.monotonic()
    while not os.path.lexists(job):
        if time.monotonic() - idle_since > IDLE_TIMEOUT_S:
            write_new(job, EXIT)
        time.sleep(POLL_S)
    text = ""
    while not text.endswith("\n") and text != EXIT:  # the launcher may still be writing
        read = read_regular(job, MAX_MARKER_BYTES)
        if read is None:
            return EXIT  # not a regular file: not a launcher's job
        text = read
        time.sleep(0.005)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Import everything a worker needs, announce the spare, wait for a job, run it."""
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.spare_process")
    parser.add_argument("--home", required=True)
    parser.add_argument(
        "--token", required=True, help="random hex the launcher checks on the command line"
    )
    parser.add_argument(
        "--owner", default="", help="<pid>:<start> of the server; exit when it is gone"
    )
    args = parser.parse_args(argv)
    os.environ[OWNER_ENV] = args.owner
    claimed = threading.Event()
    threading.Thread(target=_exit_when_owner_goes, args=(args.owner, claimed), daemon=True).start()
    store = RunStore(args.home)
    folder = spare_dir(store)
    if folder is None:
        return 1
    pid = os.getpid()
    _warm_up()
    marker = json.dumps({"pid": pid, "token": args.token, "start": start_time(pid)})
    idle = folder / f"{pid}.idle"
    if not write_new(idle, marker):
        return 1
    (folder / f"{pid}.starting").unlink(missing_ok=True)
    job = folder / f"{pid}.job"
    try:
        text = _wait_for_job(job)
        claimed.set()  # from here on a run may be ours: it must outlive the server
    finally:
        idle.unlink(missing_ok=True)
    job.unlink(missing_ok=True)
    if text == EXIT:
        return 0
    try:
        run_id, max_running = text.split()
    except ValueError:
        return 1
    return worker.main([run_id, "--home", args.home, "--max-running", max_running, "--warm"])


if __name__ == "__main__":
    sys.exit(main())
