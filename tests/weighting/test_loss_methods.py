"""Loss-level strategies against their formulas, torchjd's scalarizers and synthetic problems."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from weighting_toys import LinearToy, QuadraticToy, specs, strategy

from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES
from mtl.weighting import WEIGHTINGS
from mtl.weighting.strategies.gradnorm import last_shared_layer

pytestmark = pytest.mark.usefixtures("one_thread")


def close(actual, expected, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), atol=atol, rtol=1e-4
    )


def loss_gradient(
    made, losses: torch.Tensor, active: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(reported weights, ∂ total / ∂ losses) of one backward on a free loss vector."""
    leaf = losses.clone().requires_grad_(True)
    weights = made.backward(leaf * 1.0, active)
    return weights, leaf.grad


# ---- equal, manual ---------------------------------------------------------------------


def test_equal_and_manual_weights() -> None:
    losses = torch.tensor([1.0, 2.0, 3.0])
    weights, grad = loss_gradient(WEIGHTINGS.get("equal")(specs(3)), losses)
    close(weights, [1, 1, 1])
    close(grad, [1, 1, 1])
    tasks = [
        t.__class__(**{**t.to_dict(), "weight": w})
        for t, w in zip(specs(3), (0.5, 2.0, 0.0), strict=True)
    ]
    weights, grad = loss_gradient(WEIGHTINGS.get("manual")(tasks), losses)
    close(weights, [0.5, 2.0, 0.0])
    close(grad, [0.5, 2.0, 0.0])


# ---- DWA ---------------------------------------------------------------------------------


def dwa_formula(older: list[float], newer: list[float], temperature: float) -> np.ndarray:
    rates = np.array(newer) / np.array(older)
    e = np.exp(rates / temperature)
    return len(rates) * e / e.sum()


@pytest.mark.parametrize("temperature", [2.0, 0.5])
def test_dwa_follows_its_formula_over_epochs(temperature: float) -> None:
    made = WEIGHTINGS.get("dwa")(specs(3), {"temperature": temperature})
    history = [[1.0, 2.0, 3.0], [0.5, 1.9, 3.3], [0.45, 1.0, 3.0], [0.44, 0.6, 2.0]]
    losses = torch.tensor([1.0, 1.0, 1.0])
    expected = [np.ones(3), np.ones(3)] + [
        dwa_formula(history[e - 2], history[e - 1], temperature) for e in (2, 3)
    ]
    for epoch, means in enumerate(history):
        weights, grad = loss_gradient(made, losses)
        close(weights, expected[epoch], atol=1e-5)
        close(grad, expected[epoch], atol=1e-5)
        assert math.isclose(float(weights.sum()), 3.0, rel_tol=1e-5)
        made.epoch_end(epoch, {f"t{i}": v for i, v in enumerate(means)})
    made.reset()
    close(loss_gradient(made, losses)[0], np.ones(3))


def test_dwa_weights_in_training_follow_the_epoch_losses(tmp_path) -> None:
    import pandas as pd

    from mtl.config import ExperimentConfig
    from mtl.train.callbacks import History
    from mtl.train.trainer import Trainer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["y1"], frame["y2"] = x[:, 0] + 0.1 * rng.normal(size=120), np.sin(3 * x[:, 1])
    frame.to_csv(tmp_path / "dwa.csv", index=False)
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(tmp_path / "dwa.csv")},
            "tasks": [{"name": "y1", "target": "y1"}, {"name": "y2", "target": "y2"}],
            "model": {"hidden": [8]},
            "loss": {"weighting": "dwa"},
            "train": {"epochs": 4, "batch_size": 32, "lr": 0.02, "log_every": 1},
        }
    )
    history = History()
    Trainer(config, callbacks=[history]).fit()
    train_loss = {(r[1], r[3]): r[6] for r in history.rows() if r[4] == "train" and r[5] == "loss"}
    for epoch in (2, 3):
        older = [train_loss[(epoch - 2, name)] for name in ("y1", "y2")]
        newer = [train_loss[(epoch - 1, name)] for name in ("y1", "y2")]
        for event in (e for e in history.steps if e.epoch == epoch):
            close(list(event.weights.values()), dwa_formula(older, newer, 2.0), atol=1e-5)
    assert all(e.weights == {"y1": 1.0, "y2": 1.0} for e in history.steps if e.epoch < 2)


# ---- uncertainty ---------------------------------------------------------------------------


