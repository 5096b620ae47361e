"""Tiny demo app for the live_chart browser test: lines that gain a point per rerun.

The first chart gets its whole figure on every rerun (``live_chart``); the second gets it
once and then only the new point (``stream_curve``), and keeps what it sent across full
reruns, so a chart that is unmounted and shown again must ask for its history.

Run: streamlit run tests/ui/live_chart_app.py --server.enableStaticServing true
"""

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from mtl.runs.store import METRIC_COLUMNS
from mtl.ui.live_chart import live_chart, stream_curve
from mtl.viz.curves import curves_figure
from mtl.viz.frames import CurveFeed

st.set_page_config(page_title="live_chart demo")
st.title("live_chart demo")

if "n" not in st.session_state:
    st.session_state.n = 5
    st.session_state.rows = []
show = st.checkbox("Show chart", value=True)  # unchecking unmounts the component
streamed = st.checkbox("Show streamed chart", value=True)
slots = st.session_state.setdefault("slots", {})


@st.fragment(run_every=0.5)
def chart() -> None:
    st.session_state.n += 1
    steps = list(range(st.session_state.n))
    fig = go.Figure()
    fig.add_scatter(
        x=steps, y=[math.exp(-s / 20) + 0.05 * math.sin(s) for s in steps], name="train"
    )
    fig.add_scatter(x=steps, y=[math.exp(-s / 25) + 0.1 for s in steps], name="val")
    fig.update_layout(title="loss", xaxis_title="step", yaxis_title="loss")
    if show:
        live_chart(fig, key="demo-loss", height=320)
    st.caption(f"points: {len(steps)}")
    rows = st.session_state.rows
    n = st.session_state.n
    rows.append((len(rows) + 1, n, 0.0, n * 0.1, "task", "step", "loss", math.exp(-n / 20), None))
    if streamed:
        frame = pd.DataFrame.from_records(rows, columns=list(METRIC_COLUMNS))
        stream_curve(
            "demo-stream",
            slots=slots,
            signature=("loss",),
            make_feed=lambda: CurveFeed("loss", "step", 0.5),
            metrics=frame,
            new=frame.iloc[-1:],
            height=300,
            figure=lambda f: curves_figure(f, title="streamed loss"),
        )


chart()
