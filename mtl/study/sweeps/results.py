"""A sweep's results: its runs read back from the store as one row each (settings, final test
metrics, Δm against the single-task baseline), progress counts, and pure pandas summaries:
:func:`aggregate` (mean ± std over seeds) and :func:`pareto_front` (non-dominated rows).

Δm (:mod:`mtl.study.delta`, :mod:`mtl.study.baseline`) fills the ``delta_m`` column for runs
whose matching ``independent`` baseline has finished. This module never imports torch (the
dashboard uses it).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtl.config import ExperimentConfig
from mtl.metric_names import HEADLINE_METRICS, HIGHER_IS_BETTER
from mtl.runs.processes import pid_alive
from mtl.runs.status import ACTIVE, RunStatus
from mtl.runs.store import STATUSES, TERMINAL_STATUSES, RunStore
from mtl.study.baseline import find_baselines
from mtl.study.delta import delta_m
from mtl.study.sweeps.records import get_sweep, read_records
from mtl.study.sweeps.spec import format_value

__all__ = [
    "DELTA_COLUMN",
    "HEADLINE_METRICS",
    "aggregate",
    "default_pareto_metrics",
    "delta_support",
    "higher_is_better",
    "is_done",
    "metric_columns",
    "metric_label",
    "pareto_front",
    "progress",
    "search_state",
    "sweep_runs",
    "sweeps",
]

DELTA_COLUMN = "delta_m"  # Δm in percent, NaN when unavailable


def sweeps(store: RunStore) -> pd.DataFrame:
    """Every recorded sweep, newest first.

    Returns:
        Columns ``id, name, created_at, runs, settings, seeds`` and one count column per
        status (:data:`mtl.runs.store.STATUSES`); ``settings`` is the list of swept keys and
        ``runs`` a search's trials (launched or not).
    """
    statuses = _statuses(store)
    rows = []
    for record in read_records(store):
        ids = [r["id"] for r in record.get("runs", [])]
        counts = _count(statuses, ids)
        planned = _planned(record)
        rows.append(
            {
                "id": record["id"],
                "name": record.get("name", ""),
                "created_at": record.get("created_at"),
                "runs": max(len(ids), planned),
                "settings": list(record.get("settings", [])),
                "seeds": list(record.get("spec", {}).get("seeds", [])),
                **counts,
            }
        )
    return pd.DataFrame(
        rows, columns=["id", "name", "created_at", "runs", "settings", "seeds", *STATUSES]
    )


def _statuses(store: RunStore) -> dict[str, str]:
    runs = store.list_runs()
    return dict(zip(runs["id"], runs["status"], strict=True))


def _count(statuses: Mapping[str, str], ids: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for run_id in ids:
        status = statuses.get(run_id)
        if status in counts:
            counts[status] += 1
    return counts


def progress(store: RunStore, sweep_id: str) -> dict[str, int]:
    """Counts of the sweep's grid runs by status (every status in
    :data:`mtl.runs.store.STATUSES`), plus ``total``, ``done`` (ended, any status),
    ``baselines`` (baseline runs recorded with the sweep) and ``baselines_pending``
    (those still queued or running).

    A run deleted from the store counts in ``total`` but in no status. For a search,
    ``total`` is the runs of the trials asked for (trials × seeds), ``pending`` those its
    driver has yet to launch and ``searching`` is 1 while the driver works (both 0 once it
    has ended: done, failed or gone).
    """
    record = get_sweep(store, sweep_id)
    ids = [r["id"] for r in record.get("runs", [])]
    statuses = _statuses(store)
    counts = _count(statuses, ids)
    counts["total"] = len(ids)
    counts["pending"] = counts["searching"] = 0
    if _driver(record):
        counts["total"] = max(len(ids), _planned(record))
        if search_state(record) == "running":
            counts["pending"] = counts["total"] - len(ids)
            counts["searching"] = 1
    counts["done"] = sum(counts[s] for s in TERMINAL_STATUSES)
    base = [b["id"] for b in record.get("baselines", [])]
    counts["baselines"] = len(base)
    counts["baselines_pending"] = sum(statuses.get(b) in ACTIVE for b in base)
    return counts


def is_done(counts: Mapping[str, int]) -> bool:
    """Whether no run of the sweep (nor a baseline it queued, nor a trial its search has yet to
    launch) is queued or running any more."""
    return not (
        any(counts.get(s, 0) for s in ACTIVE)
        or counts.get("baselines_pending", 0)
        or counts.get("pending", 0)
        or counts.get("searching", 0)
    )


DRIVER_START_S = 60.0
"""A search whose driver has not recorded its pid this long after launch is taken as gone."""


def _driver(record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The part of a record an Optuna driver keeps: a search's, or a verdict's TPE tuning."""
    return record.get("search") or record.get("tuning")


