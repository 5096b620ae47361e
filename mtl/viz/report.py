"""One self-contained HTML report for a run, a comparison of runs, or a sweep.

The file needs nothing but a browser: plotly.js (the copy bundled in the ``plotly``
package) is inlined once, every chart is an interactive plotly figure built by the pure
builders of :mod:`mtl.viz`, and there is no link to a CDN, font or image server,
so it works offline and can be mailed to people who install nothing.

What it holds:

- a comparison (two or more runs): one row per run with its settings, Δm and each
  task's test headline metric; Δm per run and task as bars; each task's validation
  curves of all runs overlaid;
- extra sections a caller adds (:class:`Section`, e.g. a sweep's aggregate table and
  Pareto plot);
- per run: status, tags and notes; Δm against a matching finished single-task baseline
  (:mod:`mtl.study.baseline`) with every task's and metric's change; the final test and
  validation metrics; the best validation values; the loss and metric curves, the loss
  weights and the test-set evaluation (confusion matrices, predicted vs actual); and the
  config as YAML (with a download link). Past :data:`DETAILED_RUNS` runs, the per-run
  charts are left out to keep the file small.

Nothing here imports torch or streamlit.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import yaml

from mtl.config import ExperimentConfig
from mtl.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from mtl.runs.output_file import check_output_path, write_output
from mtl.runs.store import RunStore
from mtl.study.baseline import find_baselines, run_delta
from mtl.study.delta import FORMULA, DeltaM, describe_metrics
from mtl.train.predictions import read_predictions
from mtl.viz.colors import SHARED_COLOR, color_for, run_colors, task_colors
from mtl.viz.curves import METRIC_TITLES, curves_figure, overlay_figure, weights_figure
from mtl.viz.evaluation import confusion_figure, pred_actual_figure
from mtl.viz.frames import curve_frame
from mtl.viz.labels import dataset_label, label, plain
from mtl.viz.runs_table import ID, runs_table
from mtl.viz.style import apply_theme, corner_note, style
from mtl.viz.summaries import best_and_latest

__all__ = ["DETAILED_RUNS", "Section", "delta_figure", "report_html", "write_report"]

DETAILED_RUNS = 6
"""Up to this many runs, each run's section has its own charts; past it, tables only."""

HEADLINE_METRICS = ("accuracy", "r2")
"""Metrics drawn per task beside the loss (the first one a task records), as on Compare."""

PLOTLY_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
_METRIC_ORDER = ("loss", *CLASSIFICATION_METRICS, *REGRESSION_METRICS)


@dataclass(frozen=True)
class Section:
    """Extra content placed after the comparison (e.g. a sweep's aggregate table).

    Attributes:
        title: the section heading.
        text: plain text (escaped); blank lines separate paragraphs.
        figures: plotly figures, drawn in order.
        tables: DataFrames, rendered as tables (index shown when it is named).
    """

    title: str
    text: str = ""
    figures: Sequence[go.Figure] = ()
    tables: Sequence[pd.DataFrame] = ()


@dataclass
class _Run:
    run: dict[str, Any]
    label: str
    metrics: pd.DataFrame
    weights: pd.DataFrame
    baseline_id: str | None = None
    delta: DeltaM | None = None
    delta_note: str | None = None
    tasks_meta: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.run["id"])

    @property
    def task_names(self) -> list[str]:
        return [t["name"] for t in (self.run["config"] or {}).get("tasks", [])]


# --------------------------------------------------------------------------- figures


