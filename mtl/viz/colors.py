"""Colours that stay the same for a task (or a run) on every chart of the dashboard.

The palette is Okabe–Ito (Okabe & Ito, "Color Universal Design", 2008), safe for the
common forms of colour blindness, without its black and yellow: every colour keeps a
contrast of at least 2:1 against both a white and Streamlit's dark background
(``#0E1117``), so lines read on a projector in the light and the dark theme. Past six
entries the palette continues with four extra mid-luminance colours, then repeats.

Colours are assigned by position, never by hashing names: the same list of tasks always
gets the same colours, and the first task is always blue.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "INPUT_COLOR",
    "MUTED_COLOR",
    "PALETTE",
    "SHARED_COLOR",
    "color_for",
    "run_colors",
    "task_colors",
    "text_color_on",
]

PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#8C6D31",  # olive brown (beyond Okabe–Ito)
    "#5D8AA8",  # air-force blue
    "#B279A2",  # mauve
    "#9D755D",  # brown
)
"""Qualitative palette, in assignment order."""

SHARED_COLOR = "#7F7F7F"
"""Neutral grey for layers every task uses (the shared trunk, experts, cross-stitch units)."""

INPUT_COLOR = "#B0B0B0"
"""Light grey for the input block of a network diagram."""

MUTED_COLOR = "#999999"
"""Grey for reference lines (chance diagonal, y = x) and series without a task (e.g. ``lr``)."""


def _assign(names: Iterable[str]) -> dict[str, str]:
    unique = list(dict.fromkeys(names))  # first occurrence wins; order kept
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(unique)}


def task_colors(tasks: Sequence[str]) -> dict[str, str]:
    """Task name → hex colour, by position in ``tasks`` (pass the config's task order).

    Args:
        tasks: task names; a repeated name keeps the colour of its first position.

    Returns:
        A dict with one entry per distinct name; ``PALETTE[i]`` for the i-th name.
    """
    return _assign(tasks)


def run_colors(run_ids: Sequence[str]) -> dict[str, str]:
    """Run id (or label) → hex colour, by position, for charts that overlay runs.

    Args:
        run_ids: the runs in the order they are listed (e.g. the selection order).

    Returns:
        A dict with one entry per distinct id.
    """
    return _assign(run_ids)


def color_for(name: str, colors: dict[str, str] | None) -> str:
    """``colors[name]``, or :data:`MUTED_COLOR` when the name has no colour."""
    return (colors or {}).get(name, MUTED_COLOR)


def text_color_on(fill: str) -> str:
    """``"#000000"`` or ``"#FFFFFF"``, whichever reads better on the hex colour ``fill``."""
    return "#000000" if _luminance(fill) > 0.179 else "#FFFFFF"


def _luminance(color: str) -> float:
    """WCAG relative luminance of ``#RRGGBB``."""
    value = color.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"expected a colour like '#RRGGBB', found {color!r}")
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