def _planned(record: Mapping[str, Any]) -> int:
    """The runs a search (or a verdict's TPE tuning) plans: its trials × its seeds."""
    driven = _driver(record) or {}
    return int(driven.get("trials", 0)) * len(driven.get("seeds") or [0])


def search_state(record: Mapping[str, Any]) -> str | None:
    """A search's (or a verdict's TPE tuning's) state: ``running``, ``done``, ``failed`` or
    ``interrupted`` (its driver process is gone without finishing); ``None`` without one."""
    search = _driver(record)
    if not search:
        return None
    state = str(search.get("state", "running"))
    if state != "running":
        return state
    pid = search.get("driver_pid")
    if pid is None:
        young = time.time() - float(record.get("created_at", 0)) < DRIVER_START_S
        return "running" if young else "interrupted"
    return "running" if pid_alive(int(pid)) else "interrupted"


def metric_label(task: str, metric: str) -> str:
    """The column of a task's final test metric in :func:`sweep_runs`: ``"<task>/<metric>"``."""
    return f"{task}/{metric}"


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The task-metric columns (``"<task>/<metric>"``) of a :func:`sweep_runs` frame, in order."""
    return [
        c
        for c in frame.columns
        if isinstance(c, str) and "/" in c and c.rsplit("/", 1)[1] in HIGHER_IS_BETTER
    ]


def higher_is_better(column: str) -> bool:
    """Whether bigger is better for a ``"<task>/<metric>"`` column (or :data:`DELTA_COLUMN`)."""
    if column == DELTA_COLUMN:
        return True
    metric = column.rsplit("/", 1)[-1].removesuffix(" mean")
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"{column!r} is not a task-metric column like 'label/accuracy'")
    return HIGHER_IS_BETTER[metric]


def sweep_runs(store: RunStore, sweep_id: str, *, delta: bool = True) -> pd.DataFrame:
    """The sweep's runs, one row each, in grid order.

    Returns:
        Columns ``id, name, status, error``, one column per swept setting (the dotted key,
        the value as given in the grid; lists and mappings as compact JSON text), ``seed``,
        one ``"<task>/<metric>"`` column per final test metric (NaN until the run
        finishes or where undefined), then ``baseline`` and ``delta_m`` (Δm in percent
        against that baseline run) when ``delta`` is true; both are empty where
        :func:`delta_support` reports Δm unavailable or no matching baseline exists.
        ``frame.attrs["tasks"]`` lists ``(task, kind)`` pairs in config order.
    """
    record = get_sweep(store, sweep_id)
    settings = list(record.get("settings", []))
    runs = store.list_runs(with_config=True)
    by_id = {row["id"]: row for row in runs.to_dict("records")}
    tasks = [(t["name"], t.get("kind")) for t in record.get("base_config", {}).get("tasks", [])]
    rows: list[dict[str, Any]] = []
    metric_order: list[str] = []
    for entry in record.get("runs", []):
        run = by_id.get(entry["id"])
        row: dict[str, Any] = {
            "id": entry["id"],
            "name": run["name"] if run else "",
            "status": run["status"] if run else "deleted",
            "error": run["error"] if run else "the run was deleted from the store",
        }
        for key in settings:
            value = entry.get("settings", {}).get(key)
            row[key] = format_value(value) if isinstance(value, list | dict) else value
        row["seed"] = entry.get("seed")
        test = ((run or {}).get("summary") or {}).get("test") or {}
        for task, values in test.items():
            for metric, value in values.items():
                if metric not in HIGHER_IS_BETTER:
                    continue
                column = metric_label(task, metric)
                if column not in metric_order:
                    metric_order.append(column)
                row[column] = np.nan if value is None else float(value)
        rows.append(row)
    order = sorted(metric_order, key=lambda c: _task_index(c, tasks))
    frame = pd.DataFrame(rows, columns=["id", "name", "status", "error", *settings, "seed", *order])
    frame[order] = frame[order].astype("float64")
    if delta:
        _add_delta(store, frame, by_id)
    frame.attrs["tasks"] = tasks
    return frame


def _task_index(column: str, tasks: Sequence[tuple[str, Any]]) -> int:
    names = [t for t, _ in tasks]
    task = column.rsplit("/", 1)[0]
    return names.index(task) if task in names else len(names)


# --------------------------------------------------------------------------- Δm


def delta_support() -> str | None:
    """``None`` when Δm can be computed, else the reason it cannot (a missing module)."""
    for module, attrs in (
        ("mtl.study.delta", ("delta_m",)),
        ("mtl.study.baseline", ("find_baselines", "ensure_baseline")),
    ):
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            return f"Δm needs {module}, which this version does not have"
        missing = [a for a in attrs if not callable(getattr(loaded, a, None))]
        if missing:
            return f"Δm needs {module}.{missing[0]}, which this version does not have"
    return None


def _add_delta(
    store: RunStore, frame: pd.DataFrame, by_id: Mapping[str, Mapping[str, Any]]
) -> None:
    """Fill ``baseline`` and ``delta_m`` for finished runs that have a finished baseline."""
    frame["baseline"] = pd.Series([None] * len(frame), index=frame.index, dtype="object")
    frame[DELTA_COLUMN] = np.nan
    if delta_support() is not None:
        return

    todo: list[tuple[Any, Mapping[str, Any], ExperimentConfig]] = []
    for index, run_id in frame["id"].items():
        run = by_id.get(run_id)
        if not run or run["status"] != RunStatus.FINISHED:
            continue
        try:
            todo.append((index, run, ExperimentConfig.from_dict(run["config"])))
        except ValueError:
            continue  # a config this version no longer accepts: no baseline can match
    if not todo:
        return
    found = find_baselines(store, [config for _, _, config in todo])
    for (index, run, config), baseline_id in zip(todo, found, strict=True):
        baseline = by_id.get(baseline_id) if baseline_id else None
        if baseline is None:
            continue
        mine = (run.get("summary") or {}).get("test") or {}
        theirs = (baseline.get("summary") or {}).get("test") or {}
        result = delta_m(mine, theirs, kinds={t.name: t.kind for t in config.tasks})
        frame.at[index, "baseline"] = baseline_id
        frame.at[index, DELTA_COLUMN] = np.nan if result.value is None else float(result.value)


# --------------------------------------------------------------------------- aggregation


def aggregate(runs: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every metric, per setting combination.

    Only ``finished`` runs count when the frame has a ``status`` column. The standard
    deviation is the sample one (``ddof=1``), NaN for a single seed; NaN metric values
    (undefined, e.g. AUC with one class) are skipped.

    Args:
        runs: one row per run, e.g. from :func:`sweep_runs`.
        settings: the columns that define a setting (the swept keys).

    Returns:
        One row per setting combination (in order of first appearance): the setting
        columns, ``runs`` (how many finished runs were averaged), then ``"<metric> mean"``
        and ``"<metric> std"`` for each task-metric column (and ``delta_m`` if present).

    Raises:
        ValueError: a setting is not a column of ``runs``.
    """
    settings = list(settings)
    missing = [s for s in settings if s not in runs.columns]
    if missing:
        raise ValueError(
            f"aggregate: {missing} are not columns of the runs; columns: {list(runs.columns)}"
        )
    values = metric_columns(runs) + ([DELTA_COLUMN] if DELTA_COLUMN in runs.columns else [])
    done = runs[runs["status"] == RunStatus.FINISHED] if "status" in runs.columns else runs
    columns = [*settings, "runs"] + [f"{v} {stat}" for v in values for stat in ("mean", "std")]
    if done.empty:
        return pd.DataFrame(columns=columns)
    keys = settings or [done.index.map(lambda _: 0)]  # no setting: one group of all runs
    grouped = done.groupby(keys, sort=False, dropna=False)
    out = pd.DataFrame({"runs": grouped.size()})
    if values:
        stats = grouped[values].agg(["mean", "std"])
        stats.columns = [f"{v} {stat}" for v, stat in stats.columns]
        out = out.join(stats)
    out = out.reset_index(drop=not settings)
    return out[columns].reset_index(drop=True)


