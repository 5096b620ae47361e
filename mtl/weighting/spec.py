"""What a weighting strategy declares about itself in its own file (torch-free).

Every module in ``mtl/weighting/strategies/`` ends its spec section with
``SPEC = WeightingSpec(...)`` (see :mod:`mtl.registry`): its name, the class that
implements it, how it works (``level``) and its options model, with the paper's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mtl.registry import NoOptions, Options, Spec

Level = Literal["loss", "gradient"]
"""``loss``: the task losses combined into one weighted loss (one backward pass);
``gradient``: each task's gradient on the shared parameters is needed, so the model must
share some."""


@dataclass(frozen=True, kw_only=True)
class WeightingSpec(Spec):
    """A weighting strategy's spec.

    Args:
        name: the registry name (``loss.weighting``).
        implementation: the strategy class in the same file (``"PCGrad"``).
        options: the strategy's hyperparameters (``loss.options``), an :class:`Options` model.
        level: ``"loss"`` or ``"gradient"`` (see :data:`Level`).
    """

    level: Level = "loss"


__all__ = ["Level", "NoOptions", "Options", "WeightingSpec"]
