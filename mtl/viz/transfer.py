"""A transfer study's views: the data-efficiency figure and the guide's comparison table.

:func:`data_efficiency_figure` draws the target's test metric against the share of its
training labels (log x-axis), one line per method with a ± std band over seeds.

The guide compares the two in four rows (purpose, method, strength, weakness). A transfer
study (:mod:`mtl.study.transfer`) adds what was measured on the user's data: the target's
test metric at the smallest and the full label fraction (mean ± std over seeds, single-task
alongside), the training cost, and one sentence per method saying what the numbers show.
Pure functions of :func:`mtl.study.transfer.summarize` frames; torch-free.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from mtl.runs.store import RunStore
from mtl.study.sweeps import get_sweep
from mtl.study.transfer import MIN_VERDICT_SEEDS, study_results, summarize
from mtl.viz.colors import PALETTE
from mtl.viz.labels import metric_label, plain
from mtl.viz.report import Section, report_html
from mtl.viz.style import style

__all__ = [
    "COLUMNS",
    "GUIDE",
    "comparison_table",
    "data_efficiency_figure",
    "transfer_report",
    "verdict",
]

GUIDE: dict[str, dict[str, str]] = {
    "purpose": {
        "mtl": "improve several tasks at once",
        "transfer": "improve one target task",
        "single": "one task, one model (the reference)",
    },
    "method": {
        "mtl": "train the tasks together (shared layers)",
        "transfer": "reuse a model trained on the other tasks, fine-tune on the target",
        "single": "train on the target's labels only",
    },
    "strength": {
        "mtl": "few data needed for several models",
        "transfer": "high accuracy from little data",
        "single": "nothing to go wrong between tasks",
    },
    "weakness": {
        "mtl": "hard to interpret",
        "transfer": "useless when the source task is unlike the target",
        "single": "needs many labels",
    },
}
"""The guide's four rows, per method."""

COLUMNS = {"single": "Single-task", "mtl": "Multi-task learning", "transfer": "Transfer learning"}


def _cell(summary: pd.DataFrame, method: str, fraction: float) -> str:
    row = summary[(summary.method == method) & (summary.fraction == fraction)]
    if row.empty:
        return "—"
    mean, std = float(row["mean"].iloc[0]), float(row["std"].iloc[0])
    return f"{mean:.3f}" if math.isnan(std) else f"{mean:.3f} ± {std:.3f}"