def pareto_front(
    frame: pd.DataFrame,
    metric_a: str,
    metric_b: str,
    higher_a: bool = True,
    higher_b: bool = True,
) -> pd.Series:
    """Which rows are Pareto-optimal (non-dominated) on two metrics.

    A row is dominated when another row is at least as good on both metrics and strictly
    better on one. Rows with a missing value in either metric are never on the front and
    dominate nothing; equal rows do not dominate each other.

    Args:
        frame: one row per run or per setting (e.g. :func:`aggregate`'s ``… mean`` columns).
        metric_a, metric_b: the two columns.
        higher_a, higher_b: whether bigger is better for each.

    Returns:
        A boolean Series on ``frame``'s index, True on the front.

    Raises:
        ValueError: a column is missing.
    """
    for column in (metric_a, metric_b):
        if column not in frame.columns:
            raise ValueError(
                f"pareto_front: {column!r} is not a column; columns: {list(frame.columns)}"
            )
    a = frame[metric_a].to_numpy(dtype="float64") * (1.0 if higher_a else -1.0)
    b = frame[metric_b].to_numpy(dtype="float64") * (1.0 if higher_b else -1.0)
    valid = ~(np.isnan(a) | np.isnan(b))
    # dominated[i, j]: row j dominates row i (oriented so bigger is better on both)
    ge = (a[None, :] >= a[:, None]) & (b[None, :] >= b[:, None])
    gt = (a[None, :] > a[:, None]) | (b[None, :] > b[:, None])
    dominated = (ge & gt & valid[None, :]).any(axis=1)
    return pd.Series(valid & ~dominated, index=frame.index, name="pareto")


