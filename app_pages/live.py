"""Live: watch one run train. The run id is in the URL, so a refresh keeps the view."""

import pandas as pd
import streamlit as st

from mtl.runs.store import TERMINAL_STATUSES
from mtl.train.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from mtl.ui import session
from mtl.ui.colors import task_colors
from mtl.ui.curves import best_and_latest, curve_frame, progress
from mtl.ui.figures import curves_figure, weights_figure
from mtl.ui.live_chart import live_chart

POLL_SECONDS = 1.0

st.title("Live")
session.refresh_queue()
run_id = session.pick_run("live")
if run_id is None:
    st.stop()
store = session.store()
run = store.get_run(run_id)
kinds = {t["name"]: t.get("kind") for t in run["config"]["tasks"]}
colors = task_colors(list(kinds))

controls = st.columns([2, 2, 2, 1])
smoothing = controls[0].slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="live.smoothing",
                               help="Exponential moving average; the raw line stays faint behind it")
x_axis = controls[1].radio("x-axis", ["step", "epoch", "wall_time"], horizontal=True, key="live.x",
                           format_func={"step": "step", "epoch": "epoch", "wall_time": "time (s)"}.get)
log_y = controls[2].toggle("Log-scale y", key="live.log_y")
with controls[3]:
    if run["status"] in ("queued", "running") and st.button("Stop", type="primary", key="live.stop"):
        store.request_stop(run_id)
        st.toast("Stopping at the next step…")


def read_new(run_id: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All metrics and weights of the run, reading only rows newer than what this tab has."""
    cache = st.session_state.setdefault(f"live.cache.{run_id}", {"m": None, "w": None})
    for key, reader in (("m", store.metrics), ("w", store.weights)):
        have = cache[key]
        after = 0 if have is None or have.empty else int(have["id"].max())
        new = reader(run_id, after_id=after)
        cache[key] = new if have is None or have.empty else (have if new.empty else pd.concat([have, new], ignore_index=True))
    return cache["m"], cache["w"]


live = run["status"] in ("queued", "running")


@st.fragment(run_every=POLL_SECONDS if live else None)
def view() -> None:
    current = store.get_run(run_id)
    revision = f"{x_axis}-{log_y}"  # a new axis meaning resets the zoom; new points keep it
    metrics, weights = read_new(run_id)
    info = progress(metrics, current)
    head = st.columns([3, 2])
    head[0].subheader(f"{current['name']} {session.status_badge(current['status'])}")
    eta = f", about {info['eta_s']:.0f} s left" if info.get("eta_s") is not None and current["status"] == "running" else ""
    head[1].progress(float(info["fraction"]),
                     text=f"epoch {info['epoch']} of {info['epochs']} · step {info['steps']}{eta}")
    if current["error"]:
        st.error(current["error"])
    if metrics.empty:
        st.info("Waiting for the first points…" if current["status"] in ("queued", "running") else "No points recorded.")
    else:
        plotted = []
        loss = curve_frame(metrics, "loss", x_axis, smoothing)
        plotted.append(loss)
        cols = st.columns(2)
        with cols[0]:
            figure = curves_figure(loss, title="Loss per task (train: solid, validation: dashed)",
                                   log_y=log_y, colors=colors)
            live_chart(figure.update_layout(uirevision=revision), key=f"live.loss.{run_id}")
        with cols[1]:
            if not weights.empty:
                figure = weights_figure(weights, x=x_axis, colors=colors, metrics=metrics)
                live_chart(figure.update_layout(uirevision=revision), key=f"live.weights.{run_id}")
        names = [m for m in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS) if m in set(metrics["metric"])]
        grid = st.columns(2)
        for i, metric in enumerate(names):
            frame = curve_frame(metrics, metric, x_axis, smoothing)
            if frame.empty:
                continue
            plotted.append(frame)
            with grid[i % 2]:
                figure = curves_figure(frame, title=metric, log_y=log_y, colors=colors)
                live_chart(figure.update_layout(uirevision=revision), key=f"live.{metric}.{run_id}", height=300)
        st.subheader("Best and latest (validation)")
        st.dataframe(best_and_latest(metrics), hide_index=True, width="stretch")
        st.download_button("Download what is plotted (CSV)", pd.concat(plotted).to_csv(index=False),
                           file_name=f"{run_id}-curves.csv", mime="text/csv", key="live.csv")
    if live and current["status"] in TERMINAL_STATUSES:
        st.rerun()  # the run ended: redraw the page once, without polling


view()
