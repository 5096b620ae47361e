"""MTL Lab dashboard: ``streamlit run app.py``. Only the navigation table lives here."""

import logging

import streamlit as st

st.set_page_config(page_title="MTL Lab", page_icon=":material/hub:", layout="wide")

pages = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/experiment.py", title="Experiment", icon=":material/tune:"),
    st.Page("pages/live.py", title="Live", icon=":material/monitoring:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
]
try:
    st.navigation(pages).run()
except Exception as err:  # a plain message for the user; the traceback goes to the server log
    logging.getLogger("mtl.ui").exception("page failed")
    st.error(f"This page could not be shown: {err}. Nothing was lost; the runs are kept in the store.")
