"""Sweep figures: the Pareto view of two metrics, the parallel-coordinates view of a grid and
a search's hyperparameter importance (pure functions of :mod:`mtl.study.sweeps` frames and
records; the look is :mod:`mtl.viz.style`'s).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from mtl.viz.colors import MUTED_COLOR, PALETTE
from mtl.viz.labels import label as header
from mtl.viz.labels import plain
from mtl.viz.style import FONT_SIZE, GRID_COLOR, style

__all__ = ["importance_figure", "pareto_figure", "parallel_figure"]

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
    """One point per setting at its mean (error bars: std over seeds, wherever a ``… std``
    column sits beside the plotted one: ``x mean`` → ``x std`` for a grid, ``x`` → ``x std``
    for a search trial on several seeds; a trial on one seed has none); the non-dominated
    settings are highlighted and joined by the front line. Each point is labelled with its
    setting (``hard · equal``) in a boxed annotation offset from the point, with a thin
    leader line (:data:`LABEL_OFFSETS`). Axis titles are the columns' labels
    (:func:`mtl.viz.labels.label`)."""

    def error(column: str, part: pd.Series) -> Any:
        std = column.removesuffix(" mean") + " std"
        if std not in frame:
            return None  # e.g. a search trial on one seed: no spread to show
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
    style(fig, title=title, height=500)
    fig.update_layout(margin={"l": 72, "r": 48, "t": 56 if title else 32, "b": 72})
    fig.update_xaxes(title_text=plain(header(x)))
    fig.update_yaxes(title_text=plain(header(y)))
    return fig


def parallel_figure(
    frame: pd.DataFrame, settings: Sequence[str], target: str, *, title: str
) -> go.Figure:
    """Parallel coordinates: each swept setting (categories as ticks), then ``target``
    (e.g. Δm), one line per setting combination coloured by ``target``. Axis titles are
    the readable labels (:func:`mtl.viz.labels.label`); the margins leave room for them and
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
    style(fig, title=title, height=440, legend=False)
    widest = (
        max([len(str(c)) for c in frame[settings[0]].astype(str)] if settings else [4])
        if len(frame)
        else 4
    )
    fig.update_layout(
        margin={"l": max(80, 9 * widest), "r": 120, "t": 96 if title else 72, "b": 32}
    )
    return fig


def importance_figure(
    importance: Mapping[str, Mapping[str, float]], *, title: str = "Hyperparameter importance"
) -> go.Figure:
    """Horizontal bars: each swept setting's share of the objective's variance (Optuna's
    importance, summing to 1 per objective), most important on top; one colour per objective
    when there are several. Setting and objective names are the readable labels
    (:func:`mtl.viz.labels.label`)."""
    fig = go.Figure()
    order: list[str] = []
    for shares in importance.values():
        for key in sorted(shares, key=lambda k: shares[k]):
            if key not in order:
                order.append(key)
    for i, (objective, shares) in enumerate(importance.items()):
        keys = [k for k in order if k in shares]
        fig.add_trace(
            go.Bar(
                x=[shares[k] for k in keys],
                y=[plain(header(k)) for k in keys],
                orientation="h",
                name=plain(header(objective)),
                marker={"color": PALETTE[i % len(PALETTE)]},
                hovertemplate="%{y}: %{x:.2f}<extra>%{fullData.name}</extra>",
            )
        )
    style(fig, title=title, height=max(220, 90 + 44 * len(order) * max(1, len(importance))))
    fig.update_layout(barmode="group", showlegend=len(importance) > 1)
    fig.update_xaxes(title_text="share of the objective's variance", range=[0, 1])
    fig.update_yaxes(automargin=True)
    return fig
