"""MTL Lab dashboard: ``streamlit run app.py``. Only the navigation table lives here."""

import streamlit as st

st.set_page_config(page_title="MTL Lab", page_icon="🧪", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/experiment.py", title="Experiment", icon="🧪"),
    st.Page("pages/live.py", title="Live", icon="📈"),
    st.Page("pages/compare.py", title="Compare", icon="📊"),
    st.Page("pages/evaluate.py", title="Evaluate", icon="🎯"),
]
st.navigation(pages).run()
