"""Gradient-level strategies on fixed Jacobians, against hand computations and second methods."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from weighting_toys import LinearToy, specs, strategy

from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES
from mtl.weighting import WEIGHTINGS
from mtl.weighting.options import level
from mtl.weighting.strategies.cagrad import cagrad_weights

pytestmark = pytest.mark.usefixtures("one_thread")

GRADIENT_LEVEL = [name for name in WEIGHTINGS.names() if level(name) == "gradient"]


def step(
    name: str,
    jacobian: list[list[float]],
    options: dict | None = None,
    active: list[float] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, LinearToy]:
    """One backward of strategy ``name`` on a toy with this Jacobian: (weights, shared grad (P,), toy)."""
    jac = torch.tensor(jacobian, dtype=torch.float64).float()
    toy = LinearToy(jac)
    made = strategy(name, toy, jac.shape[0], options)
    mask = None if active is None else torch.tensor(active)
    weights = made.backward(toy.losses(), mask)
    return weights, toy.theta.grad.reshape(-1), toy


def close(actual: torch.Tensor, expected, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), atol=atol, rtol=1e-4
    )


# ---- the contract every gradient-level strategy keeps ------------------------------------


@pytest.mark.parametrize("name", GRADIENT_LEVEL)
def test_shared_gradient_is_the_weighted_jacobian_and_heads_get_their_own(name: str) -> None:
    jac = [[1.0, 0.0, 2.0, -1.0], [-1.0, 1.0, 0.5, 0.0], [0.0, -2.0, 1.0, 1.0]]
    weights, grad, toy = step(name, jac)
    assert weights.shape == (3,) and torch.isfinite(weights).all()
    close(grad, weights @ torch.tensor(jac), atol=1e-4)
    for t, head in enumerate(toy.heads):
        close(head.grad, 2 * head.detach())  # ∂(h_t²)/∂h_t with weight 1, whatever the method
        assert t < 3


@pytest.mark.parametrize("name", GRADIENT_LEVEL)
def test_an_inactive_task_gets_weight_zero_and_no_head_gradient(name: str) -> None:
    jac = [[1.0, 0.0, 2.0, -1.0], [-1.0, 1.0, 0.5, 0.0], [0.0, -2.0, 1.0, 1.0]]
    weights, grad, toy = step(name, jac, active=[1.0, 0.0, 1.0])
    assert weights[1] == 0.0
    assert toy.heads[1].grad is None
    close(grad, weights @ torch.tensor(jac), atol=1e-4)
    alone, _, _ = step(name, [jac[0], jac[2]])
    close(weights[[0, 2]], alone, atol=1e-4)  # the same as training the two tasks alone


@pytest.mark.parametrize("name", GRADIENT_LEVEL)
def test_the_regularisation_term_adds_its_own_gradient(name: str) -> None:
    jac = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    toy = LinearToy(jac)
    made = strategy(name, toy, 2)
    with torch.no_grad():
        toy.theta.fill_(0.5)
    extra = (toy.theta**2).sum() + 3.0 * toy.heads[0]
    weights = made.backward(toy.losses(), None, extra)
    close(toy.theta.grad.reshape(-1), weights @ jac + 1.0)  # + ∂‖θ‖²/∂θ = 2·0.5
    close(toy.heads[0].grad, 2 * 0.5 + 3.0)


@pytest.mark.parametrize("name", GRADIENT_LEVEL)
def test_a_given_jacobian_is_used_instead_of_recomputed(name: str) -> None:
    jac = torch.tensor([[1.0, 0.0, 2.0, -1.0], [-1.0, 1.0, 0.5, 0.0]])
    toy = LinearToy(jac)
    made = strategy(name, toy, 2)
    made.use_jacobian(2 * jac)  # deliberately different, to see it is used once
    first = made.backward(toy.losses())
    close(toy.theta.grad.reshape(-1), first @ (2 * jac), atol=1e-4)
    toy.zero_grad(set_to_none=True)
    second = made.backward(toy.losses())
    close(toy.theta.grad.reshape(-1), second @ jac, atol=1e-4)


@pytest.mark.parametrize("name", GRADIENT_LEVEL)
def test_a_model_without_shared_parameters_is_refused(name: str) -> None:
    model = ARCHITECTURES.get("independent")(
        ModelConfig(sharing="independent", hidden=[4]), (3,), {"t0": 1, "t1": 1}
    )
    made = WEIGHTINGS.get(name)(specs(2), {})
    with pytest.raises(ValueError, match="needs shared parameters"):
        made.attach(model)


# ---- PCGrad ------------------------------------------------------------------------------


def test_pcgrad_two_tasks_by_hand() -> None:
    # g1·g2 = −1 < 0: g1' = g1 − (−1/2)·g2 = (0.5, 0.5) = g1 + ½·g2; g2' = g2 − (−1/1)·g1 = (0, 1) = g2 + g1
    weights, grad, _ = step("pcgrad", [[1.0, 0.0], [-1.0, 1.0]])
    close(weights, [2.0, 1.5])
    close(grad, [0.5, 1.5])


def test_pcgrad_without_conflict_is_the_sum() -> None:
    weights, grad, _ = step("pcgrad", [[1.0, 0.0], [1.0, 1.0]])
    close(weights, [1.0, 1.0])
    close(grad, [2.0, 1.0])


def test_pcgrad_three_tasks_matches_the_papers_algorithm() -> None:
    rng = np.random.default_rng(3)
    jac = rng.normal(size=(3, 6))
    jac[1] = -0.8 * jac[0] + 0.3 * jac[1]  # conflicts
    torch.manual_seed(11)
    weights, grad, _ = step("pcgrad", jac.tolist())

    # Yu et al. 2020, Algorithm 1, on the vectors themselves, with the same random orders
    torch.manual_seed(11)
    g = torch.tensor(jac, dtype=torch.float32)
    total = torch.zeros(6)
    for i in range(3):
        order = torch.randperm(3)
        projected = g[i].clone()
        for j in order.tolist():
            if j == i:
                continue
            dot = projected @ g[j]
            if dot < 0:
                projected = projected - dot / (g[j] @ g[j]) * g[j]
        total += projected
    close(grad, total, atol=1e-4)


# ---- MGDA --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "jacobian",
    [
        [[1.0, 0.0], [-0.5, 1.0]],
        [[2.0, 1.0], [0.0, 0.5]],
        [[1.0, 2.0, 0.0, 1.0], [0.5, -1.0, 1.0, 0.0]],
    ],
)
def test_mgda_two_tasks_closed_form(jacobian: list[list[float]]) -> None:
    # Sener & Koltun 2018, Algorithm 1: α = clip(((g2 − g1)·g2) / ‖g1 − g2‖², 0, 1) on g1
    g1, g2 = (np.array(row) for row in jacobian)
    alpha = float(np.clip((g2 - g1) @ g2 / ((g1 - g2) @ (g1 - g2)), 0.0, 1.0))
    weights, grad, _ = step("mgda", jacobian)
    close(weights, [alpha, 1.0 - alpha], atol=1e-4)
    close(grad, alpha * g1 + (1 - alpha) * g2, atol=1e-4)
    min_norm = grad @ grad
    for row in (g1, g2):  # the min-norm point of the hull is a descent direction for both
        assert float(grad @ torch.tensor(row, dtype=torch.float32)) >= float(min_norm) - 1e-4


# ---- IMTL-G ------------------------------------------------------------------------------


def test_imtl_matches_the_papers_closed_form() -> None:
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 6)) * np.array([[1.0], [5.0], [0.2]])  # very different gradient norms
    weights, grad, _ = step("imtl", g.tolist())

    # Liu et al. 2021, IMTL-G: α_{2:T} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ α_{2:T},
    # with D rows g_1 − g_t and U rows u_1 − u_t (u = unit gradients)
    u = g / np.linalg.norm(g, axis=1, keepdims=True)
    d = g[0] - g[1:]
    big_u = u[0] - u[1:]
    rest = g[0] @ big_u.T @ np.linalg.inv(d @ big_u.T)
    alpha = np.concatenate([[1.0 - rest.sum()], rest])
    close(weights, alpha, atol=1e-4)
    projections = (g @ grad.double().numpy()) / np.linalg.norm(g, axis=1)
    close(
        projections, np.full(3, projections[0]), atol=1e-4
    )  # equal projection on every unit gradient


# ---- CAGrad ------------------------------------------------------------------------------


def brute_force_cagrad(g: np.ndarray, c: float, grid: int) -> np.ndarray:
    """CAGrad's weights (no rescaling) by minimising the dual over a grid of the 2-/3-simplex."""
    n_tasks = g.shape[0]
    gram = g @ g.T
    mean = np.full(n_tasks, 1.0 / n_tasks)
    sqrt_phi = c * np.sqrt(mean @ gram @ mean)
    steps = np.linspace(0.0, 1.0, grid + 1)
    if n_tasks == 2:
        points = np.stack([steps, 1 - steps], axis=1)
    else:
        a, b = np.meshgrid(steps, steps)
        keep = a + b <= 1.0
        points = np.stack([a[keep], b[keep], 1.0 - a[keep] - b[keep]], axis=1)
    values = points @ gram @ mean + sqrt_phi * np.sqrt(
        np.einsum("ni,ij,nj->n", points, gram, points)
    )
    w = points[np.argmin(values)]
    return mean + sqrt_phi / np.sqrt(w @ gram @ w) * w


