"""Chart-ready frames from the run store's metric and weight rows (pandas only).

Input frames have the store's columns (:data:`mtl.runs.store.METRIC_COLUMNS` and
:data:`~mtl.runs.store.WEIGHT_COLUMNS`). What the recorder writes:

- split ``"step"``: metric ``"loss"`` per task, the mean over the last ``train.log_every``
  steps, plus task ``"*"`` metric ``"lr"``. ``step`` counts the steps done so far and
  ``epoch`` is the 0-based epoch the step belongs to.
- splits ``"train"`` and ``"val"``: at each epoch end, ``"loss"`` and the task's metrics;
  ``step`` is the number of steps done at that epoch end. ``value`` is NaN where the
  metric is undefined (the reason is in ``reason``).
- ``wall_time`` is seconds since training started (data loading excluded).

The x axes:

- ``"step"``: the ``step`` column (steps done).
- ``"epoch"``: epochs *done*, so the row of (0-based) epoch ``k`` sits at ``k + 1`` ("after
  epoch k + 1", 1-based). A step row of epoch ``k`` sits at the fraction of that epoch
  done: ``k + (step - S[k-1]) / (S[k] - S[k-1])``, where ``S[k]`` is the step count at the
  end of epoch ``k`` read from the epoch rows (``S[-1] = 0``). The last step of an epoch
  therefore lands exactly on that epoch's train/val points. For the epoch still running,
  ``S[k] - S[k-1]`` is the length of the latest finished epoch (epochs have a constant
  number of steps), else ``steps_per_epoch`` if given, else the steps logged so far in
  that epoch (the points then spread over ``[k, k + 1]`` and settle once the epoch ends).
- ``"wall_time"``: seconds since training started.

Smoothing is TensorBoard's debiased exponential moving average (:func:`ema`), applied per
(task, split) series in x order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "CURVE_COLUMNS",
    "CurveFeed",
    "SPLIT_ORDER",
    "X_AXES",
    "XAxis",
    "curve_frame",
    "check_columns",
    "default_splits",
    "ema",
    "epoch_ends",
    "latest_epoch_length",
    "order_of_appearance",
    "weight_frame",
]

XAxis = Literal["step", "epoch", "wall_time"]
X_AXES: tuple[str, ...] = ("step", "epoch", "wall_time")
SPLIT_ORDER: tuple[str, ...] = ("step", "train", "val")
"""Splits in the order series are listed (and drawn)."""

CURVE_COLUMNS: tuple[str, ...] = ("x", "task", "split", "metric", "value", "smoothed")
WEIGHT_FRAME_COLUMNS: tuple[str, ...] = ("x", "task", "weight")


# --------------------------------------------------------------------------- smoothing


def ema(values: np.ndarray | Sequence[float], weight: float) -> np.ndarray:
    """TensorBoard's debiased exponential moving average.

    ``last = weight * last + (1 - weight) * v`` over the finite values, each divided by
    ``1 - weight ** n`` (``n`` = finite values seen so far) so the start is not pulled
    towards zero. A NaN or infinite value stays as it is in the output and is skipped (it
    does not spread to later points). A constant series is returned unchanged, as
    TensorBoard does.

    Args:
        values: the raw series, in x order.
        weight: smoothing in ``[0, 1)``; 0 returns the raw values.

    Returns:
        A float array of the same length.

    Raises:
        ValueError: if ``weight`` is outside ``[0, 1)``.
    """
    if not 0.0 <= weight < 1.0 or math.isnan(weight):
        raise ValueError(f"smoothing weight must be in [0, 1), found {weight!r}")
    raw = np.asarray(values, dtype=np.float64)
    out = raw.copy()
    finite = np.isfinite(raw)
    if weight == 0.0 or not finite.any():
        return out
    if np.all(raw[finite] == raw[finite][0]) and finite.all():
        return out
    last = 0.0
    for count, i in enumerate(np.flatnonzero(finite), start=1):
        last = weight * last + (1.0 - weight) * raw[i]
        out[i] = last / (1.0 - weight**count)
    return out


# --------------------------------------------------------------------------- x axes


def epoch_ends(metrics: pd.DataFrame) -> dict[int, int]:
    """0-based epoch → step count at its end, read from the epoch-level (non-``step``) rows."""
    rows = metrics[(metrics["split"] != "step") & metrics["epoch"].notna()]
    if rows.empty:
        return {}
    ends = rows.groupby(rows["epoch"].astype(np.int64))["step"].max()
    return {int(k): int(v) for k, v in ends.items()}


def latest_epoch_length(ends: Mapping[int, int]) -> int | None:
    """Steps in the latest finished epoch (from :func:`epoch_ends`), ``None`` before one ends."""
    for k in sorted(ends, reverse=True):
        start = 0 if k == 0 else ends.get(k - 1)
        if start is not None and ends[k] > start:
            return ends[k] - start
    return None


def _fractional_epochs(
    steps: pd.Series, epochs: pd.Series, ends: Mapping[int, int], steps_per_epoch: int | None
) -> np.ndarray:
    """Epochs done at each step row (see the module docstring)."""
    known = latest_epoch_length(ends) or steps_per_epoch
    epoch_ids = epochs.to_numpy(dtype=np.float64)
    step_values = steps.to_numpy(dtype=np.float64)
    out = np.full(len(step_values), np.nan)
    for k in np.unique(epoch_ids[np.isfinite(epoch_ids)]):
        k = int(k)
        here = epoch_ids == k
        if k == 0:
            start: float | None = 0.0
        else:
            start = float(ends[k - 1]) if (k - 1) in ends else None
        if k in ends and start is not None and ends[k] > start:
            length = float(ends[k] - start)
        elif known:
            length = float(known)
        else:  # nothing finished yet and no hint: spread the points logged so far
            base = start if start is not None else 0.0
            length = max(float(step_values[here].max() - base), 1.0)
        if start is None:
            start = k * length
        out[here] = np.clip(k + (step_values[here] - start) / length, k, k + 1)
    return out


def _x_values(
    rows: pd.DataFrame, x: str, ends: Mapping[int, int], steps_per_epoch: int | None
) -> np.ndarray:
    if x == "step":
        return rows["step"].to_numpy(dtype=np.float64)
    if x == "wall_time":
        return rows["wall_time"].to_numpy(dtype=np.float64)
    if x == "epoch":
        out = rows["epoch"].to_numpy(dtype=np.float64) + 1.0
        is_step = (
            (rows["split"] == "step").to_numpy() if "split" in rows else np.ones(len(rows), bool)
        )
        if is_step.any():
            out[is_step] = _fractional_epochs(
                rows["step"][is_step], rows["epoch"][is_step], ends, steps_per_epoch
            )
        return out
    raise ValueError(f"x must be one of {', '.join(X_AXES)}, found {x!r}")


def check_columns(frame: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    """Raise ValueError naming the columns ``what`` (a frame of the store) lacks."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks columns {missing}; found {list(frame.columns)}")


