"""The Compare page's table: one row per run with its settings and per-task results.

Headers are the shared labels of :mod:`mtl.viz.labels`. Only what matters is shown by
default (:func:`default_columns`): the run, its dataset, status, age, tags and notes, each
task's headline test metric; the settings and the best validation values are extra
columns the page lets the user add.
"""

from __future__ import annotations

import time

import pandas as pd

from mtl.metric_names import HEADLINE_METRICS, HIGHER_IS_BETTER
from mtl.viz.labels import dataset_label, label, metric_label

SETTINGS = {
    "sharing": ("model", "sharing"),
    "weighting": ("loss", "weighting"),
    "hidden": ("model", "hidden"),
    "epochs": ("train", "epochs"),
    "batch": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "optimizer": ("train", "optimizer"),
    "seed": ("train", "seed"),
}
"""Config values shown as columns (header: :func:`mtl.viz.labels.label` of the key)."""

FIRST = [label(c) for c in ("name", "dataset", "status", "created")]
PARENT = label("parent")
LAST = [label(c) for c in ("tags", "notes")]
ID = label("id")
TEST_SUFFIX = " (test)"
BEST_SUFFIX = " (best val)"


def _when(stamp: float | None) -> str:
    if stamp is None or pd.isna(stamp):
        return ""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(float(stamp)))


def runs_table(runs: pd.DataFrame, extremes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Flatten runs (``RunStore.list_runs(with_config=True)``) into one row each.

    Args:
        runs: the store's runs with their config.
        extremes: :meth:`RunStore.extremes` of the validation split, for the
            ``<task> · <metric> (best val)`` columns (best over epochs, by the metric's
            direction); ``None`` leaves them empty (one store query fewer).

    Returns:
        Columns, by their labels: run id, run, dataset, status, created, lineage, tags,
        notes, one ``<task> · <metric> (test)`` column per task (its headline metric, from
        the run's summary), then the settings, tasks, duration and best values. Cells
        without a value are ``None``.
    """
    best = {}
    if extremes is not None and not extremes.empty:
        for row in extremes.itertuples(index=False):
            best[(row.run_id, row.task, row.metric)] = (
                row.max if HIGHER_IS_BETTER.get(row.metric) else row.min
            )
    rows, results, extra = [], [], []
    names = dict(zip(runs["id"], runs["name"], strict=True)) if "id" in runs else {}
    for run in runs.itertuples(index=False):
        config = run.config or {}
        parent = getattr(run, "parent", None)
        row = {
            ID: run.id,
            label("name"): run.name,
            label("dataset"): dataset_label(config.get("data") or {}),
            label("status"): run.status,
            label("created"): _when(run.created_at),
            label("tags"): ", ".join(run.tags or []),
            label("notes"): run.notes or "",
            PARENT: lineage_text(parent, names.get(parent)) if isinstance(parent, str) else None,
        }
        for column, (section, key) in SETTINGS.items():
            value = config.get(section, {}).get(key)
            row[label(column)] = ", ".join(map(str, value)) if isinstance(value, list) else value
        tasks = config.get("tasks", [])
        row[label("tasks")] = ", ".join(t["name"] for t in tasks)
        ended = run.ended_at if pd.notna(run.ended_at) else None
        started = run.started_at if pd.notna(run.started_at) else None
        row[label("duration (s)")] = round(ended - started, 1) if ended and started else None
        test = (run.summary or {}).get("test") or {}
        for task in tasks:
            metric = HEADLINE_METRICS.get(task.get("kind") or "", "loss")
            head = f"{task['name']} · {metric_label(metric)}"
            row[head + TEST_SUFFIX] = (test.get(task["name"]) or {}).get(metric)
            results.append(head + TEST_SUFFIX)
            row[head + BEST_SUFFIX] = best.get((run.id, task["name"], metric))
            extra.append(head + BEST_SUFFIX)
        rows.append(row)
    settings = [label(c) for c in SETTINGS] + [label("tasks"), label("duration (s)")]
    order = [ID, *FIRST, PARENT, *LAST, *dict.fromkeys(results), *settings]
    order += list(dict.fromkeys(extra))
    return pd.DataFrame(rows, columns=order)


def results_columns(table: pd.DataFrame) -> list[str]:
    """The ``<task> · <metric> (test)`` columns, in table order."""
    return [c for c in table.columns if c.endswith(TEST_SUFFIX)]


def default_columns(table: pd.DataFrame) -> list[str]:
    """The columns shown unless the user picks others: run, dataset, status, created, tags
    and notes (and lineage, when a run has one), then each task's test headline metric.

    Tags and notes come before the results: runs of different datasets give one results
    column per task, most of them empty for a given run, and the editable columns must stay
    on screen however many there are.
    """
    lineage = [PARENT] if PARENT in table and table[PARENT].notna().any() else []
    return [*FIRST, *lineage, *LAST, *results_columns(table)]


def lineage_text(parent_id: str, parent_name: str | None) -> str:
    """How a run's source is written: ``<name> (<run id>)``, or the id of a deleted run."""
    return f"{parent_name} ({parent_id})" if parent_name is not None else f"{parent_id} (deleted)"


def optional_columns(table: pd.DataFrame) -> list[str]:
    """The columns a user may add: settings, tasks, duration, best validation values."""
    shown = {ID, *default_columns(table)}
    return [c for c in table.columns if c not in shown]
