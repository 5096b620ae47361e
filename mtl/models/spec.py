"""What a sharing architecture declares about itself in its own file (torch-free).

Every module in ``mtl/models/architectures/`` ends its spec section with
``SPEC = ArchitectureSpec(...)`` (see :mod:`mtl.registry`): its name, the model class,
its options model (``model.options``), which general model settings it reads, why a config
would leave it without shared parameters, and ``describe``: the diagram of the network a
config builds, computed from the layer plan (:mod:`mtl.models.plan`) without torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mtl.registry import NoOptions, Options, Spec

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig

Describe = Callable[["ModelConfig", tuple[int, ...], dict[str, int]], dict[str, Any]]
"""``(model config, input shape, heads) → describe() dict``; raises the model's own errors."""


def shares_something(cfg: ModelConfig) -> str | None:
    """The default of :attr:`ArchitectureSpec.unshared`: shares whenever the encoder has layers."""
    return None


@dataclass(frozen=True, kw_only=True)
class ArchitectureSpec(Spec):
    """A sharing architecture's spec.

    Args:
        name: the registry name (``model.sharing``).
        implementation: the :class:`~mtl.models.base.MultiTaskModel` subclass in the same
            file, called as ``cls(cfg, input_shape, heads)``.
        options: the architecture's own settings (``model.options``), an :class:`Options`
            model; the Experiment page draws one widget per field.
        describe: what the model's ``describe()`` returns, from the config alone.
        settings: the general ``model.*`` keys only this architecture reads (``experts``),
            drawn on the Experiment page when it is chosen.
        unshared: why ``cfg`` leaves this architecture without shared parameters, or
            ``None`` (an encoder without layers is checked for every architecture).
    """

    describe: Describe
    settings: tuple[str, ...] = ()
    unshared: Callable[[ModelConfig], str | None] = shares_something


__all__ = ["ArchitectureSpec", "Describe", "NoOptions", "Options"]
