"""The network diagram: a block diagram of a model from its ``describe()`` dict (pure plotly).

The description comes from the model (``describe()``) or, without torch, from the
architecture plan the Experiment and Home pages draw before training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from mtl.models.plan import input_plan, is_conv_label
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
_BRACKET = 0.45  # room above the top row for the conv encoder's bracket, in rows
_COLUMN_CHARS = 12  # a text column's name is cut to this many characters in its box


def _input_lines(node: Mapping[str, Any], named: bool) -> list[str]:
    """The text of an input node (``named``: say "Table" rather than "Input")."""
    if node["kind"] == "image":
        channels = node["shape"][0]
        mode = {1: "grey", 3: "RGB"}.get(int(channels), f"{channels} channels")
        return ["Image", "×".join(str(s) for s in node["shape"]) + f" {mode}"]
    if node["kind"] == "text":
        column = str(node["column"])
        short = column if len(column) <= _COLUMN_CHARS else column[: _COLUMN_CHARS - 1] + "…"
        return ["Text", short, f"{node['ids']} token ids"]
    count = int(node["features"])
    return ["Table" if named else "Input", f"{count} feature{'s' if count != 1 else ''}"]


def _encoder_lines(node: Mapping[str, Any]) -> list[str]:
    """A text encoder's box in short: ``"bag"`` / ``"10002→32"`` (ids to features)."""
    return [str(node.get("name", "text encoder")), f"{node.get('embeddings', '?')}→{node['width']}"]


def _input_hover(node: Mapping[str, Any]) -> str:
    if node["kind"] == "image":
        return "input: image " + "×".join(map(str, node["shape"]))
    if node["kind"] == "text":
        return f"input: text column {node['column']}, {node['ids']} token ids per row"
    return f"input: {node['features']} table features"


def _pack(label: str, capacity: int) -> list[str]:
    """Lines of a block's text: its ``" + "`` parts, short neighbours joined by " · ".

    A part longer than ``capacity`` characters is wrapped at its spaces (e.g. "MaxPool" /
    "8×8→4×4", "EmbeddingBag" / "10002→32" / "(mean)"); the lines of a wrapped part are
    not joined to its neighbours.
    """
    lines: list[str] = []
    joinable: list[bool] = []
    for part in label.split(" + "):
        whole = len(part) <= capacity or " " not in part
        for piece in [part] if whole else _wrap(part, capacity):
            if whole and joinable and joinable[-1] and len(lines[-1]) + 3 + len(piece) <= capacity:
                lines[-1] += " · " + piece
            else:
                lines.append(piece)
                joinable.append(whole)
    return lines


