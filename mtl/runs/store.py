"""The run store: runs, their status, metrics and loss weights in one SQLite file.

The store is the truth (see ``DESIGN.md``): the worker writes here, the CLI and the
dashboard read from here, and nothing else is needed to rebuild a view of a run. It lives
in a *home* folder::

    <home>/store.sqlite          the database (WAL mode: readers never block the writer)
    <home>/runs/<run_id>/        one artifact folder per run (config, checkpoint, logs)

The home is the ``home`` argument, else the ``MTL_HOME`` environment variable, else
``./mtl-runs`` (:func:`resolve_home`).

Concurrency. Every write is one short ``BEGIN IMMEDIATE`` transaction, so a batch of
metric rows becomes visible to readers all at once or not at all, and row ids increase in
commit order: a reader that asks for "everything after id N" never misses a row. Each
thread (and each process) uses its own connection. Connections wait up to
:data:`BUSY_TIMEOUT_S` for a lock and the store then retries for up to
:data:`LOCKED_RETRY_S`, so "database is locked" does not reach users.

Schema. ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` lists the
functions that bring a store from version ``i`` to ``i + 1``. They run in order, in one
transaction, when a store is opened. A store written by a newer MTL Lab is refused.

This module imports only the standard library, numpy and pandas (never torch), so the
dashboard and the CLI can read runs without loading a training stack.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mtl.csv_safe import to_csv
from mtl.errors import StoreError, StoreFullError  # re-exported from here too
from mtl.runs.processes import pid_alive
from mtl.runs.status import (  # statuses re-exported
    STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    RunStatus,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "DEFAULT_HOME",
    "HOME_ENV_VAR",
    "IllegalTransitionError",
    "LOCKED_RETRY_S",
    "METRIC_COLUMNS",
    "MIGRATIONS",
    "RUN_COLUMNS",
    "RunNotFoundError",
    "RunStore",
    "SCHEMA_VERSION",
    "STALE_MESSAGE",
    "STATUSES",
    "StoreError",
    "StoreFullError",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "WEIGHT_COLUMNS",
    "resolve_home",
]

HOME_ENV_VAR = "MTL_HOME"
DEFAULT_HOME = "mtl-runs"  # relative to the working directory
DB_NAME = "store.sqlite"
RUNS_DIR = "runs"

BUSY_TIMEOUT_S = 15.0  # how long one statement waits for a lock inside SQLite
LOCKED_RETRY_S = 60.0  # how long the store keeps retrying a locked database after that

STALE_MESSAGE = "the worker stopped sending heartbeats (process died?)"

RUN_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "status",
    "created_at",
    "started_at",
    "ended_at",
    "pid",
    "heartbeat",
    "error",
    "tags",
    "notes",
    "summary",
    "stop_requested",
)
METRIC_COLUMNS: tuple[str, ...] = (
    "id",
    "step",
    "epoch",
    "wall_time",
    "task",
    "split",
    "metric",
    "value",
    "reason",
)
WEIGHT_COLUMNS: tuple[str, ...] = ("id", "step", "epoch", "wall_time", "task", "weight")

_METRIC_DTYPES = {
    "id": "int64",
    "step": "int64",
    "epoch": "float64",
    "wall_time": "float64",
    "task": "str",
    "split": "str",
    "metric": "str",
    "value": "float64",
    "reason": "str",
}
_WEIGHT_DTYPES = {
    "id": "int64",
    "step": "int64",
    "epoch": "float64",
    "wall_time": "float64",
    "task": "str",
    "weight": "float64",
}

_T = TypeVar("_T")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RunNotFoundError(StoreError):
    """No run with this id exists in the store."""

    def __init__(self, run_id: str, home: Path) -> None:
        super().__init__(f"no run '{run_id}' in {home}; `python -m mtl runs` lists them")
        self.run_id = run_id
        self.home = home


class IllegalTransitionError(StoreError):
    """A status change that the status model does not allow (e.g. ``finished → running``)."""

    def __init__(self, run_id: str, old: str, new: str) -> None:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (it is final)"
        super().__init__(
            f"run '{run_id}' cannot go from '{old}' to '{new}'; from '{old}' it can go to {allowed}"
        )
        self.run_id = run_id
        self.old = old
        self.new = new


def resolve_home(home: str | Path | None = None) -> Path:
    """Return the store's home folder: ``home``, else ``$MTL_HOME``, else ``./mtl-runs``.

    Args:
        home: an explicit folder (e.g. from ``--home``); ``None`` or ``""`` falls back.

    Returns:
        An absolute path (the folder is not created here).
    """
    if home is None or str(home) == "":
        home = os.environ.get(HOME_ENV_VAR) or DEFAULT_HOME
    return Path(home).expanduser().absolute()


# --------------------------------------------------------------------------- schema


def _migrate_to_v1(conn: sqlite3.Connection) -> None:
    """Version 1: the runs, metrics and weights tables."""
    conn.execute(
        """
        CREATE TABLE runs (
            id             TEXT PRIMARY KEY,
            name           TEXT NOT NULL,
            created_at     REAL NOT NULL,
            started_at     REAL,
            ended_at       REAL,
            status         TEXT NOT NULL,
            config         TEXT NOT NULL DEFAULT '{}',
            pid            INTEGER,
            heartbeat      REAL,
            error          TEXT,
            tags           TEXT NOT NULL DEFAULT '[]',
            notes          TEXT NOT NULL DEFAULT '',
            summary        TEXT,
            stop_requested INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    conn.execute("CREATE INDEX runs_by_status ON runs (status, created_at)")
    conn.execute(
        """
        CREATE TABLE metrics (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            step      INTEGER NOT NULL,
            epoch     REAL,
            wall_time REAL,
            task      TEXT NOT NULL,
            split     TEXT NOT NULL,
            metric    TEXT NOT NULL,
            value     REAL,
            reason    TEXT
        )
        """
    )
    conn.execute("CREATE INDEX metrics_by_run ON metrics (run_id, id)")
    conn.execute(
        """
        CREATE TABLE weights (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            step      INTEGER NOT NULL,
            epoch     REAL,
            wall_time REAL,
            task      TEXT NOT NULL,
            weight    REAL
        )
        """
    )
    conn.execute("CREATE INDEX weights_by_run ON weights (run_id, id)")


# MIGRATIONS[i] brings a store from schema version i to i + 1. Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_v1]
SCHEMA_VERSION = len(MIGRATIONS)


# --------------------------------------------------------------------------- helpers


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _opt_float(value: Any) -> float | None:
    """``None`` and NaN become ``None`` (stored as NULL); anything else a float."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _json_dumps(value: Any, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=True, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable; {exc}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")


def _check_tags(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        raise ValueError(f"tags must be a list of strings, found the string {tags!r}")
    out = list(tags)
    for tag in out:
        if not isinstance(tag, str):
            raise ValueError(f"tags must be strings, found {tag!r} ({type(tag).__name__})")
    return out


def _frame(rows: list[tuple], columns: tuple[str, ...], dtypes: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype(dtypes)


def _new_run_id(now: float) -> str:
    """A sortable, readable id: UTC creation time plus a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)


