"""Multi-task architectures (a registry) and the encoders they are built from.

This package's ``__init__`` stays torch-free so the registry can be listed by the UI.
"""

from mtl.registry import Registry

ARCHITECTURES = Registry("architecture", "mtl.models.architectures", "build")
"""Each module in ``mtl/models/architectures/`` is one sharing mode with a ``build`` function."""

__all__ = ["ARCHITECTURES"]
