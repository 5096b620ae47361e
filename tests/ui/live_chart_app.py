"""Tiny demo app for the live_chart browser test: a line that gains a point per rerun.

Run: streamlit run tests/ui/live_chart_app.py --server.enableStaticServing true
"""

import math

import plotly.graph_objects as go
import streamlit as st

from mtl.ui.live_chart import live_chart

st.set_page_config(page_title="live_chart demo")
st.title("live_chart demo")

if "n" not in st.session_state:
    st.session_state.n = 5
show = st.checkbox("Show chart", value=True)  # unchecking unmounts the component


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


chart()