def delta_figure(
    deltas: Mapping[str, DeltaM],
    *,
    title: str = "Multi-task gain over the single-task baseline",
    height: int | None = 420,
) -> go.Figure:
    """Δm and each task's relative change per run, as grouped bars (positive = better).

    Args:
        deltas: run label → its :class:`~mtl.study.delta.DeltaM` (runs without a defined Δm
            are drawn without bars and named in a note).
        title: chart title.
        height: pixels.

    Returns:
        The figure: a grey ``Δm`` bar per run, then one bar per task in its colour; the
        hover text gives the value in percent.
    """
    labels = list(deltas)
    tasks = list(dict.fromkeys(t.task for d in deltas.values() for t in d.tasks))
    colors = task_colors(tasks)
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=labels,
            y=[d.value for d in deltas.values()],
            name="Δm",
            marker={"color": SHARED_COLOR},
            hovertemplate="%{x}<br>Δm %{y:+.2f}%<extra></extra>",
        )
    )
    for task in tasks:
        values = []
        for d in deltas.values():
            match = [t.change for t in d.tasks if t.task == task]
            values.append(match[0] if match else None)
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=task,
                marker={"color": color_for(task, colors)},
                hovertemplate=f"%{{x}}<br>{plain(task)} %{{y:+.2f}}%<extra></extra>",
            )
        )
    style(fig, title=title, height=height)
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category", title_text="run")
    fig.update_yaxes(
        title_text="relative change (%)", zeroline=True, zerolinewidth=2, zerolinecolor=SHARED_COLOR
    )
    undefined = [label for label, d in deltas.items() if d.value is None]
    if undefined:
        corner_note(fig, "Δm undefined for " + plain(", ".join(undefined)), top=True)
    return fig


# --------------------------------------------------------------------------- public API


def report_html(
    store: RunStore,
    run_ids: Sequence[str],
    *,
    title: str | None = None,
    baseline: bool = True,
    sections: Sequence[Section] = (),
) -> str:
    """The report of one or more runs as one self-contained HTML document.

    Args:
        store: the run store.
        run_ids: the runs, in the order to show them (duplicates are dropped); one run
            gives a run report, several a comparison (a sweep passes its runs).
        title: the page title; default: the run's name, or "Comparison of N runs".
        baseline: look up each run's matching finished single-task baseline and show
            Δm (:func:`mtl.study.baseline.run_delta`); ``False`` leaves Δm out.
        sections: extra sections shown after the comparison.

    Returns:
        The HTML text (UTF-8; a few MB, most of it plotly.js).

    Raises:
        ValueError: no run ids.
        RunNotFoundError: an id is not in the store.
    """
    ids = list(dict.fromkeys(str(r) for r in run_ids))
    if not ids:
        raise ValueError("a report needs at least one run id; `python -m mtl runs` lists them")
    runs = [store.get_run(run_id) for run_id in ids]
    labels = _labels(runs)
    items = [
        _Run(
            run,
            labels[run["id"]],
            store.metrics(run["id"]),
            store.weights(run["id"]),
            tasks_meta=_tasks_meta(store, run["id"]),
        )
        for run in runs
    ]
    if baseline:
        _attach_deltas(store, items)
    title = title or (
        items[0].run["name"] if len(items) == 1 else f"Comparison of {len(items)} runs"
    )
    figures = _FigureWriter()
    body: list[str] = [_header(title, items)]
    if len(items) > 1:
        body.append(_comparison(items, store, figures, baseline))
    for section in sections:
        body.append(_extra_section(section, figures))
    detailed = len(items) <= DETAILED_RUNS
    for item in items:
        body.append(
            _run_section(
                item, store, figures, baseline=baseline, charts=detailed, single=len(items) == 1
            )
        )
    if baseline:
        body.append(_delta_notes())
    body.append(_footer())
    return _page(title, "\n".join(body), figures.count)


def write_report(
    store: RunStore,
    run_ids: Sequence[str],
    path: str | Path,
    *,
    title: str | None = None,
    baseline: bool = True,
    sections: Sequence[Section] = (),
) -> Path:
    """Write :func:`report_html` to ``path`` whole (a temporary file, then a rename); returns
    the path. An existing file is replaced; the folder must exist.

    Raises:
        OutputPathError: ``path`` is inside the store's home, a folder, or in a missing
            folder, or the file cannot be written (the message names it and why).
    """
    label = "the report file"
    path = check_output_path(path, [store.home], force=True, label=label, example="report.html")
    text = report_html(store, run_ids, title=title, baseline=baseline, sections=sections)
    return write_output(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), label=label)