def default_pareto_metrics(frame: pd.DataFrame) -> tuple[str, str] | None:
    """The two metric columns for a default Pareto view: the headline metric
    (:data:`HEADLINE_METRICS`) of the first two tasks, or of one task and its next metric.

    ``frame`` is a :func:`sweep_runs` frame (uses ``attrs["tasks"]`` for the task kinds
    when present). ``None`` when fewer than two metric columns exist.
    """
    columns = metric_columns(frame)
    if len(columns) < 2:
        return None
    tasks: list[str] = list(dict.fromkeys(c.rsplit("/", 1)[0] for c in columns))
    kinds = dict(frame.attrs.get("tasks", []))
    chosen: list[str] = []
    for task in tasks[:2]:
        mine = [c for c in columns if c.rsplit("/", 1)[0] == task]
        headline = metric_label(task, HEADLINE_METRICS.get(kinds.get(task) or "", ""))
        if headline not in mine:
            headline = next((c for c in mine if not c.endswith("/loss")), mine[0])
        chosen.append(headline)
    if len(chosen) < 2:
        rest = [c for c in columns if c != chosen[0] and not c.endswith("/loss")] or [
            c for c in columns if c != chosen[0]
        ]
        chosen.append(rest[0])
    return chosen[0], chosen[1]
