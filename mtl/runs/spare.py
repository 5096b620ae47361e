"""Warm spare workers, as a launcher sees them: find an idle one, hand it a run, start and
stop them. A spare (:mod:`mtl.runs.spare_process`) is a process that has already imported
torch and the trainer and waits for a run, so a run launched from the dashboard shows its first
points seconds sooner (starting a fresh worker spends 2–5 s importing torch and scikit-learn).

Hand-over uses files in ``<home>/spares/``:

- the launcher starts ``python -m mtl.runs.spare_process --token T --owner P:S`` and writes
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

A spare exits on its own when its owner (the dashboard server that started it) is gone, or
after a long idle time: it then claims its own job file with "exit", so no launcher can hand
it a run any more. If anything fails, the launcher starts a fresh worker instead: a spare only
ever saves time. Torch-free.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from mtl.runs.processes import (
    cmdline,
    is_plain_dir,
    pid_alive,
    read_regular,
    signal_group,
    spawn_module,
    start_time,
    write_new,
)
from mtl.runs.store import RunStore

MODULE = "mtl.runs.spare_process"
"""The spare's module (``python -m``); :func:`verified` looks for it on the command line."""
SPARES_DIR = "spares"
EXIT = "exit"
OWNER_ENV = "MTL_SPARE_OWNER"
"""``<pid>:<start>`` of the process a spare belongs to; set inside a spare, so the next
spare it starts after training belongs to the same dashboard server."""
_MARKER = re.compile(r"(\d{1,9})\.(idle|starting)")
MAX_MARKER_BYTES = 512


@dataclass(frozen=True)
class Marker:
    """What a spare's marker file says about it."""

    pid: int
    token: str
    start: int


# --------------------------------------------------------------------------- processes


def verified(marker: Marker) -> bool:
    """Whether ``marker`` describes a live spare: same start time, token on its command line."""
    if start_time(marker.pid) != marker.start:
        return False
    args = cmdline(marker.pid)
    return MODULE in args and any(
        a == "--token" and b == marker.token for a, b in zip(args, args[1:], strict=False)
    )


def owner_alive(owner: str | None) -> bool:
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
    return folder if is_plain_dir(folder) else None


def read_marker(path: Path) -> Marker | None:
    """The marker at ``path``, or ``None`` when its name or content is not a spare's."""
    match = _MARKER.fullmatch(path.name)
    text = read_regular(path, MAX_MARKER_BYTES) if match else None
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
        elif marker is not None and not pid_alive(marker.pid):
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
    if folder is None or not owner_alive(owner):
        return
    if idle_spares(store) or _markers(folder, "starting"):
        return
    token = secrets.token_hex(16)
    pid = spawn_module(
        MODULE,
        ["--home", str(store.home), "--token", token, "--owner", owner],
        log=folder / "spares.log",
        name="reap-spare",
    )
    started = start_time(pid)
    if started is not None:
        text = json.dumps({"pid": pid, "token": token, "start": started})
        with contextlib.suppress(FileExistsError, OSError):
            write_new(folder / f"{pid}.starting", text)


def stop_spares(home: str | Path) -> None:
    """Ask every verified spare under ``home`` to exit now (tests, shutdown); a spare that
    does not exit within 5 s is killed. Nothing that is not a verified spare is signalled."""
    folder = Path(home) / SPARES_DIR
    if not is_plain_dir(folder):
        return
    for _, marker in [*_markers(folder, "idle"), *_markers(folder, "starting")]:
        write_new(folder / f"{marker.pid}.job", EXIT)
        deadline = time.monotonic() + 5
        while verified(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        if verified(marker):
            signal_group(marker.pid, signal.SIGKILL)
