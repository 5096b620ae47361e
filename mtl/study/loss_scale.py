"""The task losses at the start of training, and a warning when their scales differ a lot.

A freshly initialised network outputs values near 0, so its first losses are close to those
of the zero predictor: ``log K`` for a K-class cross-entropy, ``log 2`` for a binary one,
``mean(y²)`` for a squared error and the Huber loss of ``y`` for Huber, on the training split
as the trainer sees it (standardised targets stay near 1). When these differ by more than
:data:`SCALE_RATIO` (an order of magnitude), the largest loss dominates an equal sum and the
choice of weighting matters most: the Experiment page and ``python -m mtl run`` say so.

Pure numpy, no torch: the dashboard calls it on the prepared data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # a type only: preparing the data is the caller's business
    from mtl.data.prepare import PreparedData

__all__ = ["SCALE_RATIO", "initial_losses", "scale_warning"]

SCALE_RATIO = 10.0
"""Largest over smallest starting loss above which :func:`scale_warning` warns."""


def initial_losses(data: PreparedData, huber_delta: float = 1.0) -> dict[str, float]:
    """Each task's loss of the zero predictor on the training split (task → loss).

    Args:
        data: the prepared data (its training targets, masks and task specs).
        huber_delta: ``loss.huber_delta`` of the config.
    """
    out: dict[str, float] = {}
    for spec in data.tasks:
        if spec.kind == "multiclass":
            out[spec.name] = math.log(max(spec.out_dim, 2))
            continue
        if spec.kind == "binary":
            out[spec.name] = math.log(2.0)
            continue
        y = np.asarray(data.train.y[spec.name], dtype=np.float64)
        y = y[np.asarray(data.train.mask[spec.name], dtype=bool)]
        if y.size == 0:
            continue
        a = np.abs(y)
        if spec.loss == "huber":
            rows = np.where(a <= huber_delta, 0.5 * a**2, huber_delta * (a - 0.5 * huber_delta))
        else:
            rows = a**2
        out[spec.name] = float(rows.mean())
    return out


def scale_warning(losses: Mapping[str, float], ratio: float = SCALE_RATIO) -> str | None:
    """One sentence when the largest starting loss is over ``ratio`` × the smallest, else None.

    The sentence names both tasks and the ratio, e.g. ``"The task losses start at very
    different scales: 'y2' (120) is 240× 'y1' (0.5); …"``.
    """
    finite = {k: v for k, v in losses.items() if math.isfinite(v) and v > 0}
    if len(finite) < 2:
        return None
    high = max(finite, key=lambda k: finite[k])
    low = min(finite, key=lambda k: finite[k])
    times = finite[high] / finite[low]
    if times <= ratio:
        return None
    return (
        f"The task losses start at very different scales: {high!r} ({finite[high]:.3g}) is "
        f"{times:.0f}× {low!r} ({finite[low]:.3g}), so an equal sum is mostly {high!r}'s loss. "
        "Weighting matters most here: standardise the targets, set task weights, or try a "
        "weighting that balances losses (uncertainty, dwa, famo)."
    )
