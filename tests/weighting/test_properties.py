"""Properties every weighting strategy keeps, checked over all registered strategies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from weighting_toys import QuadraticToy, strategy

from mtl.weighting import WEIGHTINGS
from mtl.weighting.options import level, options_model

pytestmark = pytest.mark.usefixtures("one_thread")

RANDOM = {"pcgrad", "rlw"}
"""Strategies that draw random numbers (projection order, weights): not permutation-equivariant per draw."""


def train(
    name: str, order: list[int], steps: int = 4, active: list[float] | None = None
) -> list[torch.Tensor]:
    """Weights reported at each of ``steps`` SGD steps on the quadratic toy with tasks in ``order``."""
    toy = QuadraticToy(order)
    made = strategy(name, toy, len(order))
    optimizer = torch.optim.SGD([*toy.parameters(), *made.parameters()], lr=0.05)
    mask = None if active is None else torch.tensor(active)
    reported = []
    for epoch in range(steps):
        optimizer.zero_grad()
        losses = toy.losses()
        weights = made.backward(losses, mask)
        assert weights.shape == (len(order),)
        assert not weights.requires_grad
        assert torch.isfinite(weights).all(), weights
        for p in toy.parameters():
            assert p.grad is None or torch.isfinite(p.grad).all()
        optimizer.step()
        made.epoch_end(epoch, {f"t{i}": float(v) for i, v in enumerate(losses.detach())})
        reported.append(weights)
    return reported


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_weights_are_finite_of_shape_t_and_the_losses_fall(name: str) -> None:
    toy = QuadraticToy([0, 1, 2])
    made = strategy(name, toy, 3)
    optimizer = torch.optim.SGD([*toy.parameters(), *made.parameters()], lr=0.05)
    start = float(toy.losses().detach().sum())
    for epoch in range(8):
        optimizer.zero_grad()
        losses = toy.losses()
        made.backward(losses)
        optimizer.step()
        made.epoch_end(epoch, {f"t{i}": float(v) for i, v in enumerate(losses.detach())})
    assert float(toy.losses().detach().sum()) < start
    assert len(train(name, [0, 1, 2], steps=2)) == 2  # finite weights of shape (T,) at every step


@pytest.mark.parametrize("name", [n for n in WEIGHTINGS.names() if n not in RANDOM])
def test_permuting_the_tasks_permutes_the_weights(name: str) -> None:
    order, permuted = [0, 1, 2], [2, 0, 1]
    original = train(name, order)
    again = train(name, permuted)
    for first, second in zip(original, again, strict=True):
        np.testing.assert_allclose(second.numpy(), first[permuted].numpy(), atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_an_inactive_task_has_weight_zero(name: str) -> None:
    for weights in train(name, [0, 1, 2], steps=3, active=[1.0, 0.0, 1.0]):
        assert weights[1] == 0.0


@pytest.mark.parametrize("name", WEIGHTINGS.names())
def test_every_strategy_has_typed_options_and_a_level(name: str) -> None:
    made = WEIGHTINGS.get(name)
    assert made.__name__ == WEIGHTINGS.spec(name).implementation != "Strategy"
    assert made.level == level(name)
    for field in options_model(name).model_fields.values():
        assert field.description, f"{name}: document every option"
