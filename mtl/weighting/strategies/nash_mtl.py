"""Nash-MTL: the task gradients combined as the Nash bargaining solution between the tasks.

Reference: Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya, "Multi-Task Learning as a Bargaining Game", ICML 2022.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torchjd.aggregation import NashMTL

from mtl.data.tasks import TaskSpec
from mtl.weighting.gradient import GradientStrategy
from mtl.weighting.options import NashMTLOptions

NAME = "nash-mtl"


class Strategy(GradientStrategy):
    """Shared update Σ_t α_t g_t with α solving Gα = 1/α (α > 0), by the paper's sequence of convex problems.

    Uses torchjd's ``NashMTL`` weighting (cvxpy with the ECOS solver) on the Jacobian; the
    reported weights are α after the optional norm clipping (``max_norm``). Slow: one
    solve costs tens of milliseconds, see ``docs/weighting.md``; ``update_weights_every``
    reuses the weights in between. Stateful (the solver's warm start and step count):
    :meth:`reset`; one solver state per number of active tasks.

    Args:
        tasks: the tasks, in the order of the loss vector.
        options: :class:`~mtl.weighting.options.NashMTLOptions`.
    """

    name = NAME

    def __init__(self, tasks: Sequence[TaskSpec], options: dict[str, Any] | None = None) -> None:
        super().__init__(tasks, options)
        self.config = NashMTLOptions.model_validate(self.options)
        self._solvers: dict[int, NashMTL] = {}

    def aggregate(self, gramian: torch.Tensor, jacobian: torch.Tensor) -> torch.Tensor:
        n_active = jacobian.shape[0]
        solver = self._solvers.get(n_active)
        if solver is None:
            solver = NashMTL(
                n_tasks=n_active,
                max_norm=self.config.max_norm,
                update_weights_every=self.config.update_weights_every,
                optim_niter=self.config.optim_niter,
            )
            self._solvers[n_active] = solver
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cvxpy: "problem is not DPP", on every solve
            return solver.weighting(jacobian)

    def reset(self) -> None:
        self._solvers = {}
