"""Streamlit-side helpers for the dashboard pages.

The pure modules here (:mod:`mtl.ui.colors`, :mod:`mtl.ui.curves`, :mod:`mtl.ui.figures`,
:mod:`mtl.ui.architecture`) never import torch or streamlit: they turn pandas DataFrames
and plain dicts into chart-ready frames and plotly figures, and have plain unit tests.
"""
