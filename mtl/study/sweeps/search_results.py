"""A search's results, read back from the store: one row per trial (its sampled settings, its
final validation objective values, whether it was pruned, the training steps it took), the
best trial of a single objective and the Pareto front (non-dominated trials) of several.
A trial trained on several seeds is one row with the mean and the standard deviation over its
runs; the best trial and the front are chosen on the means.

Pure pandas over the store's rows and the sweep's record; Optuna is not needed to read a
search (the hyperparameter importance its driver computed is in the record as JSON).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtl.metric_names import HEADLINE_METRICS
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore
from mtl.study.sweeps.records import get_sweep
from mtl.study.sweeps.results import metric_columns, metric_label, search_state, sweep_runs

__all__ = [
    "best_trial",
    "non_dominated",
    "objective_column",
    "objective_columns",
    "search_summary",
    "search_trials",
    "trial_table",
]


def objective_column(objective: str) -> str:
    """The column of an objective's final validation value: ``"val <task>/<metric>"``."""
    return f"val {objective}"


def objective_columns(trials: pd.DataFrame) -> list[str]:
    """The objective columns of :func:`search_trials`' frame, each followed by its spread
    (``"<column> std"``) when the trials have several seeds."""
    out = []
    for objective in trials.attrs.get("objectives", []):
        column = objective_column(objective)
        out += [column, f"{column} std"] if f"{column} std" in trials else [column]
    return out


def trial_table(
    trials: pd.DataFrame, settings: Sequence[str], *, tests: bool = True
) -> pd.DataFrame:
    """The columns a search's trials are shown with: ``trial``, ``status``, ``pruned``, the
    settings, ``runs`` (finished runs, with several seeds), the objective columns (with their
    spread, :func:`objective_columns`) and, if ``tests``, each task's headline test metric."""
    headline = [
        metric_label(task, HEADLINE_METRICS.get(kind or "", "loss"))
        for task, kind in trials.attrs.get("tasks", [])
    ]
    extra = [c for c in headline if c in trials] if tests else []
    runs = ["runs"] if "seeds" in trials and "ids" in trials else []
    columns = ["trial", "status", "pruned", *settings, *runs, *objective_columns(trials), *extra]
    return trials[columns]


def search_trials(store: RunStore, sweep_id: str) -> pd.DataFrame:
    """The search's trials, one row each in launch order.

    Returns:
        With one seed, :func:`~mtl.study.sweeps.results.sweep_runs`'s columns (id, name,
        status, error, the sampled settings, seed, the final test metrics) plus ``trial``
        (Optuna's number), ``pruned`` (stopped by the pruner), ``steps`` (training steps the
        run took: its summary's count, else its last metric row's step) and one
        :func:`objective_column` per objective (the run's final validation value; NaN
        unless it finished). With several seeds, one row per trial of its runs
        (:func:`_per_trial`): ``ids`` and ``seeds`` list them, each objective column is their
        mean, with ``"<column> std"`` beside it. ``frame.attrs`` holds ``objectives``,
        ``higher_is_better`` and ``seeds``.
    """
    record = get_sweep(store, sweep_id)
    search = record.get("search") or {}
    objectives: list[str] = list(search.get("objectives", []))
    frame = sweep_runs(store, sweep_id, delta=False)
    entries = {e["id"]: e for e in record.get("runs", [])}
    summaries = {
        row["id"]: row.get("summary") or {}
        for row in store.list_runs(with_config=True).to_dict("records")
    }
    frame.insert(0, "trial", [entries[i].get("trial") for i in frame["id"]])
    frame["pruned"] = [bool(entries[i].get("pruned")) for i in frame["id"]]
    frame["steps"] = [_steps(store, i, summaries.get(i)) for i in frame["id"]]
    for objective in objectives:
        task, _, metric = objective.rpartition("/")
        frame[objective_column(objective)] = [
            _value(summaries.get(i), task, metric) if status == RunStatus.FINISHED else np.nan
            for i, status in zip(frame["id"], frame["status"], strict=True)
        ]
    seeds = list(search.get("seeds") or [0])
    if len(seeds) > 1:
        tasks = frame.attrs.get("tasks", [])
        frame = _per_trial(frame, list(record.get("settings", [])), objectives)
        frame.attrs["tasks"] = tasks
    frame.attrs["objectives"] = objectives
    frame.attrs["higher_is_better"] = list(search.get("higher_is_better", []))
    frame.attrs["seeds"] = seeds
    return frame


_PENDING = (RunStatus.RUNNING, RunStatus.QUEUED)


