"""Verdict figures: the scalarisation front with every method on it, and Δm with its interval
per method (pure functions of :func:`mtl.study.verdict.verdict_result`'s data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from mtl.viz.colors import MUTED_COLOR, PALETTE
from mtl.viz.labels import plain
from mtl.viz.style import empty_note, style

__all__ = ["delta_figure", "front_figure", "methods_table"]


def _bar(entry: Mapping[str, Any]) -> tuple[float | None, float, float]:
    """Mean and the distances to the interval's ends (0 when unknown)."""
    mean, low, high = entry.get("mean"), entry.get("low"), entry.get("high")
    if mean is None:
        return None, 0.0, 0.0
    return (
        mean,
        (high - mean) if high is not None else 0.0,
        (mean - low) if low is not None else 0.0,
    )


def front_figure(result: Mapping[str, Any], x_task: str, y_task: str) -> go.Figure:
    """The headline metric of two tasks: the static-weight runs (grey, the scalarisation
    front joined by a line), each method's best setting and the single-task baselines, every
    point at its mean over seeds with its 95 % interval as error bars."""
    tasks = result["tasks"]
    fig = go.Figure()

    def add(
        name: str,
        entries: list[Mapping[str, Any]],
        color: str,
        symbol: str,
        size: int,
        texts: list[str],
    ) -> None:
        xs: list[float] = []
        ys: list[float] = []
        ex_plus: list[float] = []
        ex_minus: list[float] = []
        ey_plus: list[float] = []
        ey_minus: list[float] = []
        shown: list[str] = []
        for entry, text in zip(entries, texts, strict=True):
            x, xp, xm = _bar(entry["metrics"].get(x_task, {}))
            y, yp, ym = _bar(entry["metrics"].get(y_task, {}))
            if x is None or y is None:
                continue
            for column, value in zip(
                (xs, ys, ex_plus, ex_minus, ey_plus, ey_minus), (x, y, xp, xm, yp, ym), strict=True
            ):
                column.append(value)
            shown.append(plain(text))
        if not xs:
            return
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=plain(name),
                text=shown,
                marker={
                    "size": size,
                    "color": color,
                    "symbol": symbol,
                    "line": {"width": 1, "color": "white"},
                },
                error_x={"type": "data", "array": ex_plus, "arrayminus": ex_minus, "thickness": 1},
                error_y={"type": "data", "array": ey_plus, "arrayminus": ey_minus, "thickness": 1},
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
            )
        )

    front = [f for f in result["front"] if f["metrics"]]
    weights = [" : ".join(f"{w:g}" for w in f["weights"]) for f in front]
    add(
        "static weights (front)", front, MUTED_COLOR, "circle", 9, [f"weights {w}" for w in weights]
    )
    ordered = sorted(
        (
            f
            for f in front
            if f["metrics"][x_task]["mean"] is not None and f["metrics"][y_task]["mean"] is not None
        ),
        key=lambda f: f["metrics"][x_task]["mean"],
    )
    if len(ordered) > 1:
        fig.add_trace(
            go.Scatter(
                x=[f["metrics"][x_task]["mean"] for f in ordered],
                y=[f["metrics"][y_task]["mean"] for f in ordered],
                mode="lines",
                line={"color": MUTED_COLOR, "dash": "dot"},
                showlegend=False,
                hoverinfo="skip",
            )
        )
    add(
        "single-task baselines",
        [{"metrics": result["baseline"]}],
        "#444444",
        "x",
        12,
        ["single-task"],
    )
    for i, (method, entry) in enumerate(result["methods"].items()):
        add(method, [entry], PALETTE[i % len(PALETTE)], "diamond", 14, [method])
    if not fig.data:
        empty_note(fig, "No finished runs yet")
    style(fig, title="Where every method lands (mean and 95% interval over seeds)", height=480)

    def axis(task: str) -> str:
        better = "higher" if tasks[task]["higher_is_better"] else "lower"
        return plain(f"{task} · {tasks[task]['metric']} ({better} is better)")

    fig.update_xaxes(title_text=axis(x_task))
    fig.update_yaxes(title_text=axis(y_task))
    return fig


def delta_figure(result: Mapping[str, Any]) -> go.Figure:
    """Δm of each method's best setting: the mean over seeds and its 95 % interval, with the
    zero line (above it, the method beats the single-task baselines)."""
    names, means, plus, minus, colors = [], [], [], [], []
    for i, (method, entry) in enumerate(result["methods"].items()):
        mean, p, m = _bar(entry["delta_m"])
        if mean is None:
            continue
        names.append(plain(method))
        means.append(mean)
        plus.append(p)
        minus.append(m)
        colors.append(PALETTE[i % len(PALETTE)])
    fig = go.Figure(
        go.Scatter(
            x=means,
            y=names,
            mode="markers",
            marker={"size": 14, "color": colors},
            error_x={"type": "data", "array": plus, "arrayminus": minus, "thickness": 2},
            hovertemplate="%{y}: Δm %{x:.2f}%<extra></extra>",
            showlegend=False,
        )
    )
    fig.add_vline(x=0, line={"color": MUTED_COLOR, "dash": "dash"})
    if not names:
        empty_note(fig, "No finished runs yet")
    style(
        fig,
        title="Δm against the single-task baselines (95% interval over seeds)",
        height=120 + 60 * max(len(names), 1),
        legend=False,
    )
    fig.update_xaxes(title_text="Δm (%)")
    fig.update_yaxes(autorange="reversed")
    return fig


def _span(entry: Mapping[str, Any] | None, digits: int = 2) -> str:
    if not entry or entry.get("mean") is None:
        return "—"
    if entry.get("low") is None:
        return f"{entry['mean']:+.{digits}f}"
    return f"{entry['mean']:+.{digits}f} [{entry['low']:+.{digits}f}, {entry['high']:+.{digits}f}]"


def methods_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row per method: Δm with its interval, whether it helps, the paired difference
    with tuned equal weighting, the relative step time and the chosen setting."""
    helps = {True: "yes", False: "no", None: "inside noise"}
    rows = []
    for method, entry in result["methods"].items():
        best = entry.get("best") or {}
        versus = entry.get("vs_equal")
        rows.append(
            {
                "method": method,
                "Δm % [95% interval]": _span(entry["delta_m"]),
                "helps": helps[entry.get("helps")],
                "vs tuned equal": "—" if method == "equal" else _span(versus),
                "step time vs equal": "—"
                if entry.get("relative_cost") is None
                else f"{entry['relative_cost']:.2f}×",
                "lr": best.get("train.lr"),
                "weight decay": best.get("train.weight_decay"),
                "dropout": best.get("model.dropout"),
            }
        )
    return pd.DataFrame(rows)
