"""Loss-weighting strategies (a registry): how per-task losses become one training loss.

This package's ``__init__`` stays torch-free so the registry can be listed by the UI.
"""

from mtl.registry import Registry

WEIGHTINGS = Registry("weighting strategy", "mtl.weighting.strategies", "Strategy")
"""Each module in ``mtl/weighting/strategies/`` defines one ``Strategy`` class."""

__all__ = ["WEIGHTINGS"]
