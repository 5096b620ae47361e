"""A warm spare worker: a process that has already imported torch and the trainer and
waits for a run, so a run launched from the dashboard shows its first points seconds
sooner (starting a fresh worker spends 2–5 s importing torch and scikit-learn).

Hand-over uses files in ``<home>/spares/``:

- the launcher starts ``python -m mtl.runs.spare --token T --owner P:S`` and writes
  ``<pid>.starting``; the spare, once warm, writes ``<pid>.idle``. Both markers hold one
  JSON line ``{"pid", "token", "start"}``: the spare's random token (also on its command
  line) and its start time (field 22 of ``/proc/<pid>/stat``);
- the launcher gives it a run by creating ``<pid>.job`` with ``O_EXCL`` (exactly one
  launcher wins); the spare then trains that run as a normal worker and exits.

A marker is trusted only when the process it names is alive, started at the recorded
time and carries the recorded token on its command line (:func:`verified`): a stray
file such as ``notes.idle``, a malformed marker, a symlink, or a marker naming some
unrelated process (a recycled pid) never gets a run and is never signalled. Files are
opened with ``O_NOFOLLOW`` and inspected with ``lstat``.

A spare exits on its own when its owner (the dashboard server that started it) is gone
(checked every :data:`OWNER_POLL_S`), or after :data:`IDLE_TIMEOUT_S` idle: it then
claims its own job file with "exit", so no launcher can hand it a run any more. If
anything fails, the launcher starts a fresh worker instead: a spare only ever saves time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import stat
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mtl.runs.processes import spawn_module, start_time, write_new
from mtl.runs.store import RunStore

SPARES_DIR = "spares"
IDLE_TIMEOUT_S = 15 * 60
OWNER_POLL_S = 1.0
POLL_S = 0.02
EXIT = "exit"
OWNER_ENV = "MTL_SPARE_OWNER"
"""``<pid>:<start>`` of the process a spare belongs to; set inside a spare, so the next
spare it starts after training belongs to the same dashboard server."""
_MARKER = re.compile(r"(\d{1,9})\.(idle|starting)")
_MAX_MARKER_BYTES = 512
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_server_homes: set[Path] = set()


@dataclass(frozen=True)
class Marker:
    """What a spare's marker file says about it."""

    pid: int
    token: str
    start: int


# --------------------------------------------------------------------------- processes


def _alive(pid: int) -> bool:
    return start_time(pid) is not None


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def verified(marker: Marker) -> bool:
    """Whether ``marker`` describes a live spare: same start time, token on its command line."""
    if start_time(marker.pid) != marker.start:
        return False
    args = _cmdline(marker.pid)
    return "mtl.runs.spare" in args and any(
        a == "--token" and b == marker.token for a, b in zip(args, args[1:], strict=False)
    )


def _owner_alive(owner: str | None) -> bool:
    """Whether ``<pid>:<start>`` still names the same live process (no owner: True)."""
    if not owner:
        return True
    pid, _, start = owner.partition(":")
    try:
        return start_time(int(pid)) == int(start)
    except ValueError:
        return False


def _this_owner() -> str:
    """The owner of spares started from this process: its own owner inside a spare, else itself."""
    inherited = os.environ.get(OWNER_ENV)
    if inherited:
        return inherited
    return f"{os.getpid()}:{start_time(os.getpid())}"


# --------------------------------------------------------------------------- marker files


def spare_dir(store: RunStore) -> Path | None:
    """``<home>/spares/``, created on demand; ``None`` if it is not a plain folder (a symlink)."""
    folder = store.home / SPARES_DIR
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700, parents=True)
    try:
        info = os.lstat(folder)
    except OSError:
        return None
    return folder if stat.S_ISDIR(info.st_mode) else None


def _read_small(path: Path) -> str | None:
    """The text of a regular file, never through a symlink; ``None`` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, _MAX_MARKER_BYTES).decode("utf-8", "replace")
    finally:
        os.close(fd)


def read_marker(path: Path) -> Marker | None:
    """The marker at ``path``, or ``None`` when its name or content is not a spare's."""
    match = _MARKER.fullmatch(path.name)
    text = _read_small(path) if match else None
    if not match or text is None:
        return None
    try:
        data = json.loads(text)
        marker = Marker(pid=int(data["pid"]), token=str(data["token"]), start=int(data["start"]))
    except (ValueError, KeyError, TypeError):
        return None
    if marker.pid != int(match.group(1)) or not re.fullmatch(r"[0-9a-f]{16,64}", marker.token):
        return None
    return marker


