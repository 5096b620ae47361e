"""Live: watch one run train. The run id is in the URL, so a refresh keeps the view.

Watching is cheap: each chart gets its whole figure once (first view, a new control
value, a new series) and then only the new points; the page polls only while the run is
queued or running, at the interval chosen under "Refresh".
"""

import os
import time

import pandas as pd
import streamlit as st

from mtl.csv_safe import to_csv
from mtl.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS
from mtl.runs.status import ACTIVE, RunStatus
from mtl.ui import session
from mtl.ui.live_chart import stream_curve, stream_figure
from mtl.viz.colors import run_colors, task_colors
from mtl.viz.curves import X_TITLES, curves_figure, weights_figure
from mtl.viz.evaluation import pair_heatmap
from mtl.viz.frames import X_AXES, CurveFeed, curve_frame
from mtl.viz.labels import markdown_text
from mtl.viz.overfitting import gap_sentence, kept_epoch, loss_gap
from mtl.viz.summaries import best_and_latest, pair_matrix, progress

REFRESH_CHOICES = (0.5, 1.0, 2.0, 5.0)  # seconds between polls the viewer can choose
REFRESH_ENV = "MTL_LIVE_REFRESH_S"


def default_refresh() -> float:
    """``$MTL_LIVE_REFRESH_S`` when it is one of the choices, else 1 s."""
    try:
        value = float(os.environ.get(REFRESH_ENV, "1"))
    except ValueError:
        return 1.0
    return value if value in REFRESH_CHOICES else 1.0


presenting = session.presenting()
if not presenting:
    st.title("Live")
session.refresh_queue()
run_id = session.run_from_query() if presenting else session.pick_run("live", watch=False)
if run_id is None:
    st.stop()
store = session.store()
run = store.get_run(run_id)
kinds = {t["name"]: t.get("kind") for t in run["config"]["tasks"]}
colors = task_colors(list(kinds))
families = {}  # metric family -> the metrics its chart can show (a kind inferred at run time: both)
if any(kind != "regression" for kind in kinds.values()):
    families["classification"] = list(CLASSIFICATION_METRICS)
if any(kind in ("regression", None) for kind in kinds.values()):
    families["regression"] = list(REGRESSION_METRICS)
DEFAULT_METRIC = {"classification": "accuracy", "regression": "rmse"}

if presenting:  # the view's settings come from the link
    smoothing = session.query_float("smoothing", 0.6, 0.0, 0.99)
    x_axis = session.query_choice("x", list(X_AXES), "step")
    log_y = st.query_params.get("log_y") == "1"
    refresh = session.query_float(
        "refresh", default_refresh(), min(REFRESH_CHOICES), max(REFRESH_CHOICES)
    )
    shown = {
        f: session.query_choice(f, options, DEFAULT_METRIC[f]) for f, options in families.items()
    }
else:
    controls = st.columns([2.2, 4, 1.6, 1.9, 1.2, 2.2], vertical_alignment="bottom")
    smoothing = controls[0].slider(
        "Smoothing",
        0.0,
        0.99,
        0.6,
        0.01,
        key="live.smoothing",
        help="Exponential moving average; the raw line stays faint behind it",
    )
    x_axis = controls[1].radio(
        "x-axis", X_AXES, horizontal=True, key="live.x", format_func=X_TITLES.get
    )
    log_y = controls[2].toggle("Log y", key="live.log_y")
    refresh = controls[3].selectbox(
        "Refresh",
        REFRESH_CHOICES,
        index=REFRESH_CHOICES.index(default_refresh()),
        key="live.refresh",
        format_func=lambda s: f"every {s:g} s",
        help="How often the page asks for new points while the run trains",
    )
    with controls[4]:
        if run["status"] in ACTIVE and st.button("Stop", type="primary", key="live.stop"):
            store.request_stop(run_id)
            st.toast("Stopping at the next step…")
    shown = {f: st.session_state.get(f"live.metric.{f}", DEFAULT_METRIC[f]) for f in families}
    with controls[5]:
        session.presenter_link(
            "live",
            {
                "run": run_id,
                "smoothing": f"{smoothing:g}",
                "x": x_axis,
                "log_y": "1" if log_y else "0",
                "refresh": f"{refresh:g}",
                **shown,
            },
        )

