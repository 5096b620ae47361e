"""The gradient-level strategies give the same update as the straightforward computation.

On real models whose shared parameters are a trunk (hard sharing), parallel experts
(MMoE) or mixing matrices between task towers (cross-stitch), with T = 2 … 8 tasks: the
reference Jacobian is one ``torch.autograd.grad`` per task, computed here independently of
``mtl.weighting.gradient``; the reference weights come from torchjd's weightings (what the
strategies called before their faster versions). The strategy's shared ``.grad`` must
equal wᵀJ and every task's own parameters must get that task's gradient.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchjd.aggregation import (
    AlignedMTLWeighting,
    IMTLGWeighting,
    PCGradWeighting,
    UPGradWeighting,
)
from torchjd.linalg import QuadprogProjector
from weighting_toys import specs

from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES
from mtl.weighting import WEIGHTINGS
from mtl.weighting.strategies.cagrad import cagrad_weights
from mtl.weighting.strategies.mgda import min_norm_weights
from mtl.weighting.strategies.nash_mtl import nash_weights

REFERENCE = {
    "pcgrad": PCGradWeighting(),
    "upgrad": UPGradWeighting(projector=QuadprogProjector(norm_eps=1e-4, reg_eps=1e-4)),
    "aligned-mtl": AlignedMTLWeighting(scale_mode="min"),
    "imtl": IMTLGWeighting(),
    "cagrad": lambda gramian: cagrad_weights(gramian, 0.4, 1),
    "mgda": min_norm_weights,  # checked against an independent solution in test_exact_solvers
    "nash-mtl": nash_weights,  # likewise; max_norm is switched off below
}


def batch(
    n_tasks: int, seed: int, sharing: str = "hard"
) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = ARCHITECTURES.get(sharing)(
        ModelConfig(sharing=sharing, hidden=[16, 12], experts=3),
        (6,),
        {f"t{i}": 1 for i in range(n_tasks)},
    )
    x = torch.randn(32, 6)
    y = torch.randn(32, n_tasks) * torch.logspace(0, 1, n_tasks)
    return model, x, y


def losses_of(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return torch.stack(
        [F.mse_loss(out[f"t{t}"].squeeze(1), y[:, t]) for t in range(y.shape[1])]
    )  # (T,)


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("n_tasks", range(2, 9))
@pytest.mark.parametrize("sharing", ["hard", "mmoe", "cross-stitch"])
def test_update_equals_the_reference(sharing: str, name: str, n_tasks: int) -> None:
    for seed in range(2):
        model, x, y = batch(n_tasks, seed, sharing)
        shared = list(model.shared_parameters())
        losses = losses_of(model, x, y)
        rows = [
            torch.cat(
                [g.reshape(-1) for g in torch.autograd.grad(losses[t], shared, retain_graph=True)]
            )
            for t in range(n_tasks)
        ]
        jacobian = torch.stack(rows)  # (T, P)
        heads = [list(model.task_parameters(f"t{t}")) for t in range(n_tasks)]
        head_grads = [
            torch.autograd.grad(losses[t], heads[t], retain_graph=True) for t in range(n_tasks)
        ]

        torch.manual_seed(100 + seed)  # PCGrad's random order
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            weights = REFERENCE[name](jacobian @ jacobian.T)
        expected = weights.to(jacobian.dtype) @ jacobian  # (P,)

        made = WEIGHTINGS.get(name)(specs(n_tasks), {"max_norm": 0.0} if name == "nash-mtl" else {})
        made.attach(model)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(100 + seed)
        reported = made.backward(losses_of(model, x, y))
        actual = torch.cat([p.grad.reshape(-1) for p in shared])
        scale = float(jacobian.norm(dim=1).max())
        np.testing.assert_allclose(actual.numpy() / scale, expected.numpy() / scale, atol=2e-6)
        np.testing.assert_allclose(reported.numpy(), weights.numpy(), rtol=1e-4, atol=1e-6)
        for params, grads in zip(heads, head_grads, strict=True):
            for p, g in zip(params, grads, strict=True):
                torch.testing.assert_close(p.grad, g)