def _per_trial(runs: pd.DataFrame, settings: list[str], objectives: list[str]) -> pd.DataFrame:
    """One row per trial of a search's runs (one per seed).

    ``status`` is the trial's: ``running`` or ``queued`` while a run is, else the first run's
    that did not finish, else ``finished``; ``runs`` counts its finished runs; ``pruned``:
    the pruner stopped it; ``steps``: the sum over its runs. Each objective column is the
    mean over the runs and ``"<column> std"`` their sample standard deviation (n − 1), both
    NaN unless every run finished with a value (the value the driver told Optuna); each test
    metric is the mean over the finished runs.
    """
    values = [objective_column(o) for o in objectives]
    tests = [c for c in metric_columns(runs) if c not in values]  # the final test metrics
    rows = []
    for trial, group in runs.groupby("trial", sort=False):
        statuses = list(group["status"])
        done = group[group["status"] == RunStatus.FINISHED]
        status = next((s for s in _PENDING if s in statuses), None) or next(
            (s for s in statuses if s != RunStatus.FINISHED), RunStatus.FINISHED
        )
        errors = dict.fromkeys(e for e in group["error"] if isinstance(e, str) and e)
        row: dict[str, Any] = {
            "trial": trial,
            "ids": list(group["id"]),
            "status": str(status),
            "error": "; ".join(errors) or None,
            **{key: group[key].iloc[0] for key in settings},
            "seeds": [int(seed) for seed in group["seed"]],
            "runs": len(done),
            "pruned": bool(group["pruned"].any()),
            "steps": group["steps"].sum(min_count=1),
        }
        for objective in objectives:
            column = objective_column(objective)
            values = group[column].astype("float64")
            complete = len(done) == len(group) and bool(values.notna().all())
            row[column] = values.mean() if complete else np.nan
            row[f"{column} std"] = values.std(ddof=1) if complete else np.nan
        for column in tests:
            row[column] = done[column].mean()
        rows.append(row)
    columns = ["trial", "ids", "status", "error", *settings, "seeds", "runs", "pruned", "steps"]
    columns += [c for o in objectives for c in (objective_column(o), f"{objective_column(o)} std")]
    return pd.DataFrame(rows, columns=[*columns, *tests])


def _value(summary: dict[str, Any] | None, task: str, metric: str) -> float:
    value = (((summary or {}).get("val") or {}).get(task) or {}).get(metric)
    return np.nan if value is None or not math.isfinite(float(value)) else float(value)


def _steps(store: RunStore, run_id: str, summary: dict[str, Any] | None) -> float:
    if summary and summary.get("steps") is not None:
        return float(summary["steps"])
    try:
        rows = store.metrics(run_id)
    except LookupError:  # deleted from the store
        return np.nan
    return float(rows["step"].max()) if len(rows) else 0.0


def best_trial(trials: pd.DataFrame, column: str, higher: bool) -> Any | None:
    """The index of the row with the best value in ``column`` (the first on a tie), or ``None``
    when no row has a value."""
    values = trials[column].astype("float64")
    if values.notna().sum() == 0:
        return None
    return values.idxmax() if higher else values.idxmin()


def non_dominated(frame: pd.DataFrame, columns: Sequence[str], higher: Sequence[bool]) -> pd.Series:
    """Which rows no other row dominates on ``columns`` (at least as good on every one and
    strictly better on one; "better" follows ``higher``). Rows with a missing value are never
    on the front and dominate nothing; equal rows are all kept."""
    signs = np.array([1.0 if h else -1.0 for h in higher])
    values = frame[list(columns)].to_numpy(dtype="float64") * signs  # (rows, objectives)
    valid = ~np.isnan(values).any(axis=1)
    ge = (values[None, :, :] >= values[:, None, :]).all(axis=2)  # [i, j]: j ≥ i everywhere
    gt = (values[None, :, :] > values[:, None, :]).any(axis=2)
    dominated = (ge & gt & valid[None, :]).any(axis=1)
    return pd.Series(valid & ~dominated, index=frame.index, name="pareto")


def search_summary(store: RunStore, sweep_id: str) -> dict[str, Any]:
    """Everything a search's report shows: ``state``, ``method``, ``objectives``,
    ``higher_is_better``, ``trials`` (:func:`search_trials`), ``best`` (the best trial's index
    for one objective, else ``None``), ``front`` (a boolean Series over ``trials`` for several
    objectives, else ``None``), ``importance`` and ``importance_note`` (from the record),
    ``pruned`` (how many trials the pruner stopped), ``pruned_runs`` (their runs the pruner
    stopped), ``steps`` (the training steps of all runs), ``seeds`` (each trial's) and
    ``skipped`` (sampled combinations the config refused: ``trial``, ``settings``,
    ``error``)."""
    record = get_sweep(store, sweep_id)
    search = record.get("search") or {}
    trials = search_trials(store, sweep_id)
    objectives = trials.attrs["objectives"]
    higher = trials.attrs["higher_is_better"]
    columns = [objective_column(o) for o in objectives]
    best = front = None
    if len(objectives) == 1:
        best = best_trial(trials, columns[0], higher[0])
    elif objectives:
        front = non_dominated(trials, columns, higher)
    found = search.get("importance") or {}
    return {
        "state": search_state(record),
        "error": search.get("error"),
        "method": search.get("method"),
        "pruning": search.get("pruning"),
        "objectives": objectives,
        "higher_is_better": higher,
        "trials": trials,
        "best": best,
        "front": front,
        "importance": found.get("values") or {},
        "importance_note": found.get("note"),
        "pruned": int(trials["pruned"].sum()),
        "pruned_runs": sum(bool(e.get("pruned")) for e in record.get("runs", [])),
        "steps": float(np.nansum(trials["steps"])),
        "seeds": trials.attrs["seeds"],
        "skipped": list(search.get("skipped", [])),
    }
