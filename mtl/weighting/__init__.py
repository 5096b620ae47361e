"""Loss-weighting strategies (a registry): how per-task losses become one training loss.

This package's ``__init__`` stays torch-free so the registry can be listed by the UI.
"""

from mtl.registry import Registry
from mtl.weighting.spec import WeightingSpec

WEIGHTINGS: Registry[WeightingSpec] = Registry(
    "weighting strategy", "mtl.weighting.strategies", spec_type=WeightingSpec
)
"""Each module in ``mtl/weighting/strategies/`` is one strategy, declared by its ``SPEC``."""

__all__ = ["WEIGHTINGS"]