# --------------------------------------------------------------------------- the store


class RunStore:
    """Runs, statuses, metrics and loss weights of one home folder.

    Safe to use from several threads and processes at once: each thread gets its own
    SQLite connection (re-opened after a fork) and every write is one short transaction.

    Args:
        home: the home folder; ``None`` means ``$MTL_HOME`` or ``./mtl-runs``
            (:func:`resolve_home`). It is created if missing, readable by its owner only
            (``0o700``); a home owned by another user is refused.
        read_only: open the database without ever writing (``mode=ro``: no WAL setup,
            no migration). ``None`` (the default) does so when the store exists but its
            folder or file is not writable, e.g. on a read-only disk; writes then raise
            a one-line :class:`StoreError`.

    Raises:
        StoreError: the folder or database cannot be used (corrupt file, read-only
            location, full disk, a store written by a newer MTL Lab, a ``store.sqlite``
            that is a folder, or an empty one beside existing run folders).
    """

    def __init__(self, home: str | Path | None = None, *, read_only: bool | None = None) -> None:
        self.home: Path = resolve_home(home)
        self.db_path: Path = self.home / DB_NAME
        self._local = threading.local()
        self._leftovers: list[sqlite3.Connection] = []  # inherited across fork; never used
        self._check_home()
        self.read_only: bool = self._cannot_write() if read_only is None else read_only
        self._call(self._prepare)

    def _check_home(self) -> None:
        """Create the home (owner-only) or check the one there; refuse what cannot be a store."""
        where = f"choose another home with --home or ${HOME_ENV_VAR}"
        if not self.home.exists():
            try:
                self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
                self.home.chmod(0o700)  # mkdir's mode is filtered by the umask
            except OSError as exc:
                raise StoreError(
                    f"cannot create the store home {self.home} ({exc.strerror or exc}); make its "
                    f"parent writable or {where}"
                ) from None
        if not self.home.is_dir():
            raise StoreError(f"the store home {self.home} is a file, not a folder; {where}")
        owner = self.home.stat().st_uid
        if hasattr(os, "getuid") and owner != os.getuid():
            raise StoreError(
                f"the store home {self.home} belongs to another user (uid {owner}); "
                f"use a home of your own: {where}"
            )
        if self.db_path.is_dir():
            raise StoreError(
                f"{self.db_path} is a folder, not a store file; move it aside or {where}"
            )
        if self.db_path.exists() and self.db_path.stat().st_size == 0:
            runs = self.home / RUNS_DIR
            count = sum(1 for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else 0
            if count:
                raise StoreError(
                    f"{DB_NAME} is empty but {count} run folder{'s' if count != 1 else ''} exist "
                    f"in {runs}; the store file was lost: restore {self.db_path} from a backup, "
                    f"or move {runs} aside to start a fresh store"
                )

    def _cannot_write(self) -> bool:
        """Whether an existing store sits on a read-only disk or in a read-only folder."""
        if not self.db_path.exists():
            return False
        return not (os.access(self.home, os.W_OK) and os.access(self.db_path, os.W_OK))

    def __repr__(self) -> str:
        return f"RunStore({str(self.home)!r})"

    def __getstate__(self) -> dict[str, Any]:  # picklable for multiprocessing
        return {"home": self.home}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["home"])  # type: ignore[misc]

    # ------------------------------------------------------------------ connections

    def _connect(self) -> sqlite3.Connection:
        conn = (
            self._open_read_only()
            if self.read_only
            else sqlite3.connect(
                self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=True
            )
        )
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """A connection that never writes (``mode=ro``); ``immutable`` when even the WAL
        index cannot be created (a read-only disk holding a cleanly closed store)."""
        uri = self.db_path.as_uri()
        for query in ("?mode=ro", "?immutable=1"):
            conn = sqlite3.connect(
                uri + query,
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=True,
            )
            try:
                conn.execute("PRAGMA user_version").fetchone()
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                if "unable to open" not in str(exc).lower() or query == "?immutable=1":
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.pid != os.getpid():
            # Inherited through fork: an SQLite connection must not cross a fork, and
            # closing it here could disturb the parent's locks. Keep it, never use it.
            self._leftovers.append(conn)
            conn = None
        if conn is None:
            conn = self._connect()
            local.conn = conn
            local.pid = os.getpid()
        return conn

    def close(self) -> None:
        """Close this thread's connection (a later call opens a new one)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None

    def _call(self, op: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``op(conn)``, retrying while the database is locked, with clean errors."""
        deadline: float | None = None
        delay = 0.005
        while True:
            conn = self._conn()
            try:
                return op(conn)
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if _is_locked(exc):
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + LOCKED_RETRY_S
                    if now < deadline:
                        time.sleep(delay * (1 + random.random()))
                        delay = min(delay * 2, 0.25)
                        continue
                    raise StoreError(
                        f"the store at {self.db_path} stayed locked by another process for "
                        f"over {LOCKED_RETRY_S:.0f} s; check for a hung MTL Lab process and "
                        "try again"
                    ) from None
                translated = self._translate(exc)
                if translated is None:
                    raise
                raise translated from None
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise

    def _translate(self, exc: sqlite3.Error) -> StoreError | None:
        """A one-line StoreError for faults a user can fix; ``None`` for bugs."""
        text = str(exc).lower()
        where = f"choose another home with --home or ${HOME_ENV_VAR}"
        if "not a database" in text or "malformed" in text or "encrypted" in text:
            return StoreError(
                f"{self.db_path} is not a valid MTL Lab store (the file is corrupt or is not "
                f"an SQLite database); move it aside to start a fresh store, or {where}"
            )
        if "disk is full" in text or "database or disk is full" in text:
            return StoreFullError(
                f"cannot write to the store at {self.db_path}: the disk is full; free some "
                "space (e.g. `python -m mtl delete RUN` for old runs) and try again"
            )
        if (
            "readonly" in text
            or "read-only" in text
            or ("unable to open" in text and not os.access(self.home, os.W_OK))
        ):
            return StoreError(
                f"the store at {self.db_path} is read-only; make the file and its folder "
                f"{self.home} writable, or {where}"
            )
        if "unable to open" in text:
            return StoreError(
                f"cannot open the store at {self.db_path} ({exc}); check that the folder "
                f"exists and is accessible, or {where}"
            )
        if "disk i/o error" in text:
            return StoreError(
                f"the disk failed while using the store at {self.db_path} ({exc}); check "
                "the disk and its free space, then try again"
            )
        return None

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock up front (no upgrade deadlocks)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _prepare(self, conn: sqlite3.Connection) -> None:
        """WAL mode, then bring the schema up to date (or refuse a newer one).

        A read-only store is only checked: no journal-mode change, no migration.
        """
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        self._check_version(version)
        if self.read_only:
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.db_path} is read-only and was written by an older MTL "
                    f"Lab (schema version {version}); open it once with write access to upgrade it"
                )
            return
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        if version == SCHEMA_VERSION:
            return
        with self._transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # may have moved
            self._check_version(version)
            for migrate in MIGRATIONS[version:]:
                migrate(conn)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_version(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the store at {self.db_path} was created by a newer MTL Lab (schema "
                f"version {version}; this version reads up to {SCHEMA_VERSION}); upgrade "
                f"MTL Lab, or choose another home with --home or ${HOME_ENV_VAR}"
            )

    def _require(self, conn: sqlite3.Connection, run_id: str, columns: str = "status") -> tuple:
        row = conn.execute(f"SELECT {columns} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(run_id, self.home)
        return row

    # ------------------------------------------------------------------ runs

    def run_dir(self, run_id: str) -> Path:
        """The run's artifact folder ``<home>/runs/<run_id>/``, created if missing.

        Raises:
            RunNotFoundError: no such run.
        """
        self._call(lambda conn: self._require(conn, run_id))
        path = self.home / RUNS_DIR / run_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def create_run(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        status: str = RunStatus.QUEUED,
        tags: Iterable[str] = (),
        pid: int | None = None,
    ) -> str:
        """Record a new run and return its id (e.g. ``"20261129-130512-a1b2"``).

        Args:
            name: a human label (need not be unique).
            config: the run's complete config as JSON-serialisable data.
            status: ``"queued"`` (the launcher will start it) or ``"running"`` (the
                caller trains it right now, e.g. a foreground CLI run).
            tags: labels to filter and group runs by.
            pid: the training process, if already known.

        Returns:
            The id: UTC creation time plus a random suffix, unique even for runs created
            in the same second, and sortable by time.
        """
        if not isinstance(name, str):
            raise ValueError(f"name must be a string, found {name!r}")
        if not isinstance(config, Mapping):
            raise ValueError(f"config must be a mapping, found {type(config).__name__}")
        if status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            raise ValueError(f"a new run starts 'queued' or 'running', not {status!r}")
        config_json = _json_dumps(dict(config), "config")
        tags_json = json.dumps(_check_tags(tags))

        def op(conn: sqlite3.Connection) -> str:
            now = time.time()
            with self._transaction(conn):
                run_id = _new_run_id(now)
                while conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    run_id = _new_run_id(now)
                conn.execute(
                    "INSERT INTO runs (id, name, created_at, started_at, status, config, "
                    "pid, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        name,
                        now,
                        now if status == RunStatus.RUNNING else None,
                        status,
                        config_json,
                        pid,
                        tags_json,
                    ),
                )
            return run_id

        return self._call(op)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One run as a dict: every column, with config, tags and summary decoded.

        Raises:
            RunNotFoundError: no such run.
        """
        cols = (*RUN_COLUMNS, "config")
        row = self._call(lambda conn: self._require(conn, run_id, ", ".join(cols)))
        return self._decode(dict(zip(cols, row, strict=True)))

    @staticmethod
    def _decode(run: dict[str, Any]) -> dict[str, Any]:
        run["tags"] = json.loads(run["tags"]) if run["tags"] else []
        run["summary"] = json.loads(run["summary"]) if run["summary"] else None
        run["stop_requested"] = bool(run["stop_requested"])
        if "config" in run:
            run["config"] = json.loads(run["config"]) if run["config"] else {}
        return run

    def list_runs(
        self, status: str | Iterable[str] | None = None, *, with_config: bool = False
    ) -> pd.DataFrame:
        """All runs, newest first, one row each.

        Args:
            status: keep only runs with this status (or any of these statuses).
            with_config: add the decoded ``config`` column (large; off by default).

        Returns:
            Columns :data:`RUN_COLUMNS` (+ ``config``); times are unix seconds,
            ``tags`` lists, ``summary`` dicts or ``None``.
        """
        cols = RUN_COLUMNS + (("config",) if with_config else ())
        sql = f"SELECT {', '.join(cols)} FROM runs"
        params: list[str] = []
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            for one in wanted:
                _check_status(one)
            sql += f" WHERE status IN ({', '.join('?' * len(wanted))})"
            params = wanted
        sql += " ORDER BY created_at DESC, rowid DESC"
        rows = self._call(lambda conn: conn.execute(sql, params).fetchall())
        runs = [self._decode(dict(zip(cols, row, strict=True))) for row in rows]
        return pd.DataFrame(runs, columns=list(cols))

    def set_status(
        self,
        run_id: str,
        status: str,
        *,
        error: str | None = None,
        pid: int | None = None,
        summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Move a run to ``status`` (checked against :data:`TRANSITIONS`).

        Entering ``running`` sets ``started_at``; entering a terminal status sets
        ``ended_at``. ``error``, ``pid`` and ``summary`` are stored when given.

        Raises:
            RunNotFoundError: no such run.
            IllegalTransitionError: the status model forbids the change (e.g. a finished
                run cannot go back to running); the message names both statuses.
        """
        _check_status(status)
        summary_json = None if summary is None else _json_dumps(dict(summary), "summary")

        def op(conn: sqlite3.Connection) -> None:
            now = time.time()
            with self._transaction(conn):
                (old,) = self._require(conn, run_id)
                if status not in TRANSITIONS[old]:
                    raise IllegalTransitionError(run_id, old, status)
                conn.execute(
                    "UPDATE runs SET status = ?, "
                    "started_at = CASE WHEN ? THEN ? ELSE started_at END, "
                    "ended_at = CASE WHEN ? THEN ? ELSE ended_at END, "
                    "error = COALESCE(?, error), pid = COALESCE(?, pid), "
                    "summary = COALESCE(?, summary) WHERE id = ?",
                    (
                        status,
                        status == RunStatus.RUNNING,
                        now,
                        status in TERMINAL_STATUSES,
                        now,
                        error,
                        pid,
                        summary_json,
                        run_id,
                    ),
                )

        self._call(op)

    def set_pid(self, run_id: str, pid: int | None) -> None:
        """Record the process that trains the run (used to detect a dead worker)."""
        self._update(run_id, "pid = ?", (pid,))

    def heartbeat(self, run_id: str) -> None:
        """Record that the run's worker is alive now (see :meth:`mark_stale`)."""
        self._update(run_id, "heartbeat = ?", (time.time(),))

    def request_stop(self, run_id: str) -> str:
        """Ask a run to stop; a queued run is cancelled (``stopped``) at once.

        A running run sees :meth:`stop_requested` turn true and stops at its next step;
        a finished run is left as it is.

        Returns:
            The run's status after the request.
        """

        def op(conn: sqlite3.Connection) -> str:
            with self._transaction(conn):
                (status,) = self._require(conn, run_id)
                conn.execute("UPDATE runs SET stop_requested = 1 WHERE id = ?", (run_id,))
                if status == RunStatus.QUEUED:
                    conn.execute(
                        "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?",
                        (RunStatus.STOPPED, time.time(), run_id),
                    )
                    status = RunStatus.STOPPED
            return status

        return self._call(op)

    def stop_requested(self, run_id: str) -> bool:
        """Whether someone asked this run to stop."""
        (flag,) = self._call(lambda conn: self._require(conn, run_id, "stop_requested"))
        return bool(flag)

    def set_tags(self, run_id: str, tags: Iterable[str]) -> None:
        """Replace the run's tags."""
        self._update(run_id, "tags = ?", (json.dumps(_check_tags(tags)),))

    def set_notes(self, run_id: str, notes: str) -> None:
        """Replace the run's free-text notes."""
        if not isinstance(notes, str):
            raise ValueError(f"notes must be a string, found {type(notes).__name__}")
        self._update(run_id, "notes = ?", (notes,))

    def add_tags(self, run_id: str, tags: Iterable[str]) -> list[str]:
        """Add tags the run does not have yet (atomically: concurrent adds are all kept).

        Returns:
            The run's tags afterwards, in the order they were first added.
        """
        new = _check_tags(tags)
        return self._edit_tags(
            run_id, lambda old: old + [t for t in dict.fromkeys(new) if t not in old]
        )

    def remove_tags(self, run_id: str, tags: Iterable[str]) -> list[str]:
        """Remove these tags from the run (atomically); tags it does not have are ignored.

        Returns:
            The run's tags afterwards.
        """
        gone = set(_check_tags(tags))
        return self._edit_tags(run_id, lambda old: [t for t in old if t not in gone])

    def append_notes(self, run_id: str, text: str) -> str:
        """Append ``text`` to the run's notes as a new line (atomically).

        Returns:
            The run's notes afterwards.
        """
        if not isinstance(text, str):
            raise ValueError(f"notes must be a string, found {type(text).__name__}")

        def op(conn: sqlite3.Connection) -> str:
            with self._transaction(conn):
                (notes,) = self._require(conn, run_id, "notes")
                notes = f"{notes}\n{text}" if notes else text
                conn.execute("UPDATE runs SET notes = ? WHERE id = ?", (notes, run_id))
            return notes

        return self._call(op)

    def _edit_tags(self, run_id: str, edit: Callable[[list[str]], list[str]]) -> list[str]:
        """Read, change and write the run's tags in one write transaction (no lost update)."""

        def op(conn: sqlite3.Connection) -> list[str]:
            with self._transaction(conn):
                (raw,) = self._require(conn, run_id, "tags")
                tags = edit(json.loads(raw) if raw else [])
                conn.execute("UPDATE runs SET tags = ? WHERE id = ?", (json.dumps(tags), run_id))
            return tags

        return self._call(op)

    def _update(self, run_id: str, assignment: str, params: tuple) -> None:
        def op(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                cur = conn.execute(f"UPDATE runs SET {assignment} WHERE id = ?", (*params, run_id))
                if cur.rowcount == 0:
                    raise RunNotFoundError(run_id, self.home)

        self._call(op)

    def delete_run(self, run_id: str, *, force: bool = False) -> None:
        """Delete a run: its row, metrics, weights and artifact folder.

        Args:
            force: also delete a run that is ``running`` (normally stop it first).

        Raises:
            RunNotFoundError: no such run.
            StoreError: the run is running and ``force`` is false, or its folder could
                not be removed.
        """

        def op(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                (status,) = self._require(conn, run_id)
                if status == RunStatus.RUNNING and not force:
                    raise StoreError(
                        f"run '{run_id}' is running; stop it first with "
                        f"`python -m mtl stop {run_id}`"
                    )
                conn.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM weights WHERE run_id = ?", (run_id,))
                conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))

        self._call(op)
        folder = self.home / RUNS_DIR / run_id
        if _ID_RE.match(run_id) and folder.exists():
            try:
                shutil.rmtree(folder)
            except OSError as exc:
                raise StoreError(
                    f"run '{run_id}' was deleted from the store but its folder {folder} "
                    f"could not be removed ({exc.strerror or exc}); remove it by hand"
                ) from None

    # ------------------------------------------------------------------ scheduling

    def claim_next(self, max_running: int) -> str | None:
        """Start the oldest queued run if fewer than ``max_running`` runs are running.

        Atomic across processes (one ``BEGIN IMMEDIATE`` transaction): two launchers
        racing for the last slot cannot both win.

        Returns:
            The id of the run now ``running``, or ``None`` (no slot or nothing queued).
        """
        if max_running < 0:
            raise ValueError(f"max_running must be >= 0, found {max_running}")

        def op(conn: sqlite3.Connection) -> str | None:
            with self._transaction(conn):
                (running,) = conn.execute(
                    "SELECT COUNT(*) FROM runs WHERE status = ?", (RunStatus.RUNNING,)
                ).fetchone()
                if running >= max_running:
                    return None
                row = conn.execute(
                    "SELECT id FROM runs WHERE status = ? ORDER BY created_at, rowid LIMIT 1",
                    (RunStatus.QUEUED,),
                ).fetchone()
                if row is None:
                    return None
                conn.execute(
                    "UPDATE runs SET status = ?, started_at = ? WHERE id = ?",
                    (RunStatus.RUNNING, time.time(), row[0]),
                )
                return row[0]

        return self._call(op)

    def mark_stale(self, timeout_s: float) -> list[str]:
        """Mark running runs whose worker is gone as ``interrupted``.

        A running run is stale when its last heartbeat (or its start, before the first
        heartbeat) is older than ``timeout_s`` and its process is not alive on this
        machine (a zombie counts as dead). Because pids get reused, a run whose pid looks
        alive is also marked once its heartbeat is older than ``3 * timeout_s``.

        Returns:
            The ids of the runs just marked, with error :data:`STALE_MESSAGE`.
        """
        if timeout_s < 0:
            raise ValueError(f"timeout_s must be >= 0, found {timeout_s}")

        def op(conn: sqlite3.Connection) -> list[str]:
            marked: list[str] = []
            with self._transaction(conn):
                now = time.time()
                rows = conn.execute(
                    "SELECT id, pid, COALESCE(heartbeat, started_at, created_at) FROM runs "
                    "WHERE status = ?",
                    (RunStatus.RUNNING,),
                ).fetchall()
                for run_id, pid, last in rows:
                    age = now - last
                    if age <= timeout_s:
                        continue
                    if pid is not None and pid_alive(pid) and age <= 3 * timeout_s:
                        continue
                    conn.execute(
                        "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                        (RunStatus.INTERRUPTED, now, STALE_MESSAGE, run_id),
                    )
                    marked.append(run_id)
            return marked

        return self._call(op)

    # ------------------------------------------------------------------ metrics

    def add_metrics(
        self,
        run_id: str,
        rows: Iterable[tuple[Any, Any, Any, str, str, str, Any, str | None]],
    ) -> None:
        """Append metric rows in one transaction (all visible at once, or none).

        Args:
            run_id: the run.
            rows: tuples ``(step, epoch, wall_time, task, split, metric, value, reason)``.
                ``value`` ``None`` or NaN is stored as NULL; ``reason`` says why a value
                is undefined (e.g. "AUC needs both classes"). numpy scalars are fine.

        Raises:
            RunNotFoundError: no such run.
        """
        clean = [
            (
                run_id,
                int(step),
                _opt_float(epoch),
                _opt_float(wall_time),
                str(task),
                str(split),
                str(metric),
                _opt_float(value),
                None if reason is None else str(reason),
            )
            for step, epoch, wall_time, task, split, metric, value, reason in rows
        ]
        self._insert(
            run_id,
            "INSERT INTO metrics (run_id, step, epoch, wall_time, task, split, metric, value, "
            "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            clean,
        )

    def add_weights(self, run_id: str, rows: Iterable[tuple[Any, Any, Any, str, Any]]) -> None:
        """Append loss-weight rows ``(step, epoch, wall_time, task, weight)`` in one go."""
        clean = [
            (
                run_id,
                int(step),
                _opt_float(epoch),
                _opt_float(wall_time),
                str(task),
                _opt_float(weight),
            )
            for step, epoch, wall_time, task, weight in rows
        ]
        self._insert(
            run_id,
            "INSERT INTO weights (run_id, step, epoch, wall_time, task, weight) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            clean,
        )

    def _insert(self, run_id: str, sql: str, rows: list[tuple]) -> None:
        if not rows:
            self._call(lambda conn: self._require(conn, run_id))
            return

        def op(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                try:
                    conn.executemany(sql, rows)
                except sqlite3.IntegrityError:
                    raise RunNotFoundError(run_id, self.home) from None

        self._call(op)

    def metrics(self, run_id: str, after_id: int = 0) -> pd.DataFrame:
        """The run's metric rows with ``id > after_id``, oldest first.

        For live views: keep the largest ``id`` seen and pass it next time to get only
        the new rows. Rows of one write batch always arrive together.

        Returns:
            Columns :data:`METRIC_COLUMNS`; ``value`` is NaN where undefined, with the
            cause in ``reason``.

        Raises:
            RunNotFoundError: no such run.
        """
        return self._read(
            run_id,
            "SELECT id, step, epoch, wall_time, task, split, metric, value, reason "
            "FROM metrics WHERE run_id = ? AND id > ? ORDER BY id",
            after_id,
            METRIC_COLUMNS,
            _METRIC_DTYPES,
        )

    def weights(self, run_id: str, after_id: int = 0) -> pd.DataFrame:
        """The run's loss-weight rows with ``id > after_id`` (columns :data:`WEIGHT_COLUMNS`)."""
        return self._read(
            run_id,
            "SELECT id, step, epoch, wall_time, task, weight "
            "FROM weights WHERE run_id = ? AND id > ? ORDER BY id",
            after_id,
            WEIGHT_COLUMNS,
            _WEIGHT_DTYPES,
        )

    def _read(
        self,
        run_id: str,
        sql: str,
        after_id: int,
        columns: tuple[str, ...],
        dtypes: dict[str, str],
    ) -> pd.DataFrame:
        def op(conn: sqlite3.Connection) -> list[tuple]:
            rows = conn.execute(sql, (run_id, int(after_id))).fetchall()
            if not rows:
                self._require(conn, run_id)
            return rows

        return _frame(self._call(op), columns, dtypes)

    def extremes(self, split: str = "val") -> pd.DataFrame:
        """Per run, task and metric of one split: the lowest and highest value and the last
        epoch recorded, in one query over every run (the Compare page's "best" columns).

        Returns:
            Columns ``run_id, task, metric, min, max, last_epoch``.
        """
        sql = (
            "SELECT run_id, task, metric, MIN(value), MAX(value), MAX(epoch) FROM metrics "
            "WHERE split = ? AND value IS NOT NULL GROUP BY run_id, task, metric"
        )
        rows = self._call(lambda conn: conn.execute(sql, (split,)).fetchall())
        return pd.DataFrame(rows, columns=["run_id", "task", "metric", "min", "max", "last_epoch"])

    def export_csv(self, run_id: str, path: str | Path, *, raw: bool = False) -> Path:
        """Write the run's metrics in long form (one row per value) to a CSV file.

        Columns: ``run_id, step, epoch, wall_time, task, split, metric, value, reason``.
        Text cells that a spreadsheet would run as a formula get a leading ``'``
        (see :mod:`mtl.csv_safe`) unless ``raw``.

        Returns:
            The path written.
        """
        frame = self.metrics(run_id).drop(columns="id")
        frame.insert(0, "run_id", run_id)
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            to_csv(frame, path, raw=raw)
        except OSError as exc:
            raise StoreError(f"cannot write {path} ({exc.strerror or exc})") from None
        return path
