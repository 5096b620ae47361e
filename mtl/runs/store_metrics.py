"""Metric and loss-weight rows of the store's runs: append in batches (all visible at once),
read everything after a row id (for live views), per-run extremes, and CSV export."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from mtl.csv_safe import to_csv
from mtl.runs.output_file import check_output_path, write_output
from mtl.runs.store_db import Database, RunNotFoundError

__all__ = ["METRIC_COLUMNS", "WEIGHT_COLUMNS", "MetricRecords"]

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


def _opt_float(value: Any) -> float | None:
    """``None`` and NaN become ``None`` (stored as NULL); anything else a float."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _where(run_id: str, step: Any, epoch: Any, wall_time: Any, task: Any) -> tuple:
    """The columns every metric and weight row starts with, cleaned for SQLite."""
    return (run_id, int(step), _opt_float(epoch), _opt_float(wall_time), str(task))


def _frame(rows: list[tuple], columns: tuple[str, ...], dtypes: dict[str, str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return frame.astype(dtypes)


class MetricRecords(Database):
    """Metric and loss-weight rows of :class:`mtl.runs.store.RunStore` (a mixin over
    :class:`Database`)."""

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
                *_where(run_id, step, epoch, wall_time, task),
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
            (*_where(run_id, step, epoch, wall_time, task), _opt_float(weight))
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

        The file is written whole (a temporary file, then a rename); an existing file is
        replaced, the folder must exist, and a path inside this store's home is refused.

        Returns:
            The path written.

        Raises:
            OutputPathError: the path is refused or cannot be written (one line).
        """
        label = "the export file"
        target = check_output_path(
            path, [self.home], force=True, label=label, example="metrics.csv"
        )
        frame = self.metrics(run_id).drop(columns="id")
        frame.insert(0, "run_id", run_id)
        return write_output(target, lambda tmp: to_csv(frame, tmp, raw=raw), label=label)
