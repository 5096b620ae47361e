"""Live: watch one run train. The run id is in the URL, so a refresh keeps the view."""

import pandas as pd
import streamlit as st

from mtl.runs.store import TERMINAL_STATUSES
from mtl.train.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from mtl.ui import session
from mtl.ui.colors import run_colors, task_colors
from mtl.ui.curves import best_and_latest, curve_frame, pair_matrix, progress
from mtl.ui.figures import curves_figure, fit_height, pair_heatmap, weights_figure
from mtl.ui.labels import markdown_text
from mtl.ui.live_chart import live_chart

POLL_SECONDS = 0.5

presenting = session.presenting()
if not presenting:
    st.title("Live")
session.refresh_queue()
run_id = session.run_from_query() if presenting else session.pick_run("live")
if run_id is None:
    st.stop()
store = session.store()
run = store.get_run(run_id)
kinds = {t["name"]: t.get("kind") for t in run["config"]["tasks"]}
colors = task_colors(list(kinds))
metric_names = set()
for kind in kinds.values():
    metric_names.update(REGRESSION_METRICS if kind == "regression" else CLASSIFICATION_METRICS)
if None in kinds.values():  # a kind inferred at run time: all of them
    metric_names.update((*CLASSIFICATION_METRICS, *REGRESSION_METRICS))

X_AXES = ["step", "epoch", "wall_time"]
if presenting:  # the view's settings come from the link
    smoothing = session.query_float("smoothing", 0.6, 0.0, 0.99)
    x_axis = session.query_choice("x", X_AXES, "step")
    log_y = st.query_params.get("log_y") == "1"
else:
    controls = st.columns([2, 2, 2, 1, 1])
    smoothing = controls[0].slider("Smoothing", 0.0, 0.99, 0.6, 0.01, key="live.smoothing",
                                   help="Exponential moving average; the raw line stays faint behind it")
    x_axis = controls[1].radio("x-axis", X_AXES, horizontal=True, key="live.x",
                               format_func={"step": "step", "epoch": "epoch", "wall_time": "time (s)"}.get)
    log_y = controls[2].toggle("Log-scale y", key="live.log_y")
    with controls[3]:
        if run["status"] in ("queued", "running") and st.button("Stop", type="primary", key="live.stop"):
            store.request_stop(run_id)
            st.toast("Stopping at the next step…")
    with controls[4]:
        session.presenter_link("live", {"run": run_id, "smoothing": f"{smoothing:g}", "x": x_axis,
                                        "log_y": "1" if log_y else "0"})


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


def cached_figure(key: str, signature: tuple, build):  # type: ignore[no-untyped-def]
    """The chart's figure, rebuilt only when its data or the controls changed since the last poll."""
    slot = st.session_state.setdefault("live.figures", {})
    if key not in slot or slot[key][0] != signature:
        slot[key] = (signature, build())
    return slot[key][1]


@st.fragment(run_every=POLL_SECONDS if live else None)
def view() -> None:
    current = store.get_run(run_id)
    revision = f"{x_axis}-{log_y}"  # a new axis meaning resets the zoom; new points keep it
    metrics, weights = read_new(run_id)
    info = progress(metrics, current)
    head = st.columns([3, 2])
    head[0].subheader(f"{markdown_text(current['name'])} {session.status_badge(current['status'])}")
    eta = f", about {info['eta_s']:.0f} s left" if info.get("eta_s") is not None and current["status"] == "running" else ""
    head[1].progress(float(info["fraction"]),
                     text=f"epoch {info['epoch']} of {info['epochs']} · step {info['steps']}{eta}")
    if current["error"]:
        st.error(current["error"])
    # The charts keep fixed places (loss and weights first, even before the first point),
    # so each one is the same element on every poll and only its data changes.
    controls = (x_axis, smoothing, log_y, len(metrics))
    loss = curve_frame(metrics, "loss", x_axis, smoothing)
    plotted = [loss]
    cols = st.columns(2)
    with cols[0]:
        figure = cached_figure(f"loss.{run_id}", controls, lambda: curves_figure(
            loss, title="Loss per task (train: solid, validation: dashed)", log_y=log_y, colors=colors
        ).update_layout(uirevision=revision))
        live_chart(figure, key=f"live.loss.{run_id}")
    with cols[1]:
        figure = cached_figure(f"weights.{run_id}", (*controls, len(weights)), lambda: weights_figure(
            weights, x=x_axis, colors=colors, metrics=metrics).update_layout(uirevision=revision))
        live_chart(figure, key=f"live.weights.{run_id}")
    if metrics.empty:
        st.info("Waiting for the first points…" if current["status"] in ("queued", "running") else "No points recorded.")
        return
    grid = st.columns(2)
    epochs_done = int(metrics["epoch"].max()) if "epoch" in metrics else 0
    for i, metric in enumerate(m for m in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS) if m in metric_names):
        frame = curve_frame(metrics, metric, x_axis, smoothing)
        plotted.append(frame)
        with grid[i % 2]:  # epoch-level curves change once per epoch, not on every poll
            figure = cached_figure(f"{metric}.{run_id}", (x_axis, smoothing, log_y, epochs_done, len(frame)),
                                   lambda f=frame, m=metric: fit_height(curves_figure(
                                       f, title=m, log_y=log_y, colors=colors), 340).update_layout(uirevision=revision))
            live_chart(figure, key=f"live.{metric}.{run_id}", height=340)
    if (metrics["split"] == "diag").any():
        st.subheader("Task conflict")
        st.caption("Cosine between task gradients on the shared layers: below 0 the tasks pull the shared "
                   "layers in conflicting directions.")
        left, right = st.columns([3, 2])
        with left:
            cosine = curve_frame(metrics, "cosine", x_axis, smoothing, splits=("diag",))
            plotted.append(cosine)
            figure = cached_figure(f"cosine.{run_id}", controls, lambda: curves_figure(
                cosine, title="Gradient cosine per task pair", colors=run_colors(cosine["task"].unique().tolist()),
            ).update_layout(uirevision=revision))
            live_chart(figure, key=f"live.cosine.{run_id}")
        with right:
            matrix = pair_matrix(metrics, "cosine", list(kinds))
            figure = cached_figure(f"cosmap.{run_id}", controls, lambda: pair_heatmap(
                matrix, title="Latest gradient cosine", value_name="cosine"))
            live_chart(figure, key=f"live.cosmap.{run_id}")
    st.subheader("Best and latest (validation)")
    st.dataframe(best_and_latest(metrics), hide_index=True, width="stretch")
    st.download_button("Download what is plotted (CSV)", pd.concat(plotted).to_csv(index=False),
                       file_name=f"{run_id}-curves.csv", mime="text/csv", key="live.csv")
    if live and current["status"] in TERMINAL_STATUSES:
        st.rerun()  # the run ended: redraw the page once, without polling


view()
