"""The Compare page's table: one row per run with its settings and per-task results."""

from __future__ import annotations

import pandas as pd

from mtl.sweep import HEADLINE_METRICS
from mtl.train.metrics import HIGHER_IS_BETTER

SETTINGS = {
    "dataset": ("data", "dataset"),
    "sharing": ("model", "sharing"),
    "weighting": ("loss", "weighting"),
    "hidden": ("model", "hidden"),
    "epochs": ("train", "epochs"),
    "batch": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "optimizer": ("train", "optimizer"),
    "seed": ("train", "seed"),
}


def runs_table(runs: pd.DataFrame, extremes: pd.DataFrame) -> pd.DataFrame:
    """Flatten runs (``RunStore.list_runs(with_config=True)``) into one row each.

    Columns: id, name, status, settings, tasks, duration, tags, notes, and per task
    ``<task> best val <metric>`` (best over epochs, by the metric's direction) and
    ``<task> test <metric>`` (final, from the run's summary) for its headline metric.
    """
    rows = []
    for run in runs.itertuples(index=False):
        config = run.config or {}
        row = {"id": run.id, "name": run.name, "status": run.status}
        for column, (section, key) in SETTINGS.items():
            value = config.get(section, {}).get(key)
            row[column] = ", ".join(map(str, value)) if isinstance(value, list) else value
        tasks = config.get("tasks", [])
        row["tasks"] = ", ".join(t["name"] for t in tasks)
        ended = run.ended_at if pd.notna(run.ended_at) else None
        row["duration (s)"] = round(ended - run.started_at, 1) if ended and pd.notna(run.started_at) else None
        row["tags"] = ", ".join(run.tags or [])
        row["notes"] = run.notes or ""
        summary = run.summary or {}
        mine = extremes[extremes["run_id"] == run.id]
        for task in tasks:
            metric = HEADLINE_METRICS.get(task.get("kind") or "", "loss")
            hit = mine[(mine["task"] == task["name"]) & (mine["metric"] == metric)]
            if not hit.empty:
                row[f"{task['name']} best val {metric}"] = float(
                    hit["max"].iloc[0] if HIGHER_IS_BETTER.get(metric, False) else hit["min"].iloc[0]
                )
            test = (summary.get("test") or {}).get(task["name"], {}).get(metric)
            row[f"{task['name']} test {metric}"] = test
        rows.append(row)
    return pd.DataFrame(rows)
