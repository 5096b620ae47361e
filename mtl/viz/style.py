"""The look every figure shares, so pages need no styling of their own.

- a constant ``layout.uirevision`` (:data:`UIREVISION`): when a page redraws a chart with
  new points (``Plotly.react`` or ``st.plotly_chart``), the user's zoom, pan and legend
  clicks are kept;
- fonts of at least 14 px (titles 18 px), the legend below the plot, horizontal;
- transparent backgrounds and translucent grey grid lines, so the figure sits on
  Streamlit's light or dark theme. Text colours are left to the host (Streamlit's
  ``theme="streamlit"`` sets them); a host without theming (a custom component) calls
  :func:`apply_theme`;
- user strings (trace names, categories, titles) escaped as text (:func:`mtl.viz.labels.plain`).

The figure families build on it: :mod:`mtl.viz.curves`, :mod:`mtl.viz.evaluation`,
:mod:`mtl.viz.network`, :mod:`mtl.viz.sweeps`. Colours come from :mod:`mtl.viz.colors`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from mtl.viz.colors import MUTED_COLOR
from mtl.viz.labels import plain

__all__ = [
    "FONT_SIZE",
    "GRID_COLOR",
    "TITLE_SIZE",
    "UIREVISION",
    "apply_theme",
    "corner_note",
    "empty_note",
    "fit_height",
    "style",
]

UIREVISION = "mtl-lab"
"""Constant ``uirevision`` of every figure: zoom and legend state survive data updates."""

FONT_SIZE = 14
TITLE_SIZE = 18
GRID_COLOR = "rgba(128, 128, 128, 0.25)"
TRANSPARENT = "rgba(0, 0, 0, 0)"

THEMES = {
    "light": {"text": "#31333F", "hover_bg": "#FFFFFF"},
    "dark": {"text": "#FAFAFA", "hover_bg": "#262730"},
}
"""Text colours of Streamlit's light and dark themes, for :func:`apply_theme`."""


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


def style(
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


def empty_note(fig: go.Figure, text: str) -> None:
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


def corner_note(fig: go.Figure, text: str, *, top: bool, **font: Any) -> None:
    """Write ``text`` in the figure's right-hand corner (top or bottom), inside the plot area."""
    fig.add_annotation(
        text=text,
        x=1,
        y=1 if top else 0,
        xref="paper",
        yref="paper",
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
        font=font or None,
    )
