"""What a run has reached so far, from the store's metric rows (pandas only): the best and
latest value of every metric, progress and time left, and the task-pair matrix.

The rows are those :mod:`mtl.viz.frames` reads (the store's metric columns).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mtl.metric_names import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS
from mtl.runs.status import ACTIVE, RunStatus
from mtl.viz.frames import check_columns, epoch_ends, latest_epoch_length, order_of_appearance

__all__ = ["BEST_COLUMNS", "best_and_latest", "eta_seconds", "pair_matrix", "progress"]

BEST_COLUMNS: tuple[str, ...] = (
    "task",
    "metric",
    "best",
    "best_epoch",
    "latest",
    "latest_epoch",
    "higher_is_better",
)
_METRIC_ORDER = ("loss", *CLASSIFICATION_METRICS, *REGRESSION_METRICS)


def best_and_latest(metrics: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Best and latest value of every (task, metric) on one split.

    The direction comes from :data:`mtl.metric_names.HIGHER_IS_BETTER` (max for accuracy,
    min for loss, ...). NaN values (undefined metrics) are never "best"; on a tie the
    earliest epoch wins. Metrics without a known direction get NaN as best.

    Args:
        metrics: the store's metric rows.
        split: ``"val"`` (default) or ``"train"``.

    Returns:
        Columns ``task, metric, best, best_epoch, latest, latest_epoch,
        higher_is_better``. Epochs are 1-based epochs done, as on the charts' epoch axis
        (the trainer's ``summary["best_epoch"]`` is 0-based: add 1 to compare).
        ``latest`` is the value at the latest epoch, NaN if undefined there. Rows are
        ordered by task (first appearance) then loss, classification, regression metrics.
    """
    check_columns(metrics, ("step", "epoch", "task", "split", "metric", "value"), "metrics")
    rows = metrics[(metrics["split"] == split) & metrics["epoch"].notna()]
    records: list[dict[str, Any]] = []
    task_rank = {t: i for i, t in enumerate(order_of_appearance(metrics["task"]))}
    for (task, name), group in rows.groupby(["task", "metric"], sort=False):
        group = group.sort_values(["epoch", "step"], kind="stable")
        epochs = group["epoch"].to_numpy(np.float64) + 1.0
        values = group["value"].to_numpy(np.float64)
        higher = HIGHER_IS_BETTER.get(str(name))
        best, best_epoch = math.nan, math.nan
        finite = np.isfinite(values)
        if higher is not None and finite.any():
            candidates = np.where(finite, values, -np.inf if higher else np.inf)
            i = int(np.argmax(candidates) if higher else np.argmin(candidates))
            best, best_epoch = float(values[i]), float(epochs[i])
        records.append(
            {
                "task": task,
                "metric": name,
                "best": best,
                "best_epoch": best_epoch,
                "latest": float(values[-1]),
                "latest_epoch": float(epochs[-1]),
                "higher_is_better": higher,
            }
        )
    out = pd.DataFrame.from_records(records, columns=list(BEST_COLUMNS))
    if len(out):
        metric_rank = {m: i for i, m in enumerate(_METRIC_ORDER)}
        out = out.assign(
            _t=out["task"].map(task_rank),
            _m=out["metric"].map(lambda m: metric_rank.get(m, len(metric_rank))),
        )
        out = out.sort_values(["_t", "_m", "metric"], kind="stable").drop(columns=["_t", "_m"])
    for column in ("best_epoch", "latest_epoch"):
        out[column] = out[column].astype("Int64")
    return out.reset_index(drop=True)


