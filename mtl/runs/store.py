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
functions that bring a store from version ``i`` to ``i + 1``
(:mod:`mtl.runs.store_schema`). They run in order, in one transaction, when a store is opened.
A store written by a newer MTL Lab is refused.

The store is one class, :class:`RunStore`, written in five modules, one concept each:

- ``store_db``: the home folder, connections, retries, one-line errors, transactions;
- ``store_schema``: the tables and their migrations;
- ``store_runs``: run rows, statuses, pids and heartbeats, stop requests, claiming and
  marking dead runs;
- ``store_notes``: tags and notes;
- ``store_metrics``: metric and loss-weight rows, extremes, CSV export.

Callers import from here. These modules import only the standard library, numpy and pandas
(never torch), so the dashboard and the CLI can read runs without loading a training stack.
"""

from __future__ import annotations

from mtl.errors import StoreError, StoreFullError  # re-exported from here too
from mtl.runs.status import STATUSES, TERMINAL_STATUSES, TRANSITIONS  # statuses re-exported
from mtl.runs.store_db import (
    BUSY_TIMEOUT_S,
    DEFAULT_HOME,
    HOME_ENV_VAR,
    LOCKED_RETRY_S,
    RunNotFoundError,
    resolve_home,
)
from mtl.runs.store_metrics import METRIC_COLUMNS, WEIGHT_COLUMNS, MetricRecords
from mtl.runs.store_notes import Annotations
from mtl.runs.store_runs import RUN_COLUMNS, STALE_MESSAGE, IllegalTransitionError, RunRecords
from mtl.runs.store_schema import MIGRATIONS, SCHEMA_VERSION

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


class RunStore(RunRecords, Annotations, MetricRecords):
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