@pytest.mark.parametrize("n_tasks", [2, 3])
def test_cagrad_matches_a_brute_force_solution(n_tasks: int) -> None:
    rng = np.random.default_rng(n_tasks)
    g = rng.normal(size=(n_tasks, 6))
    g[1] = -0.7 * g[0] + 0.4 * g[1]
    weights, grad, _ = step("cagrad", g.tolist(), {"c": 0.4, "rescale": 0})
    expected = brute_force_cagrad(g, 0.4, 100_000 if n_tasks == 2 else 600)
    close(weights, expected, atol=3e-3)


def test_cagrad_matches_torchjds_cvxpy_solver_and_its_dual_problem() -> None:
    from torchjd.aggregation import CAGradWeighting

    rng = np.random.default_rng(7)
    g = rng.normal(size=(4, 10))
    g[2] = -g[0] + 0.1 * g[2]
    gram = torch.tensor(g @ g.T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = CAGradWeighting(c=0.4)(gram)
    close(cagrad_weights(gram, 0.4, rescale=0), theirs, atol=1e-4)
    close(cagrad_weights(gram, 0.4, rescale=1), theirs / (1 + 0.4**2), atol=1e-4)
    close(cagrad_weights(gram, 0.0, rescale=1), np.full(4, 0.25))  # c = 0: the mean gradient

    # the primal: d maximises min_t g_t·d over ‖d − g₀‖ ≤ c‖g₀‖; check against random feasible d
    d = cagrad_weights(gram, 0.4, rescale=0).numpy() @ g
    g0 = g.mean(axis=0)
    radius = 0.4 * np.linalg.norm(g0)
    assert np.linalg.norm(d - g0) <= radius * (1 + 1e-3)
    best = (g @ d).min()
    directions = rng.normal(size=(20_000, 10))
    candidates = g0 + radius * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    assert (candidates @ g.T).min(axis=1).max() <= best + 1e-4


def test_cagrads_exact_active_set_solver_agrees_with_slsqp() -> None:
    from mtl.weighting.strategies.cagrad import _active_set, _slsqp

    rng = np.random.default_rng(0)
    solved = 0
    for n_tasks in (2, 3, 5, 8):
        for case in range(40):
            size = n_tasks - 1 if case % 10 == 0 else 12  # some singular Gramians
            g = rng.normal(size=(n_tasks, size)) + rng.uniform(0, 4) * rng.normal(size=(1, size))
            gram = g @ g.T / np.trace(g @ g.T)
            a = gram @ np.full(n_tasks, 1 / n_tasks)
            r = (0.1, 0.4, 1.5)[case % 3] * np.sqrt(a.mean())

            def objective(
                w: np.ndarray, gram: np.ndarray = gram, a: np.ndarray = a, r: float = r
            ) -> float:
                return float(w @ a + r * np.sqrt(w @ gram @ w))

            exact, reference = _active_set(gram, a, r), _slsqp(gram, a, r)
            if exact is None:  # left to SLSQP
                assert case % 10 == 0, "only singular Gramians may need the fallback"
                continue
            solved += 1
            assert exact.min() >= 0 and abs(exact.sum() - 1) < 1e-9
            assert objective(exact) <= objective(reference) + 1e-9
    assert solved >= 140


# ---- UPGrad, Aligned-MTL, Nash-MTL: torchjd's own aggregators as the second method ----------


@pytest.mark.parametrize("name", ["upgrad", "aligned-mtl", "nash-mtl"])
def test_matches_torchjds_aggregator(name: str) -> None:
    from torchjd.aggregation import AlignedMTL, NashMTL, UPGrad

    rng = np.random.default_rng(1)
    g = rng.normal(size=(3, 8))
    g[1] = -0.6 * g[0] + 0.5 * g[1]
    weights, grad, _ = step(name, g.tolist())
    aggregator = {
        "upgrad": UPGrad,
        "aligned-mtl": AlignedMTL,
        "nash-mtl": lambda: NashMTL(n_tasks=3),
    }[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = aggregator(torch.tensor(g, dtype=torch.float32))
    close(grad, expected, atol=1e-3)


@pytest.mark.parametrize("name", ["upgrad", "mgda"])
def test_non_conflicting_methods_never_increase_a_task_loss(name: str) -> None:
    rng = np.random.default_rng(5)
    for _ in range(5):
        g = rng.normal(size=(4, 8))
        g[3] = -g[0] + 0.2 * g[3]
        _, grad, _ = step(name, g.tolist())
        assert (torch.tensor(g, dtype=torch.float32) @ grad >= -1e-4).all()


def test_upgrad_without_conflict_is_the_mean() -> None:
    weights, grad, _ = step("upgrad", [[1.0, 0.0], [1.0, 1.0]])
    close(weights, [0.5, 0.5], atol=1e-3)