def progress(metrics: pd.DataFrame, run: Mapping[str, Any]) -> dict[str, Any]:
    """Where a run is: epochs, steps, elapsed time, an ETA and a fraction for a progress bar.

    Args:
        metrics: the run's metric rows.
        run: the run as :meth:`RunStore.get_run` returns it (``status`` and
            ``config["train"]["epochs"]`` are read; both may be missing).

    Returns:
        A dict:

        - ``epoch``: epochs finished (from the epoch-level rows).
        - ``epochs``: the total, ``config.train.epochs`` (``None`` if unknown).
        - ``steps``: steps done (the largest ``step`` seen).
        - ``steps_per_epoch``: from the finished epochs, ``None`` before the first ends.
        - ``elapsed_s``: training seconds so far (the largest ``wall_time`` seen; data
          loading is not counted).
        - ``eta_s``: seconds left (:func:`eta_seconds`); an upper bound when early stopping
          is on. ``None`` until an epoch has finished, and for stopped/failed runs; ``0.0``
          once finished.
        - ``fraction``: in ``[0, 1]``: epochs done plus the part of the current epoch
          (from steps) over the total; 1.0 for a finished run (also after early stopping).
    """
    status = run.get("status")
    config = run.get("config") or {}
    total = (config.get("train") or {}).get("epochs")
    total = int(total) if total else None
    if not len(metrics):
        return {
            "epoch": 0,
            "epochs": total,
            "steps": 0,
            "steps_per_epoch": None,
            "elapsed_s": 0.0,
            "eta_s": 0.0 if status == RunStatus.FINISHED else None,
            "fraction": 1.0 if status == RunStatus.FINISHED else 0.0,
        }
    ends = epoch_ends(metrics)
    done = max(ends) + 1 if ends else 0
    steps = int(metrics["step"].max())
    per_epoch_steps = latest_epoch_length(ends)
    wall = metrics["wall_time"].to_numpy(np.float64)
    elapsed = float(np.nanmax(wall)) if np.isfinite(wall).any() else 0.0
    eta: float | None = None
    if status == RunStatus.FINISHED:
        eta = 0.0
    elif (status in ACTIVE or status is None) and total is not None and done > 0:
        eta = _eta(metrics, done, total, elapsed)
    if status == RunStatus.FINISHED:
        fraction = 1.0
    elif not total:
        fraction = 0.0
    else:
        partial = 0.0
        if per_epoch_steps:
            start = ends[done - 1] if done > 0 else 0
            partial = min(max((steps - start) / per_epoch_steps, 0.0), 0.999)
        fraction = min(1.0, (done + partial) / total)
    return {
        "epoch": done,
        "epochs": total,
        "steps": steps,
        "steps_per_epoch": per_epoch_steps,
        "elapsed_s": elapsed,
        "eta_s": eta,
        "fraction": float(fraction),
    }


RECENT_EPOCHS = 3
"""Epochs whose wall time sets the ETA's pace (the most recent ones finished)."""


def _eta(metrics: pd.DataFrame, done: int, total: int, elapsed: float) -> float | None:
    rows = metrics[(metrics["split"] != "step") & metrics["epoch"].notna()]
    ends = rows.groupby(rows["epoch"].astype(np.int64))["wall_time"].max()
    return eta_seconds([float(ends.get(k, math.nan)) for k in range(done)], total, elapsed)


def eta_seconds(epoch_ends_s: Sequence[float], total: int, elapsed: float) -> float | None:
    """Seconds left, at the pace of the most recent finished epochs.

    An epoch's duration is the wall time between consecutive epoch ends, so it holds
    everything the epoch does (training steps, validation, metrics, callbacks). The first
    epoch also holds the start-up costs (first-use kernels, caches); it sets the pace only
    while it is the only one finished. The pace is the mean of the last
    :data:`RECENT_EPOCHS` durations, or the time the running epoch has taken so far when
    that is already longer (never optimistic about a slowdown under way).

    Args:
        epoch_ends_s: wall time (seconds since training started) at the end of each finished
            epoch, in order.
        total: the number of epochs the run will train.
        elapsed: wall time now (the latest row's ``wall_time``).

    Returns:
        Seconds left, at least 0; ``None`` when no epoch has finished or the times are unknown.
    """
    ends = [t for t in epoch_ends_s if math.isfinite(t)]
    if not ends or len(ends) != len(epoch_ends_s):
        return None
    durations = np.diff([0.0, *ends])
    recent = durations[1:] if len(durations) > 1 else durations
    pace = float(np.mean(recent[-RECENT_EPOCHS:]))
    running_for = max(0.0, elapsed - ends[-1])
    left = total - len(ends)
    if left <= 0:
        return 0.0
    pace = max(pace, running_for)
    return max(0.0, left * pace - running_for)


def pair_matrix(
    metrics: pd.DataFrame, metric: str, tasks: Sequence[str], split: str = "diag"
) -> pd.DataFrame:
    """The latest value of a task-pair metric as a task × task table (rows i, columns j).

    Pair rows name their tasks ``"i|j"``. ``cosine`` is symmetric (recorded once per
    unordered pair) and 1 on the diagonal; ``affinity`` and ``affinity_mean`` are
    ordered (i = the task stepped on, j = the task measured). Missing pairs are NaN.
    """
    matrix = pd.DataFrame(np.nan, index=list(tasks), columns=list(tasks))
    rows = metrics[
        (metrics["split"] == split)
        & (metrics["metric"] == metric)
        & metrics["task"].str.contains("|", regex=False)
    ]
    if rows.empty:
        return matrix
    latest = rows.sort_values("step").groupby("task", sort=False).tail(1)
    for pair, value in zip(latest["task"], latest["value"], strict=True):
        i, _, j = str(pair).partition("|")
        if i in matrix.index and j in matrix.columns:
            matrix.loc[i, j] = value
            if metric == "cosine":
                matrix.loc[j, i] = value
    if metric == "cosine":
        for task in tasks:
            matrix.loc[task, task] = 1.0
    return matrix
