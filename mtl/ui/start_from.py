"""The "Start from" choice of the pages that launch a study (Sweeps, Verdict): a preset, or the
Experiment page's form as it is now (offered once that page has been opened)."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from mtl import presets
from mtl.ui.form import PREFIX

__all__ = ["CURRENT", "start_from"]

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