# What each chart of this viewer holds is kept per tab; a full page run (first view, a
# control, a reconnect) sends every chart whole again, the polls only what is new.
sent: dict = {}


def read_new(
    reader: str, weights: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """(all metric rows, the metric rows new since this reader's last call, all weight rows
    when asked); each reader (a fragment) reads only rows newer than what it has."""
    cache = st.session_state.setdefault(f"live.cache.{run_id}.{reader}", {"m": None, "w": None})
    news = {}
    for key, read in (("m", store.metrics), ("w", store.weights) if weights else (None, None)):
        if key is None:
            continue
        have = cache[key]
        after = 0 if have is None or have.empty else int(have["id"].max())
        new = read(run_id, after_id=after)
        news[key] = new
        if have is None or have.empty:
            cache[key] = new
        elif not new.empty:
            cache[key] = pd.concat([have, new], ignore_index=True)
    return cache["m"], news["m"], cache["w"] if weights else None


live = run["status"] in ACTIVE
poll = refresh if live else None


def curve(
    key: str,
    metric: str,
    title: str,
    metrics: pd.DataFrame,
    new: pd.DataFrame,
    *,
    splits: tuple[str, ...] | None = None,
    chart_colors: dict | None = None,
    height: int = 360,
) -> None:
    """One streamed curve chart of ``metric``."""
    stream_curve(
        f"live.{key}.{run_id}",
        slots=sent,
        signature=(metric, x_axis, smoothing, log_y, splits),
        make_feed=lambda: CurveFeed(metric, x_axis, smoothing, splits),
        metrics=metrics,
        new=new,
        height=height,
        figure=lambda frame: curves_figure(
            frame, title=title, log_y=log_y, height=height, colors=chart_colors or colors
        ).update_layout(uirevision=f"{x_axis}-{log_y}"),
    )


@st.fragment(run_every=poll)
def view() -> None:
    """Progress, the loss chart and one chart per metric family: what changes on each poll."""
    current = store.get_run(run_id)
    metrics, new, _ = read_new("main")
    info = progress(metrics, current)
    eta = (
        f", about {info['eta_s']:.0f} s left"
        if info.get("eta_s") is not None and current["status"] == RunStatus.RUNNING
        else ""
    )
    st.progress(
        float(info["fraction"]),
        text=f"epoch {info['epoch']} of {info['epochs']} · step {info['steps']}{eta}",
    )
    if current["error"]:
        st.error(current["error"])
    if metrics.empty:
        if current["status"] in ACTIVE:
            waited = max(0.0, time.time() - float(current["created_at"]))
            st.info(
                f"Starting the worker… {waited:.0f} s"
                if current["status"] == RunStatus.RUNNING
                else f"Queued, waiting for a free slot… {waited:.0f} s"
            )
        else:
            st.info("No points recorded.")
    else:
        curve("loss", "loss", "Loss per task (train: solid, validation: dashed)", metrics, new)
        for column, metric in zip(st.columns(2), shown.values(), strict=False):
            with column:
                curve(f"metric.{metric}", metric, metric, metrics, new)
    if current["status"] != run["status"]:
        status_changed()


@st.fragment(run_every=poll)
def weights_and_conflict() -> None:
    """The loss weights (redrawn once per epoch) and, with diagnostics, the task conflict charts."""
    metrics, new, weights = read_new("more", weights=True)
    epochs_done = progress(metrics, run)["epoch"]
    left, right = st.columns(2)
    with left:
        stream_figure(
            f"live.weights.{run_id}",
            slots=sent,
            signature=(x_axis, epochs_done, len(weights) > 0),
            figure=lambda: weights_figure(
                weights, x=x_axis, colors=colors, metrics=metrics
            ).update_layout(uirevision=f"{x_axis}"),
        )
    if not (metrics["split"] == "diag").any():
        right.caption("Task conflict charts appear when the run records diagnostics.")
        return
    st.subheader("Task conflict", anchor=False)
    st.caption(
        "Cosine between task gradients on the shared layers: below 0 the tasks pull the shared "
        "layers in conflicting directions."
    )
    left, right = st.columns([3, 2])
    with left:
        cosine_colors = run_colors(
            sorted(metrics.loc[metrics["split"] == "diag", "task"].unique().tolist())
        )
        curve(
            "cosine",
            "cosine",
            "Gradient cosine per task pair",
            metrics,
            new,
            splits=("diag",),
            chart_colors=cosine_colors,
        )
    matrix_at = int(metrics.loc[metrics["split"] == "diag", "step"].max())
    with right:
        stream_figure(
            f"live.cosmap.{run_id}",
            slots=sent,
            signature=(epochs_done, matrix_at // 50),
            figure=lambda: pair_heatmap(
                pair_matrix(metrics, "cosine", list(kinds)),
                title="Latest gradient cosine",
                value_name="cosine",
            ),
        )


@st.fragment(run_every=poll)
def best_values() -> None:
    """Best and latest validation values per task and metric."""
    metrics, _, _ = read_new("best")
    st.dataframe(best_and_latest(metrics), hide_index=True, width="stretch")


@st.fragment(run_every=poll)
def overfitting() -> None:
    """Training vs validation loss per task, at the kept epoch and the latest one."""
    metrics, _, _ = read_new("gap")
    stopping = run["config"]["train"].get("early_stopping") is not None
    gaps = loss_gap(metrics, kept_epoch(run["summary"], stopping))  # kept: once the run ended
    st.dataframe(gaps, hide_index=True, width="stretch", placeholder="—")
    st.text(gap_sentence(gaps))


def status_changed() -> None:
    """The run moved on (queued → running, or it ended): redraw the whole page once, so the
    badge, the picker's label and the Stop button follow, and polling stops at the end. The
    poll already reads the run's row, so following its status costs no extra query."""
    st.rerun(scope="app")


def plotted_csv() -> str:
    """The rows behind the charts (long form), read and made when the button is clicked."""
    metrics = store.metrics(run_id)
    frames = [curve_frame(metrics, m, x_axis, smoothing) for m in ("loss", *shown.values())]
    return to_csv(pd.concat(frames))


if not presenting:
    for column, (family, options) in zip(st.columns(2), families.items(), strict=False):
        shown[family] = column.selectbox(
            f"{family.capitalize()} metric",
            options,
            key=f"live.metric.{family}",
            index=options.index(DEFAULT_METRIC[family]),
        )
st.subheader(f"{markdown_text(run['name'])} {session.status_badge(run['status'])}", anchor=False)
view()
# Drawn (and polling) only while open: a closed expander costs nothing. Open by default
# once the run has ended (nothing polls then).
more = st.expander(
    "Loss weights and task conflict", expanded=not live, key="live.more", on_change="rerun"
)
if more.open:
    with more:
        weights_and_conflict()
best = st.expander(
    "Best and latest values (validation)", expanded=not live, key="live.best", on_change="rerun"
)
if best.open:
    with best:
        best_values()
gap = st.expander(
    "Overfitting: training vs validation loss", expanded=not live, key="live.gap", on_change="rerun"
)
if gap.open:
    with gap:
        overfitting()
st.download_button(
    "Download what is plotted (CSV)",
    plotted_csv,
    file_name=f"{run_id}-curves.csv",
    mime="text/csv",
    key="live.csv",
    on_click="ignore",
)
