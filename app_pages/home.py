"""Home: what MTL is, one-click presets, the latest runs."""

import pandas as pd
import streamlit as st

from mtl import presets
from mtl.models.plan import describe_config
from mtl.ui import session
from mtl.ui.live_chart import live_chart
from mtl.viz.colors import task_colors
from mtl.viz.labels import label, markdown_text
from mtl.viz.network import network_figure

FEATURED = ["penguins", "digits", "synthetic-related", "synthetic-unrelated", "seed-example"]
# The built-in demos, then your own presets from <home>/presets/. (A comment, not a bare
# string: Streamlit's "magic" would print a string literal on the page.)
HOME_PRESETS = FEATURED + [
    n for n in presets.names() if n not in FEATURED and n not in presets.builtin_names()
]

st.title("MTL Lab")
left, right = st.columns([1, 1])
with left:
    st.markdown(
        "**Multi-task learning** trains one model on several related tasks at once. "
        "The tasks share the first layers, which learn what the tasks have in common, and each "
        "task keeps a small head of its own. When tasks are related, sharing helps each of them "
        "learn from fewer examples; when they are not, it can hurt: MTL Lab lets you measure which."
    )
    st.subheader("Try a preset")
    st.caption("One click trains in the background and opens the live view.")
    # A row that wraps, each button as wide as its name: full names at any width (fixed
    # columns cut "synthetic-unrelated" to "synthetic-unr…" at 1280 px).
    with st.container(horizontal=True, wrap=True, key="home-presets"):
        for name in HOME_PRESETS:
            if st.button(
                markdown_text(name),
                key=f"preset.{name}",
                help=markdown_text(presets.description(name)),
                width="content",
            ):
                run_id = session.launch_run(presets.load(name))
                st.switch_page("app_pages/live.py", query_params={"run": run_id})
with right:
    tasks = {"species": 3, "sex": 1, "body mass": 1}
    example = presets.load("penguins").model
    description = describe_config(example, (6,), tasks)
    # Drawn with the live chart component: it also loads plotly.js into this tab, so the
    # live view a preset opens can draw its first points at once.
    live_chart(
        network_figure(description, task_colors(list(tasks)), width_px=560),
        key="home.diagram",
        height=420,
        config={"displayModeBar": False},
    )
    st.caption("Hard parameter sharing: a shared trunk (grey) and one head per task.")

st.subheader("Latest runs")
session.refresh_queue()
runs = session.store().list_runs()
if runs.empty:
    st.info("No runs yet: pick a preset above, or set one up on **Experiment**.")
else:
    latest = runs.head(10).copy()
    latest["status"] = latest["status"].map(session.status_label)
    latest["created"] = pd.to_datetime(latest["created_at"], unit="s").dt.strftime("%Y-%m-%d %H:%M")
    latest["open"] = "/live?run=" + latest["id"]
    columns = ["name", "status", "created", "id", "open"]
    st.dataframe(
        latest[columns].rename(columns={c: label(c) for c in columns if c != "open"}),
        hide_index=True,
        width="stretch",
        placeholder="—",
        column_config={"open": st.column_config.LinkColumn("live view", display_text="open")},
    )
    session.refresh_while_pending(latest["id"])
