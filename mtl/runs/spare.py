"""A warm spare worker: a process that has already imported torch and the trainer and
waits for a run, so a run launched from the dashboard shows its first points seconds
sooner (starting a fresh worker spends 2–5 s importing torch and scikit-learn).

Hand-over uses files in ``<home>/spares/``: an idle spare announces itself with
``<pid>.idle``; the launcher gives it a run by creating ``<pid>.job`` with ``O_EXCL``
(exactly one launcher wins), and the spare then trains that run as a normal worker and
exits. A spare that stays idle for ``IDLE_TIMEOUT_S`` claims its own job file with
"exit" (so no launcher can hand it a run any more) and exits. If anything fails, the
launcher starts a fresh worker instead: a spare only ever saves time.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from mtl.runs.store import RunStore

SPARES_DIR = "spares"
IDLE_TIMEOUT_S = 15 * 60
POLL_S = 0.02
EXIT = "exit"


def spare_dir(store: RunStore) -> Path:
    """``<home>/spares/``, created on demand."""
    folder = store.home / SPARES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


def idle_spares(store: RunStore) -> list[int]:
    """Pids of spares that are alive, idle and not yet given a job."""
    folder = spare_dir(store)
    pids = []
    for marker in folder.glob("*.idle"):
        pid = int(marker.stem)
        if not _alive(pid):
            with contextlib.suppress(FileNotFoundError):
                marker.unlink()
            continue
        if not (folder / f"{pid}.job").exists():
            pids.append(pid)
    return pids


def assign(store: RunStore, run_id: str, max_running: int) -> int | None:
    """Give ``run_id`` to an idle spare; its pid, or None when no spare took it."""
    folder = spare_dir(store)
    for pid in idle_spares(store):
        try:
            fd = os.open(folder / f"{pid}.job", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue  # another launcher, or the spare itself leaving, was first
        with os.fdopen(fd, "w", encoding="utf-8") as job:
            job.write(f"{run_id} {max_running}\n")
        if _alive(pid):
            return pid
    return None


def ensure_spare(store: RunStore) -> None:
    """Start a spare unless an idle one is already waiting (or starting up)."""
    folder = spare_dir(store)
    if idle_spares(store):
        return
    starting = [p for p in folder.glob("*.starting") if _alive(int(p.stem))]
    if starting:
        return
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    log = open(folder / "spares.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "mtl.runs.spare", "--home", str(store.home)],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    log.close()
    (folder / f"{proc.pid}.starting").touch()
    threading.Thread(target=proc.wait, name="reap-spare", daemon=True).start()


def stop_spares(home: str | Path) -> None:
    """Ask every spare under ``home`` to exit now (tests, shutdown)."""
    folder = Path(home) / SPARES_DIR
    if not folder.is_dir():
        return
    for marker in [*folder.glob("*.idle"), *folder.glob("*.starting")]:
        pid = int(marker.stem)
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            fd = os.open(folder / f"{pid}.job", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, EXIT.encode())
            os.close(fd)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _alive(pid):
                os.killpg(pid, 9)


def _warm_up() -> None:
    """Pay the first-use costs now: every architecture and strategy module, and one tiny
    training step each through an MLP and a CNN (optimizer, autograd and kernel set-up)."""
    import warnings

    from mtl.config import ExperimentConfig
    from mtl.models import ARCHITECTURES
    from mtl.train.trainer import Trainer
    from mtl.weighting import WEIGHTINGS

    for registry in (ARCHITECTURES, WEIGHTINGS):
        for name in registry.names():
            registry.get(name)
    tiny = [
        {"data": {"dataset": "synthetic", "options": {"samples": 64, "features": 4}},
         "tasks": [{"name": "y1", "target": "y1"}], "model": {"hidden": [4]}},
        {"data": {"dataset": "digits"}, "tasks": [{"name": "digit", "target": "digit"}],
         "model": {"encoder": "cnn", "channels": [2], "hidden": [4]}},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for config in tiny:
            config["train"] = {"epochs": 1, "batch_size": 64}
            Trainer(ExperimentConfig.from_dict(config)).fit()


def main(argv: Sequence[str] | None = None) -> int:
    """Import everything a worker needs, announce the spare, wait for a job, run it."""
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.spare")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    store = RunStore(args.home)
    folder = spare_dir(store)
    pid = os.getpid()
    import mtl.runs.worker as worker  # the slow imports: torch, scikit-learn, the trainer

    _warm_up()
    (folder / f"{pid}.idle").touch()
    with contextlib.suppress(FileNotFoundError):
        (folder / f"{pid}.starting").unlink()
    job = folder / f"{pid}.job"
    idle_since = time.monotonic()
    try:
        while not job.exists():
            if time.monotonic() - idle_since > IDLE_TIMEOUT_S:
                with contextlib.suppress(FileExistsError):
                    fd = os.open(job, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                    os.write(fd, EXIT.encode())
                    os.close(fd)
            time.sleep(POLL_S)
        text = ""
        while not text.endswith("\n") and text != EXIT:  # the launcher may still be writing
            text = job.read_text(encoding="utf-8")
            time.sleep(0.005)
    finally:
        with contextlib.suppress(FileNotFoundError):
            (folder / f"{pid}.idle").unlink()
    with contextlib.suppress(FileNotFoundError):
        job.unlink()
    if text == EXIT:
        return 0
    run_id, max_running = text.split()
    return worker.main([run_id, "--home", args.home, "--max-running", max_running])


if __name__ == "__main__":
    sys.exit(main())
