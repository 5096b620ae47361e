"""Plotly figures for the dashboard: pure functions of DataFrames (no torch, no streamlit).

Every figure shares the same look, so pages need no styling of their own:

- a constant ``layout.uirevision`` (:data:`UIREVISION`): when a page redraws a chart with
  new points (``Plotly.react`` or ``st.plotly_chart``), the user's zoom, pan and legend
  clicks are kept;
- fonts of at least 14 px (titles 18 px), the legend on top, horizontal;
- transparent backgrounds and translucent grey grid lines, so the figure sits on
  Streamlit's light or dark theme. Text colours are left to the host (Streamlit's
  ``theme="streamlit"`` sets them); a host without theming (a custom component) calls
  :func:`apply_theme`;
- one colour per task from :func:`mtl.ui.colors.task_colors` (validation lines dashed),
  one colour per run on overlays (:func:`mtl.ui.colors.run_colors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mtl.ui.colors import (
    INPUT_COLOR,
    MUTED_COLOR,
    PALETTE,
    SHARED_COLOR,
    color_for,
    task_colors,
    text_color_on,
)
from mtl.ui.curves import weight_frame
from mtl.ui.labels import METRIC_LABELS, plain
from mtl.ui.labels import label as header

__all__ = [
    "FONT_SIZE",
    "RAW_OPACITY",
    "UIREVISION",
    "apply_theme",
    "confusion_figure",
    "curves_figure",
    "network_figure",
    "overlay_figure",
    "pred_actual_figure",
    "residuals_figure",
    "roc_figure",
    "weights_figure",
]

UIREVISION = "mtl-lab"
"""Constant ``uirevision`` of every figure: zoom and legend state survive data updates."""

FONT_SIZE = 14
TITLE_SIZE = 18
RAW_OPACITY = 0.25
"""Opacity of the raw line drawn under a smoothed one."""
GRID_COLOR = "rgba(128, 128, 128, 0.25)"
TRANSPARENT = "rgba(0, 0, 0, 0)"
MARKERS_UP_TO = 50
"""Epoch-level series with at most this many points also get markers."""

X_TITLES = {"step": "step", "epoch": "epoch", "wall_time": "time (s)"}
METRIC_TITLES = METRIC_LABELS
"""Metric name → axis title (the shared labels of :mod:`mtl.ui.labels`)."""
SPLIT_LABELS = {"step": "train", "train": "train", "val": "val", "test": "test"}

THEMES = {
    "light": {"text": "#31333F", "hover_bg": "#FFFFFF"},
    "dark": {"text": "#FAFAFA", "hover_bg": "#262730"},
}
"""Text colours of Streamlit's light and dark themes, for :func:`apply_theme`."""


# --------------------------------------------------------------------------- common look


def _escape_strings(values: Any) -> Any:
    """String entries of a trace's data array escaped with :func:`plain` (others kept)."""
    if isinstance(values, str):
        return plain(values)
    if isinstance(values, (tuple, list, np.ndarray)) and any(isinstance(v, str) for v in values):
        return [plain(v) if isinstance(v, str) else v for v in values]
    return values


def _escape_user_text(fig: go.Figure) -> None:
    """Keep user strings (run, task, class names) as text in plotly's HTML-like labels:
    trace names (legend) and category arrays are escaped once, when styled."""
    for trace in fig.data:
        if getattr(trace, "name", None) is not None:
            trace.name = plain(trace.name)
        for field in ("x", "y", "labels"):  # categories; ``text`` is escaped where it is built
            if field in trace and trace[field] is not None:
                trace[field] = _escape_strings(trace[field])


