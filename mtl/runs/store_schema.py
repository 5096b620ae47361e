"""The run store's SQLite schema and its migrations.

``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` lists the functions that
bring a store from version ``i`` to ``i + 1``. :class:`mtl.runs.store_db.Database` runs them in
order, in one transaction, when a store is opened, and refuses a store written by a newer
MTL Lab.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

__all__ = ["MIGRATIONS", "SCHEMA_VERSION"]


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


def _migrate_to_v2(conn: sqlite3.Connection) -> None:
    """Version 2: lineage, the run a run was initialised from (``model.init_from``)."""
    conn.execute("ALTER TABLE runs ADD COLUMN parent TEXT")
    conn.execute(
        "UPDATE runs SET parent = json_extract(config, '$.model.init_from') "
        "WHERE json_valid(config)"
    )
    conn.execute("CREATE INDEX runs_by_parent ON runs (parent)")


# MIGRATIONS[i] brings a store from schema version i to i + 1. Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_to_v1, _migrate_to_v2]
SCHEMA_VERSION = len(MIGRATIONS)
