"""The Ray driver of a store, seen from the launcher: find it, start it on demand, stop it.

One long-lived driver process per store and cluster (:mod:`mtl.runs.ray_driver`) trains every
Ray run of that store in warm actors that it reuses across runs. It holds an exclusive
``flock`` on ``<home>/ray/driver-<key>.lock`` (which also holds its pid) while it serves, and
exits on its own once it has been idle for a while. :func:`ensure_driver` starts one when the
lock is free and none is starting (``driver-<key>.starting`` names a driver just spawned, by
pid and start time, so two runs submitted together start one driver, not two).

The key names the cluster (``local`` for a private local Ray instance, else a hash of the
address): runs of one store sent to two clusters get one driver each. POSIX only (``fcntl``),
standard library only: the CLI, the scheduler and the dashboard load it at no cost.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mtl.errors import UserError
from mtl.runs.processes import (
    cmdline,
    is_plain_dir,
    locked_pid,
    read_regular,
    spawn_module,
    start_time,
    stop_lock_holder,
)
from mtl.runs.store import RunStore

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: importable, the Ray executor refuses to run
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DRIVER_DIR",
    "MODULE",
    "driver_key",
    "driver_pid",
    "ensure_driver",
    "lock_path",
    "stop_drivers",
]

MODULE = "mtl.runs.ray_driver"
"""The driver's module (``python -m``)."""
DRIVER_DIR = "ray"
"""The folder of the store holding the drivers' lock, starting marker and log files."""


def driver_key(address: str | None) -> str:
    """The key of the driver serving runs sent to ``address`` (``None``: a local instance)."""
    if address is None:
        return "local"
    return hashlib.sha1(address.encode("utf-8")).hexdigest()[:12]


def driver_dir(home: Path) -> Path:
    """``<home>/ray/``, created on demand."""
    folder = Path(home) / DRIVER_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def lock_path(home: Path, key: str) -> Path:
    """The lock file the driver of ``key`` holds while it serves (it holds its pid too)."""
    return Path(home) / DRIVER_DIR / f"driver-{key}.lock"


def driver_pid(home: Path, key: str) -> int | None:
    """The pid of the driver serving ``key`` for ``home`` now, or ``None``."""
    return locked_pid(lock_path(home, key))


def _starting_pid(home: Path, key: str) -> int | None:
    """The pid of a driver spawned for ``key`` that is still alive (maybe not locked yet)."""
    text = read_regular(Path(home) / DRIVER_DIR / f"driver-{key}.starting", 256)
    try:
        data = json.loads(text or "")
        pid, started = int(data["pid"]), int(data["start"])
    except (ValueError, KeyError, TypeError):
        return None
    if start_time(pid) != started or MODULE not in cmdline(pid):
        return None
    return pid


def ensure_driver(store: RunStore, address: str | None, limit: int) -> int:
    """The pid of the driver that will train the store's runs on ``address``; starts one if
    none serves or is starting.

    Args:
        store: the launcher's store.
        address: the cluster (``None``: a private local Ray instance of the driver).
        limit: the concurrency limit the driver passes on when it dispatches the next run.

    Raises:
        UserError: the launcher is not POSIX (the driver's lock is an ``flock``).
    """
    if fcntl is None:  # pragma: no cover - Windows
        raise UserError("the Ray executor needs a POSIX launcher (Linux or macOS)")
    key = driver_key(address)
    folder = driver_dir(store.home)
    pid = driver_pid(store.home, key) or _starting_pid(store.home, key)
    if pid is not None:
        return pid
    args = ["--home", str(store.home), "--key", key, "--max-running", str(limit)]
    if address is not None:
        args += ["--address", address]
    pid = spawn_module(MODULE, args, log=folder / f"driver-{key}.log", name="reap-ray-driver")
    started = start_time(pid)
    if started is not None:
        marker = folder / f"driver-{key}.starting"
        tmp = marker.with_name(f".{marker.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"pid": pid, "start": started}), encoding="utf-8")
        os.replace(tmp, marker)
    return pid


def stop_drivers(home: str | Path, timeout_s: float = 60.0) -> None:
    """Stop every driver of ``home``: SIGTERM (each asks its runs to stop, so they end
    ``stopped`` with their checkpoints, then exits), SIGKILL to its process group after
    ``timeout_s``. Only a process holding a driver lock of ``home`` is signalled."""
    folder = Path(home) / DRIVER_DIR
    if fcntl is None or not is_plain_dir(folder):  # Windows, or no driver ever started here
        return
    for path in sorted(folder.glob("driver-*.lock")):
        stop_lock_holder(path, timeout_s, 10.0)
