"""MTL Lab dashboard: ``streamlit run app.py``. Only the navigation table lives here.

The pages live in ``app_pages/``, not ``pages/``: Streamlit treats a ``pages/`` folder
beside the entrypoint as the legacy multipage layout, and a first visit straight to a
page URL (``/live?run=…``) would then run that page without this file.
"""

import logging
from pathlib import Path

import streamlit as st

from mtl.runs.scheduler import start_with_server
from mtl.runs.store import resolve_home
from mtl.ui import session
from mtl.ui.page_errors import page_error_text
from mtl.viz.labels import markdown_text

presenting = st.query_params.get("present", "") in ("1", "true", "yes")
st.set_page_config(
    page_title="MTL Lab",
    page_icon="assets/favicon.png",
    layout="wide",
    initial_sidebar_state="collapsed" if presenting else "auto",
)
if presenting:  # Streamlit's toolbar, status widget and header hidden (assets/presenter.css)
    st.html(Path(__file__).parent / "assets" / "presenter.css")

pages = [
    st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app_pages/experiment.py", title="Experiment", icon=":material/tune:"),
    st.Page("app_pages/live.py", title="Live", icon=":material/monitoring:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/sweep.py", title="Sweeps", icon=":material/grid_view:"),
    st.Page("app_pages/transfer.py", title="Transfer", icon=":material/move_up:"),
    st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
    st.Page("app_pages/verdict.py", title="Verdict", icon=":material/gavel:"),
]
try:
    start_with_server(
        session.store()
    )  # once per server process: a warm spare before the first launch
    st.navigation(pages).run()
except Exception as err:  # a plain message for the user; the traceback goes to the server log
    logging.getLogger("mtl.ui").exception("page failed")
    st.error(markdown_text(page_error_text(err, resolve_home())))