def verdict(summary: pd.DataFrame, method: str) -> str:
    """One sentence on ``method`` against single-task, from :func:`mtl.study.transfer.summarize`.

    A fraction is judged only with at least :data:`~mtl.study.transfer.MIN_VERDICT_SEEDS`
    finished seeds for the method and for single-task (one seed has no spread); when no
    fraction has them the sentence says so and claims nothing.
    """
    if method == "single":
        return "The reference: each other method is judged against it, fraction by fraction."
    rows = summary[summary.method == method]
    rows = rows[rows["vs_single"].notna()]
    if rows.empty:
        return "No finished runs to judge yet."
    single = summary[summary.method == "single"].set_index("fraction")["n"]
    judged = rows[(rows.n >= MIN_VERDICT_SEEDS) & (rows.fraction.map(single) >= MIN_VERDICT_SEEDS)]
    if judged.empty:
        return (
            "No verdict: with one finished seed per point there is no seed spread to judge "
            f"a difference against; run at least {MIN_VERDICT_SEEDS} seeds."
        )
    better = [f"{f:.0%}" for f in rows[rows.better].fraction]
    worse = [f"{f:.0%}" for f in rows[rows.negative].fraction]
    name = COLUMNS[method].lower()
    if worse:
        return f"Negative transfer: {name} is worse than single-task beyond the seed spread at {', '.join(worse)} of the labels."
    if better:
        return f"Helps: {name} beats single-task by more than the seed spread at {', '.join(better)} of the labels."
    where = (
        "every fraction"
        if len(judged) == len(rows)
        else f"every fraction with {MIN_VERDICT_SEEDS}+ seeds"
    )
    return f"No clear effect: {name} stays within the seed spread of single-task at {where}."


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The guide's table with the measured rows; one column per method (headers :data:`COLUMNS`).

    Rows: purpose, method, strength, weakness (the guide), then ``<metric> at <smallest>``,
    ``<metric> at <largest>`` (mean ± std over seeds), ``training cost (s)`` (mean per run;
    transfer includes its pretraining), ``verdict``.
    """
    metric = metric_label(summary.attrs.get("metric", "loss"))
    fractions = sorted(summary["fraction"].unique()) if not summary.empty else []
    rows: dict[str, dict[str, str]] = {k: dict(v) for k, v in GUIDE.items()}
    if fractions:
        low, high = fractions[0], fractions[-1]
        rows[f"test {metric} at {low:.0%} of the labels"] = {
            m: _cell(summary, m, low) for m in COLUMNS
        }
        if high != low:
            rows[f"test {metric} at {high:.0%} of the labels"] = {
                m: _cell(summary, m, high) for m in COLUMNS
            }
        cost = summary.groupby("method")["cost_s"].mean()
        rows["training cost (s per run)"] = {
            m: "—" if m not in cost or math.isnan(cost[m]) else f"{cost[m]:.1f}" for m in COLUMNS
        }
    rows["verdict"] = {m: verdict(summary, m) for m in COLUMNS}
    table = pd.DataFrame(rows).T[list(COLUMNS)]
    table.columns = [COLUMNS[m] for m in COLUMNS]
    table.index.name = "aspect"
    return table


def _band_color(color: str, alpha: float = 0.18) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def data_efficiency_figure(summary: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Target test metric vs label fraction (log x): a line per method, a ± std band around it.

    Args:
        summary: :func:`mtl.study.transfer.summarize` (``attrs``: ``metric``, ``target``).
        title: the figure's title; default names the target and the metric.
    """
    metric = summary.attrs.get("metric", "loss")
    target = summary.attrs.get("target") or "target"
    fig = go.Figure()
    for index, method in enumerate(COLUMNS):
        part = summary[summary.method == method].sort_values("fraction")
        if part.empty:
            continue
        color = PALETTE[index % len(PALETTE)]
        x = part["fraction"].tolist()
        upper = (part["mean"] + part["std"]).tolist()
        lower = (part["mean"] - part["std"]).tolist()
        fig.add_trace(
            go.Scatter(
                x=x + x[::-1],
                y=upper + lower[::-1],
                mode="lines",
                fill="toself",
                fillcolor=_band_color(color),
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name=f"{COLUMNS[method]} ± std",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=part["mean"].tolist(),
                mode="lines+markers",
                name=COLUMNS[method],
                line={"color": color, "width": 2.5},
                marker={"size": 8},
                customdata=part[["std", "n"]].to_numpy(),
                hovertemplate="%{x:.0%} of the labels: %{y:.3f} ± %{customdata[0]:.3f}"
                " (%{customdata[1]} seeds)<extra>%{fullData.name}</extra>",
            )
        )
    ticks = sorted(summary["fraction"].unique()) if not summary.empty else []
    fig.update_xaxes(
        tickvals=ticks,
        type="log",
        title_text=f"share of {plain(target)}'s training labels",
        tickformat=".0%",
    )
    fig.update_yaxes(
        title_text=f"{plain(target)}: test {metric_label(metric)}"
    )  # axis titles: escaped here
    return style(fig, title=title or f"Data efficiency on {target}: test {metric_label(metric)}")


def transfer_report(store: RunStore, study_id: str) -> str:
    """The study as one self-contained HTML report: the plot and the table first, then its runs."""
    results = study_results(store, study_id)
    summary = summarize(results)
    verdicts = "\n\n".join(f"{COLUMNS[m]}: {verdict(summary, m)}" for m in ("mtl", "transfer"))
    section = Section(
        title="Data efficiency: single-task vs multi-task vs transfer learning",
        text=verdicts,
        figures=[data_efficiency_figure(summary)] if not summary.empty else [],
        tables=[comparison_table(summary)],
    )
    name = get_sweep(store, study_id).get("name", study_id)
    return report_html(
        store, results["id"].tolist(), title=f"Transfer study {name}", sections=[section]
    )