def _wrap(part: str, capacity: int) -> list[str]:
    """``part``'s words on lines of at most ``capacity`` characters (a longer word alone)."""
    lines = [""]
    for word in part.split(" "):
        if lines[-1] and len(lines[-1]) + 1 + len(word) > capacity:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}" if lines[-1] else word
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
    Text inputs are drawn as branches: each text column's token ids → its text encoder
    (shared, grey) → a "Concat" node where they join the table's features before the
    architecture. An image input is drawn as such, with a bracket over the conv blocks
    that encode it ("conv encoder").
    Cross-stitch units are drawn as grey bars across all task rows after each block; the
    coupling (soft-sharing penalty, MMoE gates, ...) is written above the diagram. Block
    text is the layer label split at ``" + "`` (short neighbours joined by " · "); its
    size, 14 px down to 11 px, is the largest at which the lines fit at ``width_px``.
    Hovering a block shows its full label.

    Args:
        description: ``{"kind", "input", "inputs", "heads", "shared", "tasks", "coupling"}``
            (``inputs``, :func:`mtl.models.plan.input_plan`, may be left out: then the one
            input ``input`` describes).
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
    inputs = list(description.get("inputs") or input_plan(description["input"]))
    texts = [node for node in inputs if node["kind"] == "text"]
    joined = sum(int(node.get("features", 0)) + int(node.get("width", 0)) for node in inputs)

    # columns: input(s), [text encoders, concat], [shared...], task blocks (with narrow
    # stitch columns in between)
    concat = len(inputs) > 1 and bool(texts)
    widths: list[float] = [1.0] + [1.0] * bool(texts) + [1.0] * concat
    join_col = len(widths) - 1  # the node the architecture reads: input, text encoder or concat
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
        shared_col = list(range(len(widths), len(widths) + len(shared)))
        widths += [1.0] * len(shared)
        for _ in range(depth):
            widths.append(1.0)
            block_col.append(len(widths) - 1)
    total = sum(widths) + _OUTPUT_COLUMN
    lefts = np.concatenate([[0.0], np.cumsum(widths)])
    centers = [(lefts[i] + lefts[i + 1]) / 2 for i in range(len(widths))]

    box_px = _BOX * (width_px - 24) / total
    encoders = [str(node["encoder"]) for node in texts]
    labels = [lab for labs in tasks.values() for lab in labs] + ([] if stitched else shared)
    fixed = [line for node in inputs for line in _input_lines(node, concat)]
    fixed += ["Concat", f"{joined} features"] if concat else []
    # the input nodes' lines wrap at their spaces: only their words must fit
    font, lines_of = _fit_text(labels + encoders, [w for f in fixed for w in f.split()], box_px)
    capacity = max(int(box_px / (_CHAR_EM * font)), 4)

    def fitted(lines: list[str]) -> list[str]:
        return [piece for line in lines for piece in _wrap(line, capacity)]

    for node in texts:  # a label too long for the box: its name and sizes (hover: in full)
        label = str(node["encoder"])
        if max(len(line) for line in lines_of[label]) > capacity:
            lines_of[label] = _encoder_lines(node)
    input_lines = [len(fitted(_input_lines(node, concat))) for node in inputs]
    input_lines += [len(fitted(["Concat", f"{joined} features"]))] if concat else []
    max_lines = max([len(v) for v in lines_of.values()] + input_lines + [2])
    row_px = (max_lines * font * _LINE_EM + 14) / _BOX
    drawn_inputs = len(inputs) if concat else 1
    rows = max(len(names), drawn_inputs, 1)
    mid_y = -(rows - 1) / 2
    row_y = {task: mid_y + (len(names) - 1) / 2 - i for i, task in enumerate(names)}
    input_y = [mid_y + (drawn_inputs - 1) / 2 - j for j in range(drawn_inputs)]

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

    if concat:
        summed = " + ".join(str(int(n.get("features", 0)) + int(n.get("width", 0))) for n in inputs)
        join_left, join_right = box(
            join_col,
            mid_y,
            fitted(["Concat", f"{joined} features"]),
            INPUT_COLOR,
            f"joined: {summed} = {joined} features",
        )
    # each input on its own row; a text column's ids → its encoder; then into the concat
    for node, y in zip(inputs[:drawn_inputs], input_y, strict=True):
        _, in_right = box(0, y, fitted(_input_lines(node, concat)), INPUT_COLOR, _input_hover(node))
        if node["kind"] == "text":
            label = str(node["encoder"])
            left, right = box(1, y, lines_of[label], SHARED_COLOR, f"shared: text encoder {label}")
            arrow(in_right, y, left, y)
            in_right = right
        if concat:
            arrow(in_right, y, join_left, mid_y)
    if concat:
        in_right = join_right
    last_right, last_y = in_right, mid_y
    for i, label in enumerate(shared if not stitched else []):
        left, right = box(shared_col[i], mid_y, lines_of[label], SHARED_COLOR, f"shared: {label}")
        arrow(last_right, last_y, left, mid_y)
        last_right = right
    trunk_right = last_right

    stitch_edges: dict[int, tuple[float, float]] = {}
    if stitched:
        span = (len(names) - 1) + _BOX
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

    top = max([*row_y.values(), *input_y]) + 0.5
    if inputs[0]["kind"] == "image":
        top += _conv_bracket(
            [*([] if stitched else shared), *(tasks[names[0]] if names else [])],
            [*shared_col, *block_col],
            lefts,
            top,
            shapes,
            notes,
        )

    coupling = description.get("coupling")
    grey = shared or texts  # text encoders are shared too
    parts = [f"<span style='color:{SHARED_COLOR}'>■</span> shared by all tasks"] if grey else []
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
    bottom = -(rows - 1) - 0.5
    style(fig, title=title, height=int(top_px + 16 + (top - bottom) * row_px), legend=False)
    fig.update_layout(
        margin={"l": 12, "r": 12, "t": top_px, "b": 16}, dragmode=False, hovermode="closest"
    )
    fig.update_xaxes(visible=False, range=[-0.02, total], fixedrange=True)
    fig.update_yaxes(visible=False, range=[bottom, top], fixedrange=True)
    return fig


def _conv_bracket(
    path: list[str],
    columns: list[int],
    lefts: np.ndarray,
    top: float,
    shapes: list[dict[str, Any]],
    notes: list[dict[str, Any]],
) -> float:
    """A bracket labelled "conv encoder" above the conv blocks at the start of ``path``
    (block labels along one task's path, in ``columns``); the room it takes above ``top``."""
    count = 0
    while count < len(path) and is_conv_label(path[count]):
        count += 1
    if not count:
        return 0.0
    first, last = columns[0], columns[count - 1]
    margin = (1 - _BOX) / 2
    x0, x1 = float(lefts[first]) + margin, float(lefts[last + 1]) - margin
    y = top + 0.1
    shapes.append(
        {
            "type": "path",
            "path": f"M {x0},{y - 0.06} L {x0},{y} L {x1},{y} L {x1},{y - 0.06}",
            "line": {"color": MUTED_COLOR, "width": 1.5},
        }
    )
    blocks = f"{count} conv block{'s' if count != 1 else ''}"
    notes.append(
        {
            "x": (x0 + x1) / 2,
            "y": y,
            "yanchor": "bottom",
            "showarrow": False,
            "text": f"conv encoder · {blocks}",
            "font": {"size": FONT_SIZE, "color": MUTED_COLOR},
        }
    )
    return _BRACKET
