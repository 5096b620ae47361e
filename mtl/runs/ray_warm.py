"""What a warm Ray actor (:class:`mtl.runs.ray_actor.RemoteRun`) loads once, when it is
created: torch, the trainer and its outputs, data preparation (scikit-learn), and every
registered architecture and weighting strategy. Its runs then start without paying for them.

Imported only inside a Ray worker: torch loads at import. Nothing else imports this module.
"""

from __future__ import annotations

from mtl.data.prepare import prepare
from mtl.models import ARCHITECTURES
from mtl.train import distributed, outputs
from mtl.weighting import WEIGHTINGS

__all__ = ["prepare", "warm_up"]

_LOADED = (distributed, outputs)  # what worker.execute imports on each run's first call


def warm_up() -> None:
    """Load every registered architecture and weighting strategy module."""
    for registry in (ARCHITECTURES, WEIGHTINGS):
        for name in registry.names():
            registry.get(name)
