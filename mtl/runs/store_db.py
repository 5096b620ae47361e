"""The run store's database core: the home folder, one SQLite connection per thread, retries
while the database is locked, one-line errors for faults a user can fix, write transactions
and schema upgrades on open.

:class:`Database` is the base of :class:`mtl.runs.store.RunStore`; the run rows, tags and notes,
and metric rows are added by the mixins in ``store_runs``, ``store_notes`` and
``store_metrics``, which use only what this class offers (``_call``, ``_transaction``,
``_require``, ``_update``).
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from mtl.errors import StoreError, StoreFullError
from mtl.runs import store_schema

__all__ = [
    "BUSY_TIMEOUT_S",
    "DB_NAME",
    "DEFAULT_HOME",
    "HOME_ENV_VAR",
    "LOCKED_RETRY_S",
    "RUNS_DIR",
    "Database",
    "RunNotFoundError",
    "resolve_home",
]

HOME_ENV_VAR = "MTL_HOME"
DEFAULT_HOME = "mtl-runs"  # relative to the working directory
DB_NAME = "store.sqlite"
RUNS_DIR = "runs"

BUSY_TIMEOUT_S = 15.0  # how long one statement waits for a lock inside SQLite
LOCKED_RETRY_S = 60.0  # how long the store keeps retrying a locked database after that

_T = TypeVar("_T")


class RunNotFoundError(StoreError):
    """No run with this id exists in the store."""

    def __init__(self, run_id: str, home: Path) -> None:
        super().__init__(f"no run '{run_id}' in {home}; `python -m mtl runs` lists them")
        self.run_id = run_id
        self.home = home


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


def _is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """One home folder's SQLite database, safe to use from several threads and processes.

    Each thread gets its own connection (re-opened after a fork) and every write is one
    short ``BEGIN IMMEDIATE`` transaction; see :class:`mtl.runs.store.RunStore` for the
    arguments and the errors.
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
            if version < store_schema.SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.db_path} is read-only and was written by an older MTL "
                    f"Lab (schema version {version}); open it once with write access to upgrade it"
                )
            return
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        if version == store_schema.SCHEMA_VERSION:
            return
        with self._transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # may have moved
            self._check_version(version)
            for migrate in store_schema.MIGRATIONS[version:]:
                migrate(conn)
            conn.execute(f"PRAGMA user_version = {store_schema.SCHEMA_VERSION}")

    def _check_version(self, version: int) -> None:
        if version > store_schema.SCHEMA_VERSION:
            raise StoreError(
                f"the store at {self.db_path} was created by a newer MTL Lab (schema "
                f"version {version}; this version reads up to {store_schema.SCHEMA_VERSION}); upgrade "
                f"MTL Lab, or choose another home with --home or ${HOME_ENV_VAR}"
            )

    def _require(self, conn: sqlite3.Connection, run_id: str, columns: str = "status") -> tuple:
        row = conn.execute(f"SELECT {columns} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(run_id, self.home)
        return row

    def _update(self, run_id: str, assignment: str, params: tuple) -> None:
        def op(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                cur = conn.execute(f"UPDATE runs SET {assignment} WHERE id = ?", (*params, run_id))
                if cur.rowcount == 0:
                    raise RunNotFoundError(run_id, self.home)

        self._call(op)
