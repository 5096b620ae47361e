"""Widgets shared by the pages that launch and show a study (Sweeps, Verdict): the "Start from"
choice (a preset, or the Experiment page's form as it is now) and the study picker that keeps
its choice in the URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mtl import presets
from mtl.ui.form import PREFIX
from mtl.ui.session import presenting, query_id

__all__ = ["CURRENT", "pick_study", "start_from"]

CURRENT = "current"
"""The choice meaning the Experiment page's form as it is now (build it with
:func:`mtl.ui.form.to_config`)."""


def start_from(container: DeltaGenerator, key: str, default: str, help: str | None = None) -> str:
    """A "Start from" select box in ``container``: :data:`CURRENT` (first and preselected when
    the Experiment page has a setup in this session) or a preset name (``default`` otherwise
    preselected). Returns the choice."""
    has_setup = any(k.startswith(PREFIX) for k in st.session_state)
    choices = ([CURRENT] if has_setup else []) + presets.names()
    return container.selectbox(
        "Start from",
        choices,
        key=key,
        index=0 if has_setup else choices.index(default),
        format_func=lambda n: "the current Experiment setup" if n == CURRENT else f"preset {n}",
        help=help,
    )


def pick_study(
    title: str, ids: Sequence[str], labels: Mapping[str, str], param: str, key: str, what: str
) -> str:
    """The study (of ``ids``, newest first) named by query parameter ``param``.

    In presenter view (no controls) that one, else the newest. Otherwise a select box
    (``labels`` by id) that follows the URL and writes its choice back to it, so a refresh or
    a shared link keeps it. An id in the URL that is not one of ``ids`` gets a plain notice
    naming it as a ``what`` (:func:`~mtl.ui.session.query_id`).
    """
    wanted = query_id(param, ids, what)
    if presenting():
        return wanted or ids[0]
    if wanted is not None and st.session_state.get(key) != wanted:
        st.session_state[key] = wanted
    choice: str = st.selectbox(title, ids, format_func=labels.__getitem__, key=key)
    if st.query_params.get(param) != choice:
        st.query_params[param] = choice
    return choice
