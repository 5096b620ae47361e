"""Home: what MTL is, one-click presets, the latest runs."""

import pandas as pd
import streamlit as st

from mtl import presets
from mtl.runs.launcher import launch
from mtl.ui import session
from mtl.ui.architecture import describe_config
from mtl.ui.colors import task_colors
from mtl.ui.figures import network_figure

FEATURED = ["penguins", "digits", "synthetic-related", "synthetic-unrelated", "seed-example"]
HOME_PRESETS = FEATURED + [n for n in presets.names() if n not in FEATURED and n not in presets.builtin_names()]
"""The built-in demos, then your own presets from ``<home>/presets/``."""

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
    columns = st.columns(3)
    for i, name in enumerate(HOME_PRESETS):
        column = columns[i % 3]
        with column:
            if st.button(name, key=f"preset.{name}", help=presets.description(name), width="stretch"):
                run_id = launch(presets.load(name), session.store())
                st.switch_page("app_pages/live.py", query_params={"run": run_id})
with right:
    tasks = {"species": 3, "sex": 1, "body mass": 1}
    example = presets.load("penguins").model
    description = describe_config(example, (6,), tasks)
    st.plotly_chart(network_figure(description, task_colors(list(tasks)), width_px=560), width="stretch",
                    config={"displayModeBar": False}, key="home.diagram")
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
    st.dataframe(
        latest[["name", "status", "created", "id", "open"]],
        hide_index=True,
        width="stretch",
        column_config={"open": st.column_config.LinkColumn("live view", display_text="open")},
    )
