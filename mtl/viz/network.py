"""The network diagram: a block diagram of a model from its ``describe()`` dict (pure plotly).

The description comes from the model (``describe()``) or, without torch, from the
architecture plan the Experiment and Home pages draw before training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from mtl.viz.colors import (
    INPUT_COLOR,
    MUTED_COLOR,
    SHARED_COLOR,
    color_for,
    task_colors,
    text_color_on,
)
from mtl.viz.labels import plain
from mtl.viz.style import FONT_SIZE, style

__all__ = ["network_figure"]

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
        colors: task → colour; ``None`` = :func:`~mtl.viz.colors.task_colors` of the tasks.
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
    style(fig, title=title, height=int(top_px + 16 + rows * row_px), legend=False)
    fig.update_layout(
        margin={"l": 12, "r": 12, "t": top_px, "b": 16}, dragmode=False, hovermode="closest"
    )
    fig.update_xaxes(visible=False, range=[-0.02, total], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-(rows - 1) - 0.5, 0.5], fixedrange=True)
    return fig