def order_of_appearance(values: pd.Series) -> list[str]:
    """The distinct values (as text) in the order they first appear."""
    return list(dict.fromkeys(values.tolist()))


# --------------------------------------------------------------------------- curves


def default_splits(metric: str) -> tuple[str, ...]:
    """The splits a chart of ``metric`` shows by default.

    ``loss``: the training loss every ``log_every`` steps (split ``step``) and the
    validation loss per epoch; ``lr``: the step rows (its only split); any other metric:
    train and val per epoch.
    """
    if metric == "loss":
        return ("step", "val")
    if metric == "lr":
        return ("step",)
    return ("train", "val")


def curve_frame(
    metrics: pd.DataFrame,
    metric: str,
    x: XAxis = "step",
    smoothing: float = 0.0,
    splits: Sequence[str] | None = None,
    *,
    steps_per_epoch: int | None = None,
) -> pd.DataFrame:
    """Exactly what a curve chart plots, in long form (also what its CSV download holds).

    Args:
        metrics: the store's metric rows (:meth:`RunStore.metrics`), any number of tasks.
        metric: e.g. ``"loss"``, ``"accuracy"``, ``"rmse"``, ``"lr"``.
        x: ``"step"``, ``"epoch"`` (1-based epochs done, fractional for step rows; see the
            module docstring) or ``"wall_time"`` (seconds since training started).
        smoothing: EMA weight in ``[0, 1)`` (:func:`ema`), per (task, split) series.
        splits: splits to include; ``None`` = :func:`default_splits` of ``metric``.
        steps_per_epoch: optional hint for placing step rows on the epoch axis before the
            first epoch has ended (see :func:`progress`).

    Returns:
        Columns ``x, task, split, metric, value, smoothed``: one row per point, sorted by
        task (first-appearance order, which is the config's task order), split
        (step, train, val) and x. Undefined values stay as NaN rows so charts show a gap.
        ``frame.attrs`` holds ``{"x", "metric", "smoothing"}`` for the figure builders.

    Raises:
        ValueError: for an unknown ``x``, a smoothing outside ``[0, 1)`` or missing columns.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, found {x!r}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), found {smoothing!r}")
    check_columns(
        metrics, ("step", "epoch", "wall_time", "task", "split", "metric", "value"), "metrics"
    )
    wanted = tuple(default_splits(metric) if splits is None else splits)
    rows = metrics[(metrics["metric"] == metric) & metrics["split"].isin(wanted)]
    out = pd.DataFrame(
        {
            "x": _x_values(rows, x, epoch_ends(metrics), steps_per_epoch) if len(rows) else [],
            "task": rows["task"].astype(object).to_numpy(),
            "split": rows["split"].astype(object).to_numpy(),
            "metric": rows["metric"].astype(object).to_numpy(),
            "value": rows["value"].to_numpy(dtype=np.float64),
        }
    )
    out["x"] = out["x"].astype(np.float64)
    task_rank = {t: i for i, t in enumerate(order_of_appearance(metrics["task"]))}
    split_rank = {s: i for i, s in enumerate(SPLIT_ORDER)}
    out["_t"] = out["task"].map(task_rank)
    out["_s"] = out["split"].map(lambda s: split_rank.get(s, len(split_rank)))
    out = out.sort_values(["_t", "_s", "split", "x"], kind="stable").drop(columns=["_t", "_s"])
    out = out.reset_index(drop=True)
    out["smoothed"] = out["value"]
    if smoothing > 0 and len(out):
        for _, index in out.groupby(["task", "split"], sort=False).groups.items():
            out.loc[index, "smoothed"] = ema(out.loc[index, "value"].to_numpy(), smoothing)
    out = out[list(CURVE_COLUMNS)]
    out.attrs = {"x": x, "metric": metric, "smoothing": float(smoothing)}
    return out


def weight_frame(
    weights: pd.DataFrame,
    x: XAxis = "step",
    metrics: pd.DataFrame | None = None,
    *,
    steps_per_epoch: int | None = None,
) -> pd.DataFrame:
    """Loss weight per task over time, on the same x axes as :func:`curve_frame`.

    Args:
        weights: the store's weight rows (:meth:`RunStore.weights`).
        x: ``"step"``, ``"epoch"`` or ``"wall_time"``.
        metrics: the run's metric rows; for ``x="epoch"`` they give the exact epoch ends.
            Without them an epoch is taken to end at its last logged step.
        steps_per_epoch: optional hint, as in :func:`curve_frame`.

    Returns:
        Columns ``x, task, weight``, sorted by task (first appearance) then x.
    """
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}, found {x!r}")
    check_columns(weights, ("step", "epoch", "wall_time", "task", "weight"), "weights")
    if not len(weights):
        out = pd.DataFrame(
            {
                c: pd.Series(dtype=object if c == "task" else np.float64)
                for c in WEIGHT_FRAME_COLUMNS
            }
        )
        out.attrs = {"x": x}
        return out
    if x == "epoch":
        if metrics is not None and len(metrics):
            ends = epoch_ends(metrics)
        else:
            by_epoch = (
                weights[weights["epoch"].notna()]
                .groupby(weights["epoch"].astype(np.int64))["step"]
                .max()
            )
            ends = {int(k): int(v) for k, v in by_epoch.items()}
            if ends:  # the last epoch may still be running: its end is not known
                del ends[max(ends)]
        xs = _fractional_epochs(weights["step"], weights["epoch"], ends, steps_per_epoch)
    else:
        xs = weights[x].to_numpy(dtype=np.float64)
    out = pd.DataFrame(
        {
            "x": xs,
            "task": weights["task"].astype(object).to_numpy(),
            "weight": weights["weight"].to_numpy(np.float64),
        }
    )
    rank = {t: i for i, t in enumerate(order_of_appearance(weights["task"]))}
    out = (
        out.assign(_t=out["task"].map(rank))
        .sort_values(["_t", "x"], kind="stable")
        .drop(columns="_t")
    )
    out = out.reset_index(drop=True)
    out.attrs = {"x": x}
    return out


class CurveFeed:
    """The points of one live curve chart: the whole curve once, then only new points.

    :meth:`start` returns the :func:`curve_frame` to draw (with :func:`mtl.viz.curves.
    curves_figure`) and remembers its series and, per series, the state of the smoothing.
    :meth:`append` turns rows the store returned since then into points to add at the end
    of the figure's traces, smoothed exactly as :func:`curve_frame` would smooth the whole
    series (the debiased EMA continues from its last value). It returns ``None`` when the
    figure's structure would change (a new series, or on the epoch axis the first epoch
    end, which moves the points already drawn): draw :meth:`start` again then.

    Stateful: one feed per chart and viewer.
    """

    def __init__(
        self, metric: str, x: XAxis, smoothing: float, splits: Sequence[str] | None = None
    ) -> None:
        if x not in X_AXES:
            raise ValueError(f"x must be one of {', '.join(X_AXES)}, found {x!r}")
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), found {smoothing!r}")
        self.metric, self.x, self.smoothing = metric, x, float(smoothing)
        self.splits = tuple(default_splits(metric) if splits is None else splits)
        self.series: list[tuple[str, str]] = []
        self.count = 0
        self._ema: dict[tuple[str, str], tuple[float, int]] = {}
        self._ends: dict[int, int] = {}

    @property
    def smoothed(self) -> bool:
        """Whether each series is drawn as a faint raw trace under a smoothed one."""
        return self.smoothing > 0 and bool(self.series)

    def start(self, metrics: pd.DataFrame) -> pd.DataFrame:
        """The whole curve of ``metrics`` (all rows so far); resets the feed to it."""
        frame = curve_frame(metrics, self.metric, self.x, self.smoothing, self.splits)
        self.series = [
            (str(t), str(s))
            for t, s in dict.fromkeys(zip(frame["task"], frame["split"], strict=True))
        ]
        self._ends = epoch_ends(metrics)
        self._ema = {}
        for key in self.series:
            values = frame.loc[
                (frame["task"] == key[0]) & (frame["split"] == key[1]), "value"
            ].to_numpy(np.float64)
            self._ema[key] = self._replay(values)
        self.count = len(frame) * (2 if self.smoothed else 1)
        return frame

    def _replay(self, values: np.ndarray) -> tuple[float, int]:
        last, n = 0.0, 0
        for v in values[np.isfinite(values)]:
            last, n = self.smoothing * last + (1.0 - self.smoothing) * float(v), n + 1
        return last, n

    def append(self, new: pd.DataFrame) -> dict[str, list[Any]] | None:
        """Points to add for the store rows ``new`` (rows after those already given).

        Returns:
            ``{"traces": [...], "x": [[...]], "y": [[...]], "customdata": [[...]]}`` in the
            trace order of :func:`mtl.viz.curves.curves_figure` (raw then smoothed trace per
            series when smoothing; ``customdata`` is the raw value), possibly with no traces;
            ``None`` when the chart must be drawn again from :meth:`start`.
        """
        if self.x == "epoch" and len(new):
            had_ends = bool(self._ends)
            rows = new[(new["split"] != "step") & new["epoch"].notna()]
            for epoch, step in zip(rows["epoch"].astype(np.int64), rows["step"], strict=True):
                self._ends[int(epoch)] = max(int(step), self._ends.get(int(epoch), 0))
            if self._ends and not had_ends:
                return None  # the first epoch end places the step rows drawn so far
        rows = new[(new["metric"] == self.metric) & new["split"].isin(self.splits)]
        out: dict[str, list[Any]] = {"traces": [], "x": [], "y": [], "customdata": []}
        if rows.empty:
            return out
        xs = _x_values(rows, self.x, self._ends, None)
        tasks, splits = rows["task"].astype(str).to_numpy(), rows["split"].astype(str).to_numpy()
        values = rows["value"].to_numpy(np.float64)
        for key in dict.fromkeys(zip(tasks, splits, strict=True)):
            if key not in self.series:
                return None
            here = (tasks == key[0]) & (splits == key[1])
            order = np.argsort(xs[here], kind="stable")
            x, raw = xs[here][order], values[here][order]
            index = self.series.index(key)
            if self.smoothed:
                smooth = self._continue(key, raw)
                for trace, y in ((2 * index, raw), (2 * index + 1, smooth)):
                    self._add(out, trace, x, y, raw)
            else:
                self._add(out, index, x, raw, raw)
        self.count += sum(len(x) for x in out["x"])
        return out

    def _continue(self, key: tuple[str, str], raw: np.ndarray) -> np.ndarray:
        last, n = self._ema[key]
        out = raw.copy()
        w = self.smoothing
        for i, v in enumerate(raw):
            if math.isfinite(v):
                last, n = w * last + (1.0 - w) * float(v), n + 1
                out[i] = last / (1.0 - w**n)
        self._ema[key] = (last, n)
        return out

    @staticmethod
    def _add(
        out: dict[str, list[Any]], trace: int, x: np.ndarray, y: np.ndarray, raw: np.ndarray
    ) -> None:
        out["traces"].append(trace)
        out["x"].append(x.tolist())
        out["y"].append(y.tolist())
        out["customdata"].append(raw.tolist())