def test_uncertainty_learns_the_larger_noise_of_the_noisier_task() -> None:
    torch.manual_seed(0)
    n, noise = 2000, (0.1, 1.0)  # known noise standard deviations
    x = torch.randn(n, 3)
    targets = [x @ torch.tensor([1.0, -2.0, 0.5]), x @ torch.tensor([0.3, 1.0, 1.0])]
    y = torch.stack(
        [t + s * torch.randn(n) for t, s in zip(targets, noise, strict=True)], dim=1
    )  # (n, 2)

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = nn.Linear(3, 8)
            self.heads = nn.ModuleList(nn.Linear(8, 1) for _ in range(2))

        def shared_parameters(self) -> list[nn.Parameter]:
            return list(self.trunk.parameters())

        def forward(self, inputs: torch.Tensor) -> list[torch.Tensor]:
            z = self.trunk(inputs)
            return [head(z).squeeze(1) for head in self.heads]

    model = Model()
    made = strategy("uncertainty", model, 2)
    optimizer = torch.optim.Adam([*model.parameters(), *made.parameters()], lr=0.05)
    for step in range(600):
        rows = torch.arange(step * 200, step * 200 + 200) % n
        outs = model(x[rows])
        losses = torch.stack([((o - y[rows, t]) ** 2).mean() for t, o in enumerate(outs)])
        optimizer.zero_grad()
        made.backward(losses)
        optimizer.step()
    variance = made.log_var.detach().exp()  # σ_t² → the MSE at the optimum = the noise variance
    assert variance[1] > 20 * variance[0]
    close(variance, [noise[0] ** 2, noise[1] ** 2], atol=0.3)
    assert abs(math.log(float(variance[1])) - math.log(noise[1] ** 2)) < 0.3


def test_uncertainty_matches_torchjds_uw_for_regression_and_doubles_for_classification() -> None:
    from torchjd.scalarization import UW

    losses = torch.tensor([0.3, 2.0, 5.0])
    made = WEIGHTINGS.get("uncertainty")(specs(3), {"init_log_var": 0.7})
    weights, grad = loss_gradient(made, losses)
    theirs = UW(3)
    with torch.no_grad():
        theirs.log_var.fill_(0.7)
    leaf = losses.clone().requires_grad_(True)
    theirs(leaf).backward()
    close(grad, leaf.grad)
    close(made.log_var.grad, theirs.log_var.grad)
    close(weights, 0.5 * math.exp(-0.7) * np.ones(3))

    mixed = WEIGHTINGS.get("uncertainty")(specs(2, ["binary", "regression"]), {})
    weights, _ = loss_gradient(mixed, torch.tensor([1.0, 1.0]))
    close(
        weights, [1.0, 0.5]
    )  # 1/σ² for classification, 1/(2σ²) for regression (Kendall et al., eq. 7, 10)


# ---- GLS, RLW, FAMO ------------------------------------------------------------------------


def test_gls_is_the_gradient_of_the_geometric_mean() -> None:
    from torchjd.scalarization import GeometricMean

    losses = torch.tensor([0.2, 3.0, 40.0])
    weights, grad = loss_gradient(WEIGHTINGS.get("gls")(specs(3)), losses)
    leaf = losses.clone().requires_grad_(True)
    GeometricMean()(leaf).backward()
    close(grad, leaf.grad)
    close(weights, leaf.grad)
    scaled, _ = loss_gradient(
        WEIGHTINGS.get("gls")(specs(3)), losses * torch.tensor([1.0, 1.0, 1000.0])
    )
    close(
        scaled * torch.tensor([1.0, 1.0, 1000.0]) / weights, [1000 ** (1 / 3)] * 3, atol=1e-3
    )  # scale-invariant
    masked, _ = loss_gradient(
        WEIGHTINGS.get("gls")(specs(3)), losses, torch.tensor([1.0, 0.0, 1.0])
    )
    gm = math.sqrt(0.2 * 40.0)
    close(masked, [gm / (2 * 0.2), 0.0, gm / (2 * 40.0)])


def test_rlw_draws_softmax_weights_reproducibly() -> None:
    made = WEIGHTINGS.get("rlw")(specs(4))
    torch.manual_seed(3)
    draws = [loss_gradient(made, torch.ones(4))[0] for _ in range(3)]
    torch.manual_seed(3)
    again = [loss_gradient(made, torch.ones(4))[0] for _ in range(3)]
    for first, second in zip(draws, again, strict=True):
        close(first, second)
        assert (first > 0).all() and math.isclose(float(first.sum()), 1.0, rel_tol=1e-6)
    assert not torch.allclose(draws[0], draws[1])
    torch.manual_seed(3)
    expected = torch.softmax(torch.randn(4), dim=0)
    close(draws[0], expected)
    uniform = WEIGHTINGS.get("rlw")(specs(4), {"distribution": "uniform"})
    assert (
        loss_gradient(uniform, torch.ones(4))[0] > 0.1
    ).all()  # softmax of U(0, 1): close to uniform