def _markers(folder: Path, kind: str) -> list[tuple[Path, Marker]]:
    """Verified markers of one kind (``idle`` or ``starting``); dead spares' markers removed."""
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _MARKER.fullmatch(entry.name)
        if not match or match.group(2) != kind or not entry.is_file(follow_symlinks=False):
            continue  # stray files (notes.idle), symlinks and folders are ignored
        path = Path(entry.path)
        marker = read_marker(path)
        if marker is not None and verified(marker):
            found.append((path, marker))
        elif marker is not None and not _alive(marker.pid):
            path.unlink(missing_ok=True)  # a spare that died without cleaning up
    return found


# --------------------------------------------------------------------------- launcher side


def idle_spares(store: RunStore) -> list[int]:
    """Pids of verified spares that are alive, idle and not yet given a job."""
    folder = spare_dir(store)
    if folder is None:
        return []
    return [
        m.pid for _, m in _markers(folder, "idle") if not os.path.lexists(folder / f"{m.pid}.job")
    ]


def assign(store: RunStore, run_id: str, max_running: int) -> int | None:
    """Give ``run_id`` to an idle, verified spare; its pid, or None when no spare took it.

    The spare that takes the run is replaced at once (:func:`ensure_spare`), so the next
    launch, or the next queued run, finds a warm spare too.
    """
    folder = spare_dir(store)
    if folder is None:
        return None
    for _, marker in _markers(folder, "idle"):
        if not verified(marker):  # checked again right before the hand-over
            continue
        if not write_new(folder / f"{marker.pid}.job", f"{run_id} {max_running}\n"):
            continue  # another launcher, or the spare itself leaving, was first
        if verified(marker):
            ensure_spare(store)
            return marker.pid
    return None


def ensure_spare(store: RunStore) -> None:
    """Start a spare unless an idle one is already waiting (or starting up), or the owner
    of spares started from here (the dashboard server) is gone."""
    folder = spare_dir(store)
    owner = _this_owner()
    if folder is None or not _owner_alive(owner):
        return
    if idle_spares(store) or _markers(folder, "starting"):
        return
    token = secrets.token_hex(16)
    pid = spawn_module(
        "mtl.runs.spare",
        ["--home", str(store.home), "--token", token, "--owner", owner],
        log=folder / "spares.log",
        name="reap-spare",
    )
    started = start_time(pid)
    if started is not None:
        text = json.dumps({"pid": pid, "token": token, "start": started})
        with contextlib.suppress(FileExistsError, OSError):
            write_new(folder / f"{pid}.starting", text)


def start_with_server(store: RunStore) -> None:
    """Once per server process and home: queue housekeeping and a warm spare, so the first
    launch from the dashboard does not wait for a cold worker. The spare belongs to this
    process and exits soon after it is gone."""
    if store.home in _server_homes:
        return
    _server_homes.add(store.home)
    from mtl.runs.launcher import dispatch  # the launcher imports this module

    dispatch(store, warm=True)


def stop_spares(home: str | Path) -> None:
    """Ask every verified spare under ``home`` to exit now (tests, shutdown); a spare that
    does not exit within 5 s is killed. Nothing that is not a verified spare is signalled."""
    folder = Path(home) / SPARES_DIR
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return
    except OSError:
        return
    for _, marker in [*_markers(folder, "idle"), *_markers(folder, "starting")]:
        write_new(folder / f"{marker.pid}.job", EXIT)
        deadline = time.monotonic() + 5
        while verified(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        if verified(marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(marker.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- spare side


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
        if not _owner_alive(owner):
            os._exit(0)


def _wait_for_job(folder: Path, job: Path) -> str:
    """The job text once a launcher (or this spare, leaving) has written it."""
    idle_since = time.monotonic()
    while not os.path.lexists(job):
        if time.monotonic() - idle_since > IDLE_TIMEOUT_S:
            write_new(job, EXIT)
        time.sleep(POLL_S)
    text = ""
    while not text.endswith("\n") and text != EXIT:  # the launcher may still be writing
        read = _read_small(job)
        if read is None:
            return EXIT  # not a regular file: not a launcher's job
        text = read
        time.sleep(0.005)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Import everything a worker needs, announce the spare, wait for a job, run it."""
    parser = argparse.ArgumentParser(prog="python -m mtl.runs.spare")
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
    import mtl.runs.worker as worker  # the slow imports: torch, scikit-learn, the trainer

    _warm_up()
    marker = json.dumps({"pid": pid, "token": args.token, "start": start_time(pid)})
    idle = folder / f"{pid}.idle"
    if not write_new(idle, marker):
        return 1
    (folder / f"{pid}.starting").unlink(missing_ok=True)
    job = folder / f"{pid}.job"
    try:
        text = _wait_for_job(folder, job)
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