def _style(
    fig: go.Figure, *, title: str | None, height: int | None = 420, legend: bool = True
) -> go.Figure:
    _escape_user_text(fig)
    fig.update_layout(
        title={
            "text": plain(title or ""),
            "font": {"size": TITLE_SIZE},
            "x": 0,
            "xanchor": "left",
            "xref": "paper",
        },
        font={"size": FONT_SIZE},
        paper_bgcolor=TRANSPARENT,
        plot_bgcolor=TRANSPARENT,
        uirevision=UIREVISION,
        height=height,
        margin={"l": 64, "r": 16, "t": 56 if title else 24, "b": 72},
        showlegend=legend,
        legend={  # below the plot: a long legend never covers the title or the curves
            "orientation": "h",
            "yanchor": "top",
            "y": -0.3,
            "xanchor": "left",
            "x": 0,
            "font": {"size": FONT_SIZE},
            "bgcolor": TRANSPARENT,
        },
        hoverlabel={"font": {"size": FONT_SIZE}},
    )
    axis = {
        "gridcolor": GRID_COLOR,
        "zerolinecolor": GRID_COLOR,
        "linecolor": GRID_COLOR,
        "automargin": True,
        "tickfont": {"size": FONT_SIZE},
        "title": {"font": {"size": FONT_SIZE}},
    }
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def fit_height(fig: go.Figure, height: int) -> go.Figure:
    """Set the figure's height and keep the legend below the x-axis title at that height."""
    margin = fig.layout.margin
    plot = max(120, height - (margin.t or 0) - (margin.b or 0))
    return fig.update_layout(height=height, legend={"y": -min(0.8, 88 / plot)})


def apply_theme(fig: go.Figure, theme: str = "light") -> go.Figure:
    """Set text and hover colours for Streamlit's ``"light"`` or ``"dark"`` theme, in place.

    Only needed where Streamlit does not theme the chart itself (e.g. a custom component
    drawing with plotly.js); ``st.plotly_chart(theme="streamlit")`` does it already.

    Args:
        fig: a figure from this module.
        theme: ``"light"`` or ``"dark"`` (e.g. ``st.context.theme.type``).

    Returns:
        The same figure.
    """
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, found {theme!r}")
    colors = THEMES[theme]
    fig.update_layout(
        font={"color": colors["text"]},
        hoverlabel={"bgcolor": colors["hover_bg"], "font": {"color": colors["text"]}},
    )
    return fig


def _empty_note(fig: go.Figure, text: str) -> None:
    fig.add_annotation(
        text=text,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        showarrow=False,
        font={"size": FONT_SIZE, "color": MUTED_COLOR},
    )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)


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


# --------------------------------------------------------------------------- curves


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
    """Per-task curves of one metric from a :func:`mtl.ui.curves.curve_frame` frame.

    For each (task, split): when the frame was smoothed, the raw line faint
    (:data:`RAW_OPACITY`, no legend entry, hidden with its series) under the solid smoothed
    line; otherwise the raw line alone. Validation lines are dashed; colour is by task.

    Args:
        frame: columns ``x, task, split, metric, value, smoothed`` (its ``attrs`` name the
            x axis, the metric and the smoothing).
        title: chart title.
        log_y: logarithmic y axis.
        colors: task → colour (:func:`mtl.ui.colors.task_colors`); ``None`` = by appearance.
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
    _style(fig, title=title, height=height)
    fig.update_xaxes(title_text=x_title or X_TITLES.get(frame.attrs.get("x", ""), "x"))
    fig.update_yaxes(
        title_text=y_title or METRIC_TITLES.get(metric, metric), type="log" if log_y else "linear"
    )
    if not len(frame):
        _empty_note(fig, "No points yet")
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
            :func:`mtl.ui.curves.weight_frame` (columns ``x, task, weight``).
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
    _style(fig, title=title, height=height)
    fig.update_xaxes(title_text=X_TITLES.get(x_kind, "x"))
    fig.update_yaxes(title_text="loss weight")
    if not len(frame):
        _empty_note(fig, "No loss weights yet")
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
        frames: run label (e.g. run id or name) → its :func:`~mtl.ui.curves.curve_frame`
            (same metric and x axis for all). Runs without the task are skipped.
        task: the task to show.
        title: chart title.
        log_y: logarithmic y axis.
        colors: run label → colour (:func:`mtl.ui.colors.run_colors`); ``None`` = by order.
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
    _style(fig, title=title, height=height)
    fig.update_xaxes(title_text=X_TITLES.get(attrs.get("x", ""), "x"))
    fig.update_yaxes(
        title_text=METRIC_TITLES.get(metric, metric), type="log" if log_y else "linear"
    )
    if not fig.data:
        _empty_note(fig, f"No run has points for task {task!r}")
    return fig


# --------------------------------------------------------------------------- evaluation


def _labelled(y_true: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Labels as strings and the mask of rows that have one (None / NaN / "" = unlabelled)."""
    values = pd.Series(list(y_true), dtype=object)
    mask = values.notna().to_numpy() & (values.astype(str) != "").to_numpy()
    return values.astype(str).to_numpy(), mask