def test_famo_matches_torchjds_famo_fed_the_same_losses() -> None:
    from torchjd.scalarization import FAMO

    rng = np.random.default_rng(0)
    sequence = [torch.tensor(rng.uniform(0.1, 5.0, size=3), dtype=torch.float32) for _ in range(12)]
    made = WEIGHTINGS.get("famo")(specs(3))
    theirs = FAMO(3)
    for k, losses in enumerate(sequence):
        weights, grad = loss_gradient(made, losses)
        if k > 0:
            theirs.update(losses)  # the losses "after" the previous step
        leaf = losses.clone().requires_grad_(True)
        theirs(leaf).backward()
        close(grad, leaf.grad, atol=1e-5)
        close(weights, leaf.grad, atol=1e-5)
        assert math.isclose(float(weights.sum()), 1.0, rel_tol=1e-5)
    assert not np.allclose(made.logits, 0.0)
    made.reset()
    close(loss_gradient(made, torch.tensor([1.0, 2.0, 4.0]))[0], np.array([4.0, 2.0, 1.0]) / 7.0)


# ---- GradNorm ------------------------------------------------------------------------------


def test_gradnorm_steps_its_weights_by_the_papers_rule() -> None:
    jac = torch.tensor([[3.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]])
    toy = LinearToy(jac, offsets=torch.tensor([10.0, 10.0, 10.0]))
    made = strategy("gradnorm", toy, 3, {"alpha": 1.5})
    norms = jac.norm(dim=1)  # ‖∇_θ L_t‖ = ‖g_t‖: θ is the last (only) shared layer

    weights = made.backward(toy.losses())
    close(weights, [1, 1, 1])
    # step 1: L̃ = 1 for all, so r_t = 1 and the target is the mean of G_t = w_t‖g_t‖
    close(made.task_weights.grad, torch.sign(norms - norms.mean()) * norms)

    with torch.no_grad():  # a step of plain SGD on the weights, then other losses
        made.task_weights -= 0.1 * made.task_weights.grad
        toy.offsets = torch.tensor([5.0, 9.0, 20.0])
    before = made.task_weights.detach().clone()
    toy.zero_grad()
    weights = made.backward(toy.losses())
    renormalised = before / before.sum() * 3
    close(weights, renormalised)
    losses = toy.losses().detach()
    ratio = losses / torch.tensor(made.initial_losses)
    r = ratio / ratio.mean()
    g = renormalised * norms
    close(made.task_weights.grad, torch.sign(g - g.mean() * r**1.5) * norms, atol=1e-5)
    close(toy.theta.grad.reshape(-1), weights @ jac)  # the network trains on Σ w_t L_t


def architecture(sharing: str, hidden: list[int] | None = None) -> nn.Module:
    cfg = ModelConfig(sharing=sharing, hidden=hidden or [8, 6], experts=2)
    return ARCHITECTURES.get(sharing)(cfg, (5,), {"a": 1, "b": 3})


@pytest.mark.parametrize("sharing", ["hard", "soft", "mmoe", "cross-stitch", "independent"])
def test_gradnorm_finds_the_last_shared_layer(sharing: str) -> None:
    model = architecture(sharing)
    out = model(torch.randn(7, 5))
    losses = torch.stack([out["a"].pow(2).mean(), out["b"].pow(2).mean()])
    layer = {id(p) for p in last_shared_layer(losses, model.shared_parameters())}
    expected = {
        "hard": lambda m: [m.trunk[-1][0].weight],
        "soft": lambda m: [tower.encoder[-1][0].weight for tower in m.towers],
        "mmoe": lambda m: [expert[-1][0].weight for expert in m.experts],
        "cross-stitch": lambda m: [m.alphas[-1]],
        "independent": lambda m: [
            tower.head[-1][0].weight for tower in m.towers
        ],  # nothing shared: the heads
    }[sharing](model)
    assert layer == {id(p) for p in expected}


def test_gradnorm_with_a_shallow_branch_uses_the_trunk() -> None:
    model = ARCHITECTURES.get("hard")(
        ModelConfig(hidden=[8, 6], branch_depth=1), (5,), {"a": 1, "b": 1}
    )
    out = model(torch.randn(7, 5))
    losses = torch.stack([out["a"].pow(2).mean(), out["b"].pow(2).mean()])
    assert [id(p) for p in last_shared_layer(losses, model.shared_parameters())] == [
        id(model.trunk[0][0].weight)
    ]


def test_gradnorm_keeps_weights_positive_summing_to_the_task_count() -> None:
    toy = QuadraticToy(range(3))
    made = strategy("gradnorm", toy, 3)
    optimizer = torch.optim.SGD([*toy.parameters(), *made.parameters()], lr=0.05)
    for _ in range(30):
        optimizer.zero_grad()
        weights = made.backward(toy.losses())
        optimizer.step()
        assert (weights > 0).all() and math.isclose(float(weights.sum()), 3.0, rel_tol=1e-4)