# --------------------------------------------------------------------------- gathering


def _labels(runs: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """A short unique label per run: ``name [last 4 of id]``, the full id when that clashes."""
    short = {run["id"]: f"{run['name']} [{str(run['id'])[-4:]}]" for run in runs}
    if len(set(short.values())) < len(short):
        return {run["id"]: f"{run['name']} [{run['id']}]" for run in runs}
    return short


def _tasks_meta(store: RunStore, run_id: str) -> list[dict[str, Any]]:
    path = store.run_dir(run_id) / "tasks.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return meta if isinstance(meta, list) else []


def _attach_deltas(store: RunStore, items: Sequence[_Run]) -> None:
    configs: list[ExperimentConfig | None] = []
    for item in items:
        try:
            configs.append(ExperimentConfig.from_dict(item.run["config"]))
        except ValueError as err:
            configs.append(None)
            item.delta_note = f"Δm unavailable: the run's config is not valid any more ({err})"
    found = find_baselines(store, [c for c in configs if c is not None])
    baselines = iter(found)
    for item, config in zip(items, configs, strict=True):
        if config is None:
            continue
        item.baseline_id = next(baselines)
        if item.baseline_id is None:
            item.delta_note = (
                "No finished single-task baseline matches this run yet; "
                f"`python -m mtl baseline {item.id}` trains one."
            )
        elif item.baseline_id == item.id:
            item.delta_note = "This run is itself a single-task baseline (independent networks)."
        elif not (item.run["summary"] or {}).get("test"):
            item.delta_note = (
                f"Δm needs the run's final test metrics; the run is {item.run['status']}."
            )
        else:
            try:
                item.delta = run_delta(store, item.id, item.baseline_id)
            except ValueError as err:  # e.g. the baseline has no test metrics
                item.delta_note = f"Δm unavailable: {err}"


# --------------------------------------------------------------------------- HTML pieces


class _FigureWriter:
    """Turns figures into ``<div>``s with unique ids (plotly.js is inlined once, in the head)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, fig: go.Figure, css_class: str = "chart") -> str:
        self.count += 1
        fig = apply_theme(go.Figure(fig), "light")  # a copy: the caller's figure stays as it was
        div = pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{self.count}",
            config=PLOTLY_CONFIG,
            validate=True,
        )
        return f'<div class="{css_class}">{div}</div>'


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _code(text: str) -> str:
    """Escaped text with `backticked` parts set as code."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:+.2f}%"


def _sign_class(value: float | None) -> str:
    if value is None or not math.isfinite(value) or value == 0:
        return ""
    return "good" if value > 0 else "bad"


def _table(frame: pd.DataFrame, *, index: bool = False) -> str:
    text = frame.to_html(
        index=index,
        escape=True,
        na_rep="—",
        border=0,
        classes="table",
        float_format=lambda v: f"{v:.4g}",
    )
    return f'<div class="table-wrap">{text}</div>'


def _header(title: str, items: Sequence[_Run]) -> str:
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    what = "1 run" if len(items) == 1 else f"{len(items)} runs"
    return (
        f"<header><h1>{_e(title)}</h1><p class='meta'>MTL Lab report · {what} · generated {_e(now)}"
        "</p></header>"
    )


def _status_badge(status: str) -> str:
    return f'<span class="badge status-{_e(status)}">{_e(status)}</span>'


def _comparison(
    items: Sequence[_Run], store: RunStore, figures: _FigureWriter, baseline: bool
) -> str:
    frame = store.list_runs(with_config=True)
    frame = frame[frame["id"].isin([i.id for i in items])]
    frame = frame.set_index("id").loc[[i.id for i in items]].reset_index()
    table = runs_table(frame, store.extremes("val")).drop(
        columns=[ID, label("name"), label("notes")]
    )
    table = table.dropna(axis=1, how="all")
    table.insert(0, "run", [i.label for i in items])
    if baseline:
        table.insert(3, "Δm", [_pct(None if i.delta is None else i.delta.value) for i in items])
    parts = ["<section id='comparison'><h2>Comparison</h2>", _table(table)]
    deltas = {i.label: i.delta for i in items if i.delta is not None}
    if deltas:
        parts.append(figures(delta_figure(deltas)))
    tasks = list(dict.fromkeys(t for i in items for t in i.task_names))
    colors = run_colors([i.label for i in items])
    charts = []
    for task in tasks:
        has = {
            m for i in items for m in i.metrics.loc[i.metrics["task"] == task, "metric"].unique()
        }
        headline = [m for m in HEADLINE_METRICS if m in has][:1]
        for metric in [m for m in ("loss", *headline) if m in has]:
            frames = {
                i.label: _curve(i.metrics, metric, splits=("val",))
                for i in items
                if task in i.task_names
            }
            name = METRIC_TITLES.get(metric, metric)
            fig = overlay_figure(
                frames, task=task, title=f"{task} · validation {name}", colors=colors
            )
            charts.append(figures(fig))
    if charts:
        parts.append(
            "<h3>Validation curves, all runs</h3><div class='grid'>" + "".join(charts) + "</div>"
        )
    parts.append("</section>")
    return "\n".join(parts)


def _curve(metrics: pd.DataFrame, metric: str, splits: Sequence[str] | None = None) -> pd.DataFrame:
    steps = int((metrics["split"] == "step").sum())
    smoothing = 0.6 if metric == "loss" and steps > 40 else 0.0
    return curve_frame(metrics, metric, x="epoch", smoothing=smoothing, splits=splits)


def _extra_section(section: Section, figures: _FigureWriter) -> str:
    parts = [f"<section><h2>{_e(section.title)}</h2>"]
    for paragraph in [p for p in section.text.split("\n\n") if p.strip()]:
        parts.append(f"<p class='prose'>{_e(paragraph.strip())}</p>")
    parts += [_table(t, index=t.index.name is not None) for t in section.tables]
    if section.figures:
        parts.append("<div class='grid'>" + "".join(figures(f) for f in section.figures) + "</div>")
    parts.append("</section>")
    return "\n".join(parts)


def _run_section(
    item: _Run,
    store: RunStore,
    figures: _FigureWriter,
    *,
    baseline: bool,
    charts: bool,
    single: bool,
) -> str:
    run = item.run
    config = run["config"] or {}
    heading = "Run" if single else _e(item.label)
    parts = [f"<section class='run' id='run-{_e(item.id)}'><h2>{heading}</h2>"]
    facts = [
        ("id", _e(item.id)),
        ("name", _e(run["name"])),
        ("status", _status_badge(run["status"])),
        (
            "model",
            _e(
                f"{config.get('model', {}).get('sharing')} · {config.get('loss', {}).get('weighting')}"
            ),
        ),
        ("data", _e(dataset_label(config.get("data") or {}))),
        ("created", _e(_when(run.get("created_at")))),
        ("duration", _e(_duration(run))),
    ]
    if run["tags"]:
        facts.append(("tags", " ".join(f"<span class='tag'>{_e(t)}</span>" for t in run["tags"])))
    parts.append(
        "<dl class='facts'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
    )
    if run["error"]:
        parts.append(f"<p class='error'>{_e(run['error'])}</p>")
    if run["notes"]:
        parts.append(f"<h3>Notes</h3><div class='notes'>{_e(run['notes'])}</div>")
    if baseline:
        parts.append(_delta_block(item))
    parts.append(_metrics_block(item))
    if charts:
        parts.append(_charts_block(item, store, figures))
    parts.append(_config_block(item))
    parts.append("</section>")
    return "\n".join(parts)


def _when(stamp: Any) -> str:
    if stamp is None or (isinstance(stamp, float) and math.isnan(stamp)):
        return "—"
    return _dt.datetime.fromtimestamp(float(stamp)).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(run: Mapping[str, Any]) -> str:
    start, end = run.get("started_at"), run.get("ended_at")
    if start is None or end is None:
        return "—"
    return f"{float(end) - float(start):.1f} s"


def _delta_block(item: _Run) -> str:
    parts = ["<h3>Multi-task gain Δm</h3>"]
    delta = item.delta
    if delta is None:
        parts.append(f"<p class='muted'>{_code(item.delta_note or 'Δm unavailable.')}</p>")
        return "\n".join(parts)
    if delta.value is None:
        parts.append(f"<p class='delta'>Δm undefined: {_e(delta.excluded)}</p>")
    else:
        parts.append(
            f"<p class='delta'><span class='big {_sign_class(delta.value)}'>Δm = {_pct(delta.value)}</span> "
            f"on the test split: the multi-task run is {delta.verdict} its single-task baseline "
            f"(run <code>{_e(delta.baseline_id)}</code>).</p>"
        )
    rows = []
    for task in delta.tasks:
        metrics = task.metrics or ()
        span = max(len(metrics), 1)
        task_cell = (
            f"<td rowspan='{span}'><b>{_e(task.task)}</b><br><span class='muted'>{_e(task.kind or '')}</span>"
            f"</td><td rowspan='{span}' class='num {_sign_class(task.change)}'>{_pct(task.change)}"
            + (f"<br><span class='muted'>{_e(task.excluded)}</span>" if task.excluded else "")
            + "</td>"
        )
        if not metrics:
            rows.append(f"<tr>{task_cell}<td colspan='5' class='muted'>—</td></tr>")
            continue
        for i, m in enumerate(metrics):
            better = (
                "—" if m.higher_is_better is None else ("higher" if m.higher_is_better else "lower")
            )
            change = (
                f"<td class='num {_sign_class(m.change)}'>{_pct(m.change)}</td>"
                if m.used
                else f"<td class='muted'>left out: {_e(m.excluded)}</td>"
            )
            rows.append(
                "<tr>"
                + (task_cell if i == 0 else "")
                + f"<td>{_e(METRIC_TITLES.get(m.metric, m.metric))}</td><td>{better}</td>"
                f"<td class='num'>{_fmt(m.baseline)}</td><td class='num'>{_fmt(m.model)}</td>{change}</tr>"
            )
    parts.append(
        "<div class='table-wrap'><table class='table delta'><thead><tr><th>task</th><th>task change</th>"
        "<th>metric</th><th>better</th><th>baseline</th><th>this run</th><th>change</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )
    return "\n".join(parts)


def _metrics_block(item: _Run) -> str:
    summary = item.run["summary"] or {}
    rows, reasons = [], []
    for split in ("test", "val"):
        for task, values in (summary.get(split) or {}).items():
            row: dict[str, Any] = {"task": task, "split": split}
            for metric, value in values.items():
                if metric == "undefined":
                    reasons += [f"{task} · {split} · {m}: {r}" for m, r in (value or {}).items()]
                elif isinstance(value, int | float) or value is None:
                    row[metric] = value
            rows.append(row)
    parts = ["<h3>Final metrics</h3>"]
    if not rows:
        parts.append(
            f"<p class='muted'>No final metrics (the run is {_e(item.run['status'])}).</p>"
        )
    else:
        frame = pd.DataFrame(rows)
        ordered = [m for m in _METRIC_ORDER if m in frame.columns]
        frame = frame[
            [
                "task",
                "split",
                *ordered,
                *[c for c in frame.columns if c not in (*ordered, "task", "split")],
            ]
        ]
        frame = frame.rename(columns={m: METRIC_TITLES.get(m, m) for m in ordered})
        parts.append(_table(frame))
        if reasons:
            parts.append(
                "<p class='muted'>Undefined: " + "; ".join(_e(r) for r in reasons) + "</p>"
            )
    best = _best_table(item.metrics)
    if best is not None:
        parts.append("<h3>Best validation values (epoch)</h3>" + _table(best))
    return "\n".join(parts)


def _best_table(metrics: pd.DataFrame) -> pd.DataFrame | None:
    best = best_and_latest(metrics, "val")
    best = best[best["best"].notna()]
    if best.empty:
        return None
    best = best.assign(
        cell=[f"{b:.4g} ({int(e)})" for b, e in zip(best["best"], best["best_epoch"], strict=True)]
    )
    table = best.pivot(index="task", columns="metric", values="cell")
    order = [m for m in _METRIC_ORDER if m in table.columns]
    table = table[order].rename(columns={m: METRIC_TITLES.get(m, m) for m in order})
    table.columns.name = None
    tasks = list(dict.fromkeys(best["task"]))
    return table.loc[tasks].reset_index()


def _charts_block(item: _Run, store: RunStore, figures: _FigureWriter) -> str:
    metrics = item.metrics
    if metrics.empty:
        return "<p class='muted'>No curves recorded.</p>"
    colors = task_colors(item.task_names)
    charts = [figures(curves_figure(_curve(metrics, "loss"), title="Loss", colors=colors))]
    for metric in HEADLINE_METRICS:
        if (metrics["metric"] == metric).any():
            name = METRIC_TITLES.get(metric, metric)
            charts.append(
                figures(curves_figure(_curve(metrics, metric), title=name, colors=colors))
            )
    weights = item.weights
    if len(weights) and weights["weight"].nunique(dropna=True) > 1:
        charts.append(figures(weights_figure(weights, x="epoch", metrics=metrics, colors=colors)))
    parts = ["<h3>Training curves</h3><div class='grid'>" + "".join(charts) + "</div>"]
    evaluation = _evaluation_figures(item, store, colors)
    if evaluation:
        parts.append(
            "<h3>Test set</h3><div class='grid'>"
            + "".join(figures(f) for f in evaluation)
            + "</div>"
        )
    return "\n".join(parts)


def _evaluation_figures(item: _Run, store: RunStore, colors: Mapping[str, str]) -> list[go.Figure]:
    out: list[go.Figure] = []
    for meta in item.tasks_meta:
        name = str(meta.get("name"))
        try:
            frame = read_predictions(store.run_dir(item.id), name)
        except ValueError:  # a damaged file, or a task name that is no plain file name
            continue
        if frame is None:
            continue
        if meta.get("kind") == "regression":
            for target in list(meta.get("targets") or [])[:3]:
                true, pred = f"true_{target}", f"pred_{target}"
                if true in frame and pred in frame:
                    title = f"{name} · predicted vs actual" + (
                        f" ({target})" if target != name else ""
                    )
                    out.append(
                        pred_actual_figure(
                            frame[true],
                            frame[pred],
                            title=title,
                            color=color_for(name, dict(colors)),
                        )
                    )
        elif "true" in frame and "pred" in frame and meta.get("classes"):
            classes = [str(c) for c in meta["classes"]]
            true_labels = [None if pd.isna(v) else str(v) for v in frame["true"]]
            pred_labels = [str(v) for v in frame["pred"]]
            out.append(
                confusion_figure(
                    true_labels, pred_labels, classes, title=f"{name} · confusion matrix"
                )
            )
    return out


def _config_block(item: _Run) -> str:
    text = yaml.safe_dump(item.run["config"] or {}, sort_keys=False, allow_unicode=True)
    filename = (
        "".join(c if c.isalnum() or c in "-_." else "-" for c in str(item.run["name"])) or "config"
    )
    href = "data:text/yaml;charset=utf-8," + urllib.parse.quote(text)
    return (
        "<details class='config'><summary>Config (YAML)</summary>"
        f"<p><a download='{_e(filename)}.yaml' href='{_e(href)}'>Download config</a> · "
        f"load it again with <code>python -m mtl run {_e(filename)}.yaml</code></p>"
        f"<pre><code>{_e(text)}</code></pre></details>"
    )


def _delta_notes() -> str:
    return (
        "<section id='about-delta'><h2>How Δm is computed</h2>"
        f"<p class='formula'>{_e(FORMULA)}</p>"
        "<p class='prose'>M is this run, B its single-task baseline: the same data, tasks, encoder and "
        "training settings with one network per task and nothing shared (the <code>independent</code> "
        "architecture, equal loss weights). s<sub>m</sub> is +1 for a metric where higher is better and −1 "
        "where lower is better, so a positive Δm means the multi-task run is better on average; each task "
        "counts the same. The denominator is |B|, so a negative baseline value (R² below 0) keeps the "
        "direction right. A metric whose baseline value is 0 has no relative change and is left out for "
        "that task (a task left with no metric is left out of the average). Test-split metrics used: "
        f"{_e(describe_metrics())}.</p></section>"
    )


def _footer() -> str:
    return (
        "<footer>Made with MTL Lab. Interactive charts by plotly.js, included in this file: it works "
        "offline. Hover for values, drag to zoom, double-click to reset, click a legend entry to hide "
        "a line.</footer>"
    )


_CSS = """
:root { --fg: #31333F; --muted: #6b6f7b; --line: #e3e5ea; --good: #087f5b; --bad: #c92a2a; --bg2: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1240px; padding: 24px 28px 64px; color: var(--fg); background: #fff;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 22px; margin: 40px 0 12px; padding-top: 8px;
     border-top: 1px solid var(--line); } h3 { font-size: 17px; margin: 24px 0 8px; }
.meta, .muted { color: var(--muted); }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--bg2); padding: 12px 14px; border-radius: 6px; overflow-x: auto; }
.table-wrap { overflow-x: auto; margin: 8px 0 12px; }
table.table { border-collapse: collapse; font-size: 14px; }
table.table th, table.table td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left;
     vertical-align: top; white-space: nowrap; }
table.table th { background: var(--bg2); font-weight: 600; }
td.num, table.table td { font-variant-numeric: tabular-nums; }
.good { color: var(--good); } .bad { color: var(--bad); }
.big { font-size: 20px; font-weight: 700; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 8px 20px; }
.chart { min-width: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
.badge { padding: 1px 8px; border-radius: 10px; font-size: 13px; background: var(--bg2); }
.status-finished { background: #d3f9d8; } .status-failed, .status-diverged { background: #ffe3e3; }
.status-running, .status-queued { background: #e7f5ff; }
.tag { display: inline-block; padding: 0 8px; margin-right: 4px; border: 1px solid var(--line); border-radius: 10px;
       font-size: 13px; }
.notes { white-space: pre-wrap; background: var(--bg2); padding: 10px 14px; border-radius: 6px; }
.error { color: var(--bad); }
.formula { font-size: 17px; }
.prose { max-width: 900px; }
details.config { margin-top: 16px; } details.config summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; }
@media (max-width: 700px) { .grid { grid-template-columns: 1fr; } }
"""


_RELAYOUT = (
    "<script>window.addEventListener('load', function () { window.dispatchEvent(new Event('resize')); });"
    "</script>"
)
"""Charts are drawn while the page is still being laid out; one resize event once it is
complete lets every (responsive) chart fit its final width."""


def _page(title: str, body: str, n_figures: int) -> str:
    # plotly.js goes in the head, once; "</script" does not occur in it (a test checks).
    script = f"<script>{_plotlyjs()}</script>" if n_figures else ""
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='generator' content='MTL Lab'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style>{script}</head>\n<body>\n{body}\n{_RELAYOUT}</body></html>\n"
    )


def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()
