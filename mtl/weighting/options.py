"""Torch-free questions about weighting strategies, answered from their specs.

Each strategy declares its options model and its level once, in its own file
(``SPEC = WeightingSpec(...)`` in ``mtl/weighting/strategies/<name>.py``); the config
validates ``loss.options`` with :func:`parse_options` and the UI builds its form from
:func:`options_model` without importing a strategy's implementation.
"""

from __future__ import annotations

from typing import Any

from mtl.registry import Options
from mtl.registry import parse_options as parse_entry_options
from mtl.weighting import WEIGHTINGS
from mtl.weighting.spec import Level


def options_model(weighting: str) -> type[Options]:
    """The options model of ``weighting`` (``KeyError`` naming the known ones otherwise)."""
    return WEIGHTINGS.spec(weighting).options


def level(weighting: str) -> Level:
    """``"loss"`` or ``"gradient"``: how ``weighting`` works."""
    return WEIGHTINGS.spec(weighting).level


def parse_options(weighting: str, options: dict[str, Any] | None) -> Options:
    """Validate ``loss.options`` for ``weighting``; ``ValueError`` with one readable line.

    Args:
        weighting: a registered strategy name.
        options: the user's ``loss.options`` (``None`` = defaults).

    Raises:
        ValueError: naming the bad key and what is allowed, e.g.
            ``loss.options.temperature for weighting 'dwa': must be > 0 (got -1)``.
    """
    return parse_entry_options(
        options_model(weighting), "loss.options", "weighting", weighting, options
    )


def diagnostics_cost(n_tasks: int, every: int, affinity: bool, weighting: str) -> float:
    """Rough extra training time of ``train.diagnostics_every``, as a fraction of a plain step.

    A plain step is about one forward and one backward pass (≈ 3 forward passes' work);
    a measurement costs one backward per task through the shared layers (≈ 2 each, none
    for a gradient-level strategy, which reuses them) plus T + 1 forward passes with
    ``affinity``, once every ``every`` steps. For the UI's cost hint; the benchmark in
    ``docs/weighting.md`` gives the measured per-step times.

    Args:
        n_tasks: number of tasks T.
        every: ``train.diagnostics_every``.
        affinity: ``train.affinity``.
        weighting: ``loss.weighting``.

    Returns:
        e.g. 0.27 for "about 27 % slower".
    """
    backward = 0.0 if level(weighting) == "gradient" else 2.0 * n_tasks
    forward = float(n_tasks + 1) if affinity else 0.0
    return (backward + forward) / (3.0 * every)


def loss_level_names() -> list[str]:
    """The registered loss-level strategies (for error messages)."""
    return [name for name in WEIGHTINGS.names() if level(name) == "loss"]


__all__ = [
    "Level",
    "diagnostics_cost",
    "level",
    "loss_level_names",
    "options_model",
    "parse_options",
]
