"""Evaluation figures: confusion matrix, ROC curves, predicted vs actual, residuals, and the
task-pair heatmap (pure functions; the look is :mod:`mtl.viz.style`'s).

scikit-learn is imported inside :func:`confusion_figure` and :func:`roc_figure` only: the
Evaluate page draws them, and the pages that must open fast never load it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mtl.viz.colors import MUTED_COLOR, PALETTE, task_colors
from mtl.viz.labels import plain
from mtl.viz.style import FONT_SIZE, corner_note, empty_note, style

__all__ = [
    "confusion_figure",
    "pair_heatmap",
    "pred_actual_figure",
    "residuals_figure",
    "roc_figure",
]


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
    style(fig, title=title, height=side, legend=False)
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
    style(fig, title=title, height=side, legend=False)
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
    style(fig, title=title, height=height)
    fig.update_xaxes(title_text="false positive rate", range=[-0.01, 1.01], constrain="domain")
    fig.update_yaxes(
        title_text="true positive rate", range=[-0.01, 1.01], scaleanchor="x", scaleratio=1
    )
    if skipped:
        corner_note(
            fig,
            "no curve for "
            + plain(", ".join(skipped))
            + " (needs rows of the class and of the rest)",
            top=False,
            size=FONT_SIZE,
            color=MUTED_COLOR,
        )
    return fig


def _test_rows(x: np.ndarray, y: np.ndarray, color: str, hover: str) -> go.Scatter:
    """The markers of the test rows of a regression task."""
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        name="test rows",
        marker={"color": color, "opacity": 0.6, "size": 7},
        hovertemplate=hover + "<extra></extra>",
    )


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
    fig.add_trace(_test_rows(t, p, color, "actual %{x:.4~g}<br>predicted %{y:.4~g}"))
    style(fig, title=title, height=height)
    fig.update_xaxes(title_text="actual")
    fig.update_yaxes(title_text="predicted", scaleanchor="x", scaleratio=1)
    if not len(t):
        empty_note(fig, "No labelled test rows")
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
    fig = go.Figure(_test_rows(p, residual, color, "predicted %{x:.4~g}<br>residual %{y:.4~g}"))
    fig.add_hline(y=0, line={"color": MUTED_COLOR, "dash": "dash", "width": 1.5})
    style(fig, title=title, height=height, legend=False)
    fig.update_xaxes(title_text="predicted")
    fig.update_yaxes(title_text="actual − predicted")
    if not len(t):
        empty_note(fig, "No labelled test rows")
    return fig
