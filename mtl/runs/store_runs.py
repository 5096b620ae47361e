"""The run rows of the store: create, read, list and delete runs, move them between statuses
(checked against :data:`mtl.runs.status.TRANSITIONS`), pids and heartbeats, stop requests,
and the two scheduling queries (claim the next queued run, mark dead ones ``interrupted``).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mtl.errors import StoreError
from mtl.runs.processes import pid_alive
from mtl.runs.status import STATUSES, TERMINAL_STATUSES, TRANSITIONS, RunStatus
from mtl.runs.store_db import RUNS_DIR, Database
from mtl.runs.store_notes import check_tags

__all__ = ["RUN_COLUMNS", "STALE_MESSAGE", "IllegalTransitionError", "RunRecords"]

STALE_MESSAGE = "the worker stopped sending heartbeats (process died?)"

ALIVE_GRACE_FLOOR_S = 30.0
"""A run whose pid is alive is marked stale only after ``max(3 * timeout, this)`` seconds
without a heartbeat: a worker still importing torch on a saturated machine can take several
seconds before its first beat, and a short timeout must not end a live run."""

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
    "parent",
)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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


def _new_run_id(now: float) -> str:
    """A sortable, readable id: UTC creation time plus a random suffix."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)


class RunRecords(Database):
    """The run rows of :class:`mtl.runs.store.RunStore` (a mixin over :class:`Database`)."""

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
        model = config.get("model")
        parent = model.get("init_from") if isinstance(model, Mapping) else None
        tags_json = json.dumps(check_tags(tags))

        def op(conn: sqlite3.Connection) -> str:
            now = time.time()
            with self._transaction(conn):
                run_id = _new_run_id(now)
                while conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                    run_id = _new_run_id(now)
                conn.execute(
                    "INSERT INTO runs (id, name, created_at, started_at, status, config, "
                    "pid, tags, parent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        name,
                        now,
                        now if status == RunStatus.RUNNING else None,
                        status,
                        config_json,
                        pid,
                        tags_json,
                        parent if isinstance(parent, str) else None,
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
        alive is also marked once its heartbeat is older than ``3 * timeout_s`` (and at
        least :data:`ALIVE_GRACE_FLOOR_S`).

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
                    alive_grace = max(3 * timeout_s, ALIVE_GRACE_FLOOR_S)
                    if pid is not None and pid_alive(pid) and age <= alive_grace:
                        continue
                    conn.execute(
                        "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                        (RunStatus.INTERRUPTED, now, STALE_MESSAGE, run_id),
                    )
                    marked.append(run_id)
            return marked

        return self._call(op)
