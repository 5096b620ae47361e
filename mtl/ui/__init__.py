"""Streamlit glue for the dashboard pages: the session (store, launching, query parameters),
the live chart component, the Experiment form ↔ config, and the helpers that run torch work
in a child process (:mod:`~mtl.ui.estimate`, :mod:`~mtl.ui.predict`) so the Streamlit
process never imports torch.

Pure figures, frames and labels live in :mod:`mtl.viz`.
"""
