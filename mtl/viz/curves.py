"""Training curves: per-task curves of one run, loss weights, and one metric over several runs.

Frames come from :mod:`mtl.viz.frames` (:func:`~mtl.viz.frames.curve_frame`,
:func:`~mtl.viz.frames.weight_frame`); one colour per task from
:func:`mtl.viz.colors.task_colors` (validation lines dashed), one colour per run on
overlays (:func:`mtl.viz.colors.run_colors`). The look is :mod:`mtl.viz.style`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mtl.viz.colors import color_for, task_colors
from mtl.viz.frames import weight_frame
from mtl.viz.labels import METRIC_LABELS, plain
from mtl.viz.style import empty_note, style

__all__ = ["RAW_OPACITY", "X_TITLES", "curves_figure", "overlay_figure", "weights_figure"]

RAW_OPACITY = 0.25
"""Opacity of the raw line drawn under a smoothed one."""
MARKERS_UP_TO = 50
"""Epoch-level series with at most this many points also get markers."""

X_TITLES = {"step": "step", "epoch": "epoch", "wall_time": "time (s)"}
METRIC_TITLES = METRIC_LABELS
"""Metric name → axis title (the shared labels of :mod:`mtl.viz.labels`)."""
SPLIT_LABELS = {"step": "train", "train": "train", "val": "val", "test": "test"}


def _smoothing_applied(frame: pd.DataFrame) -> bool:
    weight = frame.attrs.get("smoothing")
    if weight is not None:
        return float(weight) > 0
    values, smoothed = frame["value"].to_numpy(float), frame["smoothed"].to_numpy(float)
    return not np.allclose(values, smoothed, equal_nan=True)


def _mode(split: str, points: int) -> str:
    if points == 1 or (split != "step" and points <= MARKERS_UP_TO):
        return "lines+markers"
    return "lines"


def _add_series(
    fig: go.Figure,
    group: pd.DataFrame,
    *,
    name: str,
    legendgroup: str,
    color: str,
    split: str,
    smoothed: bool,
) -> None:
    """The (raw, smoothed) pair of one series, or the raw line alone."""
    dash = "dash" if split == "val" else "solid"
    x = group["x"].to_numpy(float)
    mode = _mode(split, len(group))
    if smoothed:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=group["value"].to_numpy(float),
                mode="lines",
                name=f"{name} (raw)",
                legendgroup=legendgroup,
                showlegend=False,
                opacity=RAW_OPACITY,
                hoverinfo="skip",
                line={"color": color, "dash": dash, "width": 1.5},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=group["smoothed" if smoothed else "value"].to_numpy(float),
            mode=mode,
            name=name,
            legendgroup=legendgroup,
            line={"color": color, "dash": dash, "width": 2.5},
            marker={"size": 6},
            customdata=group["value"].to_numpy(float),
            hovertemplate=f"{plain(name)}<br>x = %{{x:.4~g}}<br>%{{y:.4~g}}"
            + ("  (raw %{customdata:.4~g})" if smoothed else "")
            + "<extra></extra>",
        )
    )


def _split_label(split: str, splits: set[str]) -> str:
    if split == "train" and "step" in splits:
        return "train (epoch)"
    return SPLIT_LABELS.get(split, split)


def curves_figure(
    frame: pd.DataFrame,
    *,
    title: str = "",
    log_y: bool = False,
    colors: Mapping[str, str] | None = None,
    x_title: str | None = None,
    y_title: str | None = None,
    height: int | None = 420,
) -> go.Figure:
    """Per-task curves of one metric from a :func:`mtl.viz.frames.curve_frame` frame.

    For each (task, split): when the frame was smoothed, the raw line faint
    (:data:`RAW_OPACITY`, no legend entry, hidden with its series) under the solid smoothed
    line; otherwise the raw line alone. Validation lines are dashed; colour is by task.

    Args:
        frame: columns ``x, task, split, metric, value, smoothed`` (its ``attrs`` name the
            x axis, the metric and the smoothing).
        title: chart title.
        log_y: logarithmic y axis.
        colors: task → colour (:func:`mtl.viz.colors.task_colors`); ``None`` = by appearance.
        x_title, y_title: axis titles; default from ``frame.attrs``.
        height: pixels, or ``None`` for the host's default.

    Returns:
        The figure; traces are ordered by task, then split (step, train, val).
    """
    fig = go.Figure()
    colors = dict(colors) if colors is not None else task_colors(list(dict.fromkeys(frame["task"])))
    smoothed = len(frame) > 0 and _smoothing_applied(frame)
    splits = set(frame["split"])
    for (task, split), group in frame.groupby(["task", "split"], sort=False):
        label = _split_label(split, splits)
        name = label if task == "*" else f"{task} · {label}"
        _add_series(
            fig,
            group,
            name=name,
            legendgroup=name,
            color=color_for(task, colors),
            split=split,
            smoothed=smoothed,
        )
    metric = frame.attrs.get("metric", "")
    style(fig, title=title, height=height)
    fig.update_xaxes(title_text=x_title or X_TITLES.get(frame.attrs.get("x", ""), "x"))
    fig.update_yaxes(
        title_text=y_title or METRIC_TITLES.get(metric, metric), type="log" if log_y else "linear"
    )
    if not len(frame):
        empty_note(fig, "No points yet")
    return fig


def weights_figure(
    weights: pd.DataFrame,
    *,
    x: str = "step",
    colors: Mapping[str, str] | None = None,
    metrics: pd.DataFrame | None = None,
    title: str = "Loss weights",
    height: int | None = 360,
) -> go.Figure:
    """The loss weight of each task over time (one solid line per task).

    Args:
        weights: the store's weight rows (:meth:`RunStore.weights`), or a
            :func:`mtl.viz.frames.weight_frame` (columns ``x, task, weight``).
        x: ``"step"``, ``"epoch"`` or ``"wall_time"`` (ignored for a ready weight frame).
        colors: task → colour; ``None`` = by appearance.
        metrics: the run's metric rows, for exact epoch ends on the epoch axis.
        title: chart title.
        height: pixels.
    """
    frame = weights if "x" in weights.columns else weight_frame(weights, x, metrics)  # type: ignore[arg-type]
    x_kind = frame.attrs.get("x", x)
    colors = dict(colors) if colors is not None else task_colors(list(dict.fromkeys(frame["task"])))
    fig = go.Figure()
    for task, group in frame.groupby("task", sort=False):
        fig.add_trace(
            go.Scatter(
                x=group["x"].to_numpy(float),
                y=group["weight"].to_numpy(float),
                name=str(task),
                mode="lines+markers" if len(group) == 1 else "lines",
                line={"color": color_for(task, colors), "width": 2.5},
                hovertemplate=f"{plain(task)}<br>x = %{{x:.4~g}}<br>weight %{{y:.4~g}}<extra></extra>",
            )
        )
    style(fig, title=title, height=height)
    fig.update_xaxes(title_text=X_TITLES.get(x_kind, "x"))
    fig.update_yaxes(title_text="loss weight")
    if not len(frame):
        empty_note(fig, "No loss weights yet")
    return fig


def overlay_figure(
    frames: Mapping[str, pd.DataFrame],
    *,
    task: str,
    title: str = "",
    log_y: bool = False,
    colors: Mapping[str, str] | None = None,
    height: int | None = 420,
) -> go.Figure:
    """One task's curves from several runs, coloured by run.

    Args:
        frames: run label (e.g. run id or name) → its :func:`~mtl.viz.frames.curve_frame`
            (same metric and x axis for all). Runs without the task are skipped.
        task: the task to show.
        title: chart title.
        log_y: logarithmic y axis.
        colors: run label → colour (:func:`mtl.viz.colors.run_colors`); ``None`` = by order.
        height: pixels.

    Returns:
        The figure: per run and split a (raw, smoothed) pair when smoothed, validation dashed;
        clicking a run in the legend hides all of its lines.
    """
    colors = dict(colors) if colors is not None else task_colors(list(frames))
    fig = go.Figure()
    attrs: dict[str, Any] = {}
    for run, frame in frames.items():
        rows = frame[frame["task"] == task]
        if not len(rows):
            continue
        attrs = attrs or dict(frame.attrs)
        smoothed = _smoothing_applied(frame)
        splits = set(rows["split"])
        for split, group in rows.groupby("split", sort=False):
            name = f"{run} · {_split_label(split, splits)}"
            _add_series(
                fig,
                group,
                name=name,
                legendgroup=str(run),
                color=color_for(run, colors),
                split=split,
                smoothed=smoothed,
            )
    metric = attrs.get("metric", "")
    style(fig, title=title, height=height)
    fig.update_xaxes(title_text=X_TITLES.get(attrs.get("x", ""), "x"))
    fig.update_yaxes(
        title_text=METRIC_TITLES.get(metric, metric), type="log" if log_y else "linear"
    )
    if not fig.data:
        empty_note(fig, f"No run has points for task {task!r}")
    return fig
