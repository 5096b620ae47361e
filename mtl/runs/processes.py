"""OS processes for runs: spawn a detached ``python -m`` child, tell whether a pid is alive,
read its start time and command line, signal its process group, create a file exclusively and read one without following
a symlink, hold a lock file that names its holder's pid. Torch-free, standard library only.

Used by the local executor (workers), the warm spares, the supervisor, the Ray drivers and
the store (is a run's worker alive?).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock is ever held (callers check first)
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "cmdline",
    "hold_pid_lock",
    "is_plain_dir",
    "locked_pid",
    "pid_alive",
    "read_regular",
    "signal_group",
    "spawn_module",
    "start_time",
    "stop_lock_holder",
    "try_lock",
    "write_new",
]

_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the mtl package
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def spawn_module(module: str, args: Sequence[str], *, log: Path | None, name: str) -> int:
    """Start ``python -m module *args`` in its own session and return its pid.

    The child finds this ``mtl`` package first on ``PYTHONPATH``, reads nothing from stdin,
    writes stdout and stderr to ``log`` (appended; discarded when ``None``) and outlives
    the caller. A daemon thread named ``name`` reaps it when it exits, so a long-lived caller
    never keeps a zombie that looks alive.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
    out = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]
    threading.Thread(target=proc.wait, name=name, daemon=True).start()
    return proc.pid


def signal_group(pid: int, sig: int) -> bool:
    """Send ``sig`` to the process group that ``pid`` leads (every :func:`spawn_module` child
    leads its own, so its children get it too); False when there is no such group any more,
    or it is not ours to signal."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists and is not a zombie (this machine only)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    except OSError:
        return False
    try:  # a killed child that nobody reaped yet still answers os.kill
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS) or the process just vanished: trust os.kill
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state not in (["Z"], ["X"])


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - exercised on Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def start_time(pid: int) -> int | None:
    """Start time of process ``pid`` (clock ticks since boot, ``/proc/<pid>/stat`` field
    22); ``None`` when it does not exist or is a zombie. With the pid it names one process:
    a pid reused later has another start time."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def cmdline(pid: int) -> list[str]:
    """The command line of process ``pid`` (``/proc/<pid>/cmdline``); ``[]`` if unreadable."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return []


def write_new(path: Path, text: str) -> bool:
    """Create ``path`` (never existing, never a symlink) holding ``text``; False if it exists.

    ``O_EXCL`` makes the creation atomic: of two processes writing the same path, exactly one
    gets True.
    """
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def is_plain_dir(path: Path) -> bool:
    """Whether ``path`` is a folder itself, not a symlink to one (nor missing, nor a file)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def read_regular(path: Path, limit: int) -> str | None:
    """At most ``limit`` bytes of the regular file ``path`` as text, never through a symlink
    (``O_NOFOLLOW``) and never blocking on a FIFO; ``None`` for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode("utf-8", "replace")
    finally:
        os.close(fd)


@contextlib.contextmanager
def try_lock(path: Path) -> Iterator[IO[str] | None]:
    """An exclusive ``flock`` on ``path`` (created if missing) while it is free; ``None`` at
    once while another process holds it. POSIX only."""
    file = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        try:
            yield file
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
    finally:
        file.close()


@contextlib.contextmanager
def hold_pid_lock(path: Path) -> Iterator[bool]:
    """Hold the lock at ``path`` with this process's pid written in it (``True``), or
    ``False`` at once while another process holds it; :func:`locked_pid` reads the holder."""
    with try_lock(path) as lock:
        if lock is None:
            yield False
            return
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield True


def locked_pid(path: Path) -> int | None:
    """The pid of the process holding the lock at ``path`` (:func:`hold_pid_lock`); ``None``
    when there is no such file, nobody holds it, or it names no pid."""
    if fcntl is None or not path.is_file():
        return None
    with try_lock(path) as lock:
        if lock is not None:
            return None
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


def stop_lock_holder(path: Path, term_s: float, kill_s: float) -> None:
    """Stop the process holding the lock at ``path`` (:func:`locked_pid`): SIGTERM to its
    process group, SIGKILL if the lock is still held after ``term_s``; returns once the
    lock is free, or ``kill_s`` after the SIGKILL."""
    pid = locked_pid(path)
    if pid is None:
        return
    for sig, wait_s in ((signal.SIGTERM, term_s), (signal.SIGKILL, kill_s)):
        signal_group(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if locked_pid(path) is None:
                return
            time.sleep(0.05)