def confusion_figure(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    classes: Sequence[Any],
    *,
    title: str = "Confusion matrix",
    height: int | None = None,
) -> go.Figure:
    """Counts of (true, predicted) classes; each cell also shows its share of the true class.

    Labels are compared as strings (a CSV read back may turn ``"1"`` into ``1``); rows
    without a true label are left out.

    Args:
        y_true: true class labels (``None``/NaN for unlabelled rows).
        y_pred: predicted class labels, same length.
        classes: all classes in display order (rows = true, columns = predicted).
        title: chart title.
        height: pixels; ``None`` sizes the square to the number of classes.

    Returns:
        A heatmap whose ``z`` is the count matrix (as ``sklearn.metrics.confusion_matrix``)
        and whose cell text is ``count`` and the row-normalised percentage.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} vs {len(y_pred)}")
    labels = [str(c) for c in classes]
    true, mask = _labelled(y_true)
    pred = pd.Series(list(y_pred), dtype=object).astype(str).to_numpy()
    # scikit-learn is imported here, not at the top: only the Evaluate figures need it, and the
    # other pages import this module (Home, Live, Compare, Sweeps must not pay for sklearn).
    from sklearn.metrics import confusion_matrix

    counts = (
        confusion_matrix(true[mask], pred[mask], labels=labels)
        if mask.any()
        else np.zeros((len(labels),) * 2, int)
    )
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, counts / np.maximum(totals, 1), np.nan)
    text = [
        [
            f"{counts[i, j]}<br>({shares[i, j]:.0%})" if totals[i, 0] else "0"
            for j in range(len(labels))
        ]
        for i in range(len(labels))
    ]
    fig = go.Figure(
        go.Heatmap(
            z=counts,
            x=labels,
            y=labels,
            text=text,
            texttemplate="%{text}",
            customdata=shares,
            colorscale="Blues",
            showscale=False,
            textfont={"size": FONT_SIZE},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z} rows (%{customdata:.1%} of true %{y})<extra></extra>",
        )
    )
    side = height or int(min(720, max(360, 140 + 70 * len(labels))))
    _style(fig, title=title, height=side, legend=False)
    fig.update_xaxes(title_text="predicted", type="category", showgrid=False, side="bottom")
    fig.update_yaxes(
        title_text="true",
        type="category",
        autorange="reversed",
        showgrid=False,
        scaleanchor="x",
        scaleratio=1,
    )
    return fig


def pair_heatmap(
    matrix: pd.DataFrame, *, title: str, zmid: float = 0.0, value_name: str = "value"
) -> go.Figure:
    """A task × task matrix (gradient cosine, affinity) as a diverging heatmap centred on
    ``zmid``: red below (conflict), blue above (agreement), values printed in the cells."""
    z = matrix.to_numpy(dtype=float)
    text = [["—" if np.isnan(v) else f"{v:.2f}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(matrix.columns),
            y=list(matrix.index),
            text=text,
            texttemplate="%{text}",
            colorscale="RdBu",
            zmid=zmid,
            showscale=True,
            textfont={"size": FONT_SIZE},
            hovertemplate=f"%{{y}} → %{{x}}<br>{value_name} %{{z:.3f}}<extra></extra>",
        )
    )
    side = int(min(640, max(320, 160 + 80 * len(matrix))))
    _style(fig, title=title, height=side, legend=False)
    fig.update_xaxes(type="category", showgrid=False)
    fig.update_yaxes(
        type="category", autorange="reversed", showgrid=False, scaleanchor="x", scaleratio=1
    )
    return fig


def _proba_column(proba: pd.DataFrame, cls: str) -> np.ndarray:
    for column in (cls, f"p_{cls}"):
        if column in proba.columns:
            return proba[column].to_numpy(dtype=float)
    named = {str(c): c for c in proba.columns}
    for column in (cls, f"p_{cls}"):
        if column in named:
            return proba[named[column]].to_numpy(dtype=float)
    raise ValueError(
        f"no probability column for class {cls!r}; expected {cls!r} or 'p_{cls}' in {list(proba.columns)}"
    )


def roc_figure(
    y_true: Sequence[Any],
    proba: pd.DataFrame,
    classes: Sequence[Any],
    *,
    title: str = "ROC curve",
    height: int | None = 460,
) -> go.Figure:
    """ROC curve(s) with the AUC in the legend (``sklearn.metrics.roc_curve``).

    Binary (two classes): one curve for the second class (the positive one, as in
    training) against the first. Multiclass: one-vs-rest, one curve per class; a class
    that is absent from (or is all of) ``y_true`` has no curve and is named in a note.

    Args:
        y_true: true class labels (``None``/NaN rows are left out), compared as strings.
        proba: one probability column per class, named ``<class>`` or ``p_<class>`` (the
            Evaluate page's prediction CSV), rows aligned with ``y_true``.
        classes: all classes, in order.
        title: chart title.
        height: pixels.

    Returns:
        The figure; each curve's ``meta`` holds ``{"class", "auc"}`` (the exact
        ``roc_auc_score``), its name shows the AUC to 3 decimals.
    """
    labels = [str(c) for c in classes]
    if len(labels) < 2:
        raise ValueError(f"a ROC curve needs at least two classes, found {labels}")
    if len(proba) != len(y_true):
        raise ValueError(f"proba has {len(proba)} rows but y_true has {len(y_true)}")
    true, mask = _labelled(y_true)
    true = true[mask]
    from sklearn.metrics import roc_auc_score, roc_curve  # Evaluate-only; see confusion_figure

    palette = task_colors(labels)
    targets = [labels[1]] if len(labels) == 2 else labels
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="chance",
            hoverinfo="skip",
            line={"color": MUTED_COLOR, "dash": "dot", "width": 1.5},
        )
    )
    skipped = []
    for cls in targets:
        positive = true == cls
        if positive.all() or not positive.any():
            skipped.append(cls)
            continue
        score = _proba_column(proba, cls)[mask]
        fpr, tpr, _ = roc_curve(positive, score)
        auc = float(roc_auc_score(positive, score))
        name = f"{cls} vs {labels[0]}" if len(labels) == 2 else f"{cls} vs rest"
        fig.add_trace(
            go.Scatter(
                x=fpr,
                y=tpr,
                mode="lines",
                name=f"{name} (AUC = {auc:.3f})",
                meta={"class": cls, "auc": auc},
                line={
                    "color": palette[cls] if len(labels) > 2 else PALETTE[0],
                    "width": 2.5,
                    "shape": "hv",
                },
                hovertemplate=f"{plain(name)}<br>FPR %{{x:.3f}}<br>TPR %{{y:.3f}}<extra></extra>",
            )
        )
    _style(fig, title=title, height=height)
    fig.update_xaxes(title_text="false positive rate", range=[-0.01, 1.01], constrain="domain")
    fig.update_yaxes(
        title_text="true positive rate", range=[-0.01, 1.01], scaleanchor="x", scaleratio=1
    )
    if skipped:
        fig.add_annotation(
            text="no curve for "
            + ", ".join(skipped)
            + " (needs rows of the class and of the rest)",
            x=1,
            y=0,
            xref="paper",
            yref="paper",
            xanchor="right",
            yanchor="bottom",
            showarrow=False,
            font={"size": FONT_SIZE, "color": MUTED_COLOR},
        )
    return fig


def _paired(true: Sequence[float], pred: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(true, dtype=float).reshape(-1)
    p = np.asarray(pred, dtype=float).reshape(-1)
    if len(t) != len(p):
        raise ValueError(f"true and pred differ in length: {len(t)} vs {len(p)}")
    keep = np.isfinite(t) & np.isfinite(p)
    return t[keep], p[keep]


def pred_actual_figure(
    true: Sequence[float],
    pred: Sequence[float],
    *,
    title: str = "Predicted vs actual",
    color: str = PALETTE[0],
    height: int | None = 460,
) -> go.Figure:
    """Predicted against actual values with the ``y = x`` line (perfect predictions).

    Rows where either value is missing are left out. Both axes share one scale.
    """
    t, p = _paired(true, pred)
    fig = go.Figure()
    if len(t):
        low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        pad = (high - low) * 0.03 or 1.0
        fig.add_trace(
            go.Scatter(
                x=[low - pad, high + pad],
                y=[low - pad, high + pad],
                mode="lines",
                name="y = x",
                hoverinfo="skip",
                line={"color": MUTED_COLOR, "dash": "dash", "width": 1.5},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=t,
            y=p,
            mode="markers",
            name="test rows",
            marker={"color": color, "opacity": 0.6, "size": 7},
            hovertemplate="actual %{x:.4~g}<br>predicted %{y:.4~g}<extra></extra>",
        )
    )
    _style(fig, title=title, height=height)
    fig.update_xaxes(title_text="actual")
    fig.update_yaxes(title_text="predicted", scaleanchor="x", scaleratio=1)
    if not len(t):
        _empty_note(fig, "No labelled test rows")
    return fig


def residuals_figure(
    true: Sequence[float],
    pred: Sequence[float],
    *,
    title: str = "Residuals",
    color: str = PALETTE[0],
    height: int | None = 400,
) -> go.Figure:
    """Residuals (actual − predicted) against the prediction, with the zero line."""
    t, p = _paired(true, pred)
    residual = t - p
    fig = go.Figure(
        go.Scatter(
            x=p,
            y=residual,
            mode="markers",
            name="test rows",
            marker={"color": color, "opacity": 0.6, "size": 7},
            hovertemplate="predicted %{x:.4~g}<br>residual %{y:.4~g}<extra></extra>",
        )
    )
    fig.add_hline(y=0, line={"color": MUTED_COLOR, "dash": "dash", "width": 1.5})
    _style(fig, title=title, height=height, legend=False)
    fig.update_xaxes(title_text="predicted")
    fig.update_yaxes(title_text="actual − predicted")
    if not len(t):
        _empty_note(fig, "No labelled test rows")
    return fig


# --------------------------------------------------------------------------- network diagram

_BOX = 0.78  # box width / height as a share of its column / row
_STITCH_COLUMN = 0.42
_OUTPUT_COLUMN = 1.15
_DESIGN_WIDTH_PX = 700
_CHAR_EM = 0.62  # mean character width in em, a little generous for ×, → and digits
_LINE_EM = 1.3  # line height in em of multi-line annotations


def _input_lines(shape: Sequence[int]) -> list[str]:
    if len(shape) == 1:
        return ["Input", f"{shape[0]} features"]
    return ["Input", "×".join(str(s) for s in shape)]


def _pack(label: str, capacity: int) -> list[str]:
    """Lines of a block's text: its ``" + "`` parts, short neighbours joined by " · ".

    A part longer than ``capacity`` characters is broken before its last word (e.g.
    "MaxPool" / "8×8→4×4"); the pieces of a broken part keep lines of their own.
    """
    lines: list[str] = []
    joinable: list[bool] = []
    for part in label.split(" + "):
        whole = len(part) <= capacity or " " not in part
        for piece in [part] if whole else list(part.rsplit(" ", 1)):
            if whole and joinable and joinable[-1] and len(lines[-1]) + 3 + len(piece) <= capacity:
                lines[-1] += " · " + piece
            else:
                lines.append(piece)
                joinable.append(whole)
    return lines


def _fit_text(
    labels: list[str], fixed: list[str], box_px: float
) -> tuple[float, dict[str, list[str]]]:
    """The largest font (14 down to 11 px) at which every line fits ``box_px``, and the lines."""
    lines: dict[str, list[str]] = {}
    for font in (14, 13, 12, 11):
        capacity = max(int(box_px / (_CHAR_EM * font)), 4)
        lines = {label: _pack(label, capacity) for label in labels}
        widest = max(
            [len(line) for block in lines.values() for line in block] + [len(t) for t in fixed]
        )
        if widest <= capacity:
            return float(font), lines
    return 11.0, lines


def network_figure(
    description: Mapping[str, Any],
    colors: Mapping[str, str] | None = None,
    *,
    title: str | None = None,
    width_px: int = _DESIGN_WIDTH_PX,
) -> go.Figure:
    """A block diagram of a network from a ``describe()`` dict (or :func:`describe_config`).

    Input on the left; shared blocks in grey (:data:`SHARED_COLOR`); one row per task in
    its colour, ending in its head, with the task name and output width at the right.
    Cross-stitch units are drawn as grey bars across all task rows after each block; the
    coupling (soft-sharing penalty, MMoE gates, ...) is written above the diagram. Block
    text is the layer label split at ``" + "`` (short neighbours joined by " · "); its
    size, 14 px down to 11 px, is the largest at which the lines fit at ``width_px``.
    Hovering a block shows its full label.

    Args:
        description: ``{"kind", "input", "heads", "shared", "tasks", "coupling"}``.
        colors: task → colour; ``None`` = :func:`~mtl.ui.colors.task_colors` of the tasks.
        title: optional title.
        width_px: the width the diagram must be readable at (for sizing the text only).

    Returns:
        A figure made of shapes and annotations (hidden axes, no zoom).
    """
    kind = str(description.get("kind", ""))
    tasks: dict[str, list[str]] = {t: list(labels) for t, labels in description["tasks"].items()}
    names = list(tasks)
    heads = dict(description.get("heads") or {})
    shared = list(description.get("shared") or [])
    colors = dict(colors) if colors is not None else task_colors(names)
    stitched = kind == "cross-stitch" and len(shared) > 0
    depth = max((len(b) for b in tasks.values()), default=0)

    # columns: input, [shared...], task blocks (with narrow stitch columns in between)
    widths: list[float] = [1.0]
    block_col: list[int] = []  # task block j -> column index
    stitch_col: list[int] = []
    if stitched:
        for j in range(depth):
            widths.append(1.0)
            block_col.append(len(widths) - 1)
            if j < len(shared):
                widths.append(_STITCH_COLUMN)
                stitch_col.append(len(widths) - 1)
        shared_col: list[int] = []
    else:
        shared_col = list(range(1, 1 + len(shared)))
        widths += [1.0] * len(shared)
        for _ in range(depth):
            widths.append(1.0)
            block_col.append(len(widths) - 1)
    total = sum(widths) + _OUTPUT_COLUMN
    lefts = np.concatenate([[0.0], np.cumsum(widths)])
    centers = [(lefts[i] + lefts[i + 1]) / 2 for i in range(len(widths))]

    box_px = _BOX * (width_px - 24) / total
    labels = [lab for labs in tasks.values() for lab in labs] + ([] if stitched else shared)
    font, lines_of = _fit_text(labels, _input_lines(description["input"]), box_px)
    max_lines = max([len(v) for v in lines_of.values()] + [2])
    row_px = (max_lines * font * _LINE_EM + 14) / _BOX
    rows = max(len(names), 1)
    row_y = {task: -float(i) for i, task in enumerate(names)}
    mid_y = -(rows - 1) / 2

    fig = go.Figure()
    shapes: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    hover_x: list[float] = []
    hover_y: list[float] = []
    hover_text: list[str] = []

    def box(
        col: int, y: float, lines: list[str], fill: str, hover: str, height: float = _BOX
    ) -> tuple[float, float]:
        half_w = widths[col] * _BOX / 2 if col not in stitch_col else 0.11
        x = centers[col]
        shapes.append(
            {
                "type": "rect",
                "x0": x - half_w,
                "x1": x + half_w,
                "y0": y - height / 2,
                "y1": y + height / 2,
                "fillcolor": fill,
                "line": {"color": fill, "width": 1},
                "layer": "below",
            }
        )
        notes.append(
            {
                "x": x,
                "y": y,
                "text": "<br>".join(plain(line) for line in lines),
                "showarrow": False,
                "font": {"size": font, "color": text_color_on(fill)},
                **({"textangle": -90} if col in stitch_col else {}),
            }
        )
        hover_x.append(x)
        hover_y.append(y)
        hover_text.append(plain(hover))
        return x - half_w, x + half_w

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        notes.append(
            {
                "x": x1,
                "y": y1,
                "ax": x0,
                "ay": y0,
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "text": "",
                "showarrow": True,
                "arrowhead": 2,
                "arrowsize": 1.1,
                "arrowwidth": 1.6,
                "arrowcolor": MUTED_COLOR,
                "standoff": 1,
                "startstandoff": 1,
            }
        )

    in_lines = _input_lines(description["input"])
    _, in_right = box(
        0, mid_y, in_lines, INPUT_COLOR, "input " + "×".join(map(str, description["input"]))
    )
    last_right, last_y = in_right, mid_y
    for i, label in enumerate(shared if not stitched else []):
        left, right = box(shared_col[i], mid_y, lines_of[label], SHARED_COLOR, f"shared: {label}")
        arrow(last_right, last_y, left, mid_y)
        last_right = right
    trunk_right = last_right

    stitch_edges: dict[int, tuple[float, float]] = {}
    if stitched:
        span = (rows - 1) + _BOX
        for i, label in enumerate(shared):
            short = label.split(" after ")[0]
            stitch_edges[i] = box(
                stitch_col[i], mid_y, [short], SHARED_COLOR, f"shared: {label}", height=span
            )

    for task in names:
        y = row_y[task]
        fill = color_for(task, colors)
        prev_right, prev_y = (
            trunk_right,
            mid_y,
        )  # the input's right edge when nothing is in the trunk
        for j, label in enumerate(tasks[task]):
            left, right = box(block_col[j], y, lines_of[label], fill, f"{task}: {label}")
            arrow(prev_right, prev_y, left, y)
            prev_right, prev_y = right, y
            if stitched and j < len(shared):
                s_left, s_right = stitch_edges[j]
                arrow(right, y, s_left, y)
                prev_right = s_right
        width = heads.get(task)
        out = f"{width} output{'s' if width != 1 else ''}" if width is not None else ""
        notes.append(
            {
                "x": prev_right + 0.08,
                "y": y,
                "xanchor": "left",
                "showarrow": False,
                "text": f"<b>{plain(task)}</b>" + (f"<br>{out}" if out else ""),
                "align": "left",
                "font": {"size": FONT_SIZE, "color": fill},
            }
        )

    coupling = description.get("coupling")
    parts = [f"<span style='color:{SHARED_COLOR}'>■</span> shared by all tasks"] if shared else []
    if coupling:
        parts.append(f"<i>{plain(coupling)}</i>")
    key = "   ·   ".join(parts) or "<i>nothing shared: one network per task</i>"
    top_px = 40 + (44 if title else 0)
    notes.append(
        {
            "x": 0,
            "y": 1,
            "xref": "paper",
            "yref": "paper",
            "xanchor": "left",
            "yanchor": "bottom",
            "yshift": 8,
            "showarrow": False,
            "text": key,
            "font": {"size": FONT_SIZE},
            "align": "left",
        }
    )
    fig.add_trace(
        go.Scatter(
            x=hover_x,
            y=hover_y,
            mode="markers",
            hovertext=hover_text,
            hoverinfo="text",
            marker={"size": 30, "opacity": 0},
            showlegend=False,
        )
    )
    fig.update_layout(shapes=shapes, annotations=notes)
    _style(fig, title=title, height=int(top_px + 16 + rows * row_px), legend=False)
    fig.update_layout(
        margin={"l": 12, "r": 12, "t": top_px, "b": 16}, dragmode=False, hovermode="closest"
    )
    fig.update_xaxes(visible=False, range=[-0.02, total], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-(rows - 1) - 0.5, 0.5], fixedrange=True)
    return fig


# --------------------------------------------------------------------------- sweeps


LABEL_OFFSETS = ((36, -28), (-36, 28), (-36, -28), (36, 28), (0, -40), (0, 40))
"""Pixel offsets (ax, ay) of a Pareto point's label, cycled over points in (x, y) order, so
points that sit on top of each other get their labels on different sides."""


def pareto_figure(
    frame: pd.DataFrame,
    x: str,
    y: str,
    on_front: pd.Series,
    *,
    labels: Sequence[str],
    title: str = "Trade-off between two tasks",
) -> go.Figure:
    """One point per setting at its mean (error bars: std over seeds); the non-dominated
    settings are highlighted and joined by the front line. Each point is labelled with its
    setting (``hard · equal``) in a boxed annotation offset from the point, with a thin
    leader line (:data:`LABEL_OFFSETS`). Axis titles are the columns' labels
    (:func:`mtl.ui.labels.label`)."""

    def error(column: str, part: pd.Series) -> Any:
        std = column.replace(" mean", " std")
        if std not in frame:
            return None
        return {"type": "data", "array": frame.loc[part, std].fillna(0).tolist(), "visible": True}

    names = pd.Series(
        [" · ".join(str(v) for v in row) for row in frame[list(labels)].itertuples(index=False)],
        index=frame.index,
        dtype=object,
    )
    fig = go.Figure()
    for front, name, color, size in (
        (False, "dominated", MUTED_COLOR, 10),
        (True, "Pareto front", PALETTE[0], 14),
    ):
        part = on_front if front else ~on_front
        fig.add_trace(
            go.Scatter(
                x=frame.loc[part, x],
                y=frame.loc[part, y],
                mode="markers",
                name=name,
                marker={"size": size, "color": color, "line": {"width": 1, "color": "white"}},
                error_x=error(x, part),
                error_y=error(y, part),
                text=[plain(t) for t in names[part]],
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
            )
        )
    front = frame[on_front].sort_values(x)
    if len(front) > 1:
        fig.add_trace(
            go.Scatter(
                x=front[x],
                y=front[y],
                mode="lines",
                line={"color": PALETTE[0], "dash": "dot"},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    for i, index in enumerate(frame.sort_values([x, y]).index):
        ax, ay = LABEL_OFFSETS[i % len(LABEL_OFFSETS)]
        fig.add_annotation(
            x=frame.at[index, x],
            y=frame.at[index, y],
            text=plain(names[index]),
            ax=ax,
            ay=ay,
            showarrow=True,
            arrowhead=0,
            arrowwidth=1,
            arrowcolor=MUTED_COLOR,
            standoff=6,
            font={"size": FONT_SIZE - 1},
            bgcolor="rgba(128, 128, 128, 0.12)",
            bordercolor=GRID_COLOR,  # both themes
            borderpad=3,
            captureevents=False,
        )
    _style(fig, title=title, height=500)
    fig.update_layout(margin={"l": 72, "r": 48, "t": 56 if title else 32, "b": 72})
    fig.update_xaxes(title_text=plain(header(x)))
    fig.update_yaxes(title_text=plain(header(y)))
    return fig


def parallel_figure(
    frame: pd.DataFrame, settings: Sequence[str], target: str, *, title: str
) -> go.Figure:
    """Parallel coordinates: each swept setting (categories as ticks), then ``target``
    (e.g. Δm), one line per setting combination coloured by ``target``. Axis titles are
    the readable labels (:func:`mtl.ui.labels.label`); the margins leave room for them and
    for the outer axes' tick labels."""
    dimensions = []
    for column in settings:
        values = frame[column].astype(str)
        categories = list(dict.fromkeys(values))
        codes = values.map({c: i for i, c in enumerate(categories)})
        dimensions.append(
            {
                "label": plain(header(column)),
                "values": codes,
                "tickvals": list(range(len(categories))),
                "ticktext": [plain(c) for c in categories],
            }
        )
    dimensions.append({"label": plain(header(target)), "values": frame[target]})
    fig = go.Figure(
        go.Parcoords(
            dimensions=dimensions,
            line={
                "color": frame[target],
                "colorscale": "RdBu",
                "showscale": False,
            },  # the last axis is the scale
            labelfont={"size": FONT_SIZE},
            tickfont={"size": FONT_SIZE - 2},
            labelangle=0,
            labelside="top",
        )
    )
    _style(fig, title=title, height=440, legend=False)
    widest = (
        max([len(str(c)) for c in frame[settings[0]].astype(str)] if settings else [4])
        if len(frame)
        else 4
    )
    fig.update_layout(
        margin={"l": max(80, 9 * widest), "r": 120, "t": 96 if title else 72, "b": 32}
    )
    return fig
