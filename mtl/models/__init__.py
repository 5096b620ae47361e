"""Multi-task architectures (a registry) and the encoders they are built from.

This package's ``__init__`` stays torch-free so the registry can be listed by the UI.
"""

from mtl.models.spec import ArchitectureSpec
from mtl.registry import Registry

ARCHITECTURES: Registry[ArchitectureSpec] = Registry(
    "architecture", "mtl.models.architectures", spec_type=ArchitectureSpec
)
"""Each module in ``mtl/models/architectures/`` is one sharing mode, declared by its ``SPEC``."""

__all__ = ["ARCHITECTURES"]
