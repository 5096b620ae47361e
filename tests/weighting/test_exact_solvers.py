"""MGDA and Nash-MTL solve their small problems exactly: checked against independent solutions."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from weighting_toys import LinearToy, strategy

from mtl.weighting.strategies.mgda import min_norm_weights
from mtl.weighting.strategies.nash_mtl import nash_weights


def enumerated_min_norm(jacobian: np.ndarray) -> np.ndarray:
    """The min-norm point of the hull of the rows, by trying every support (exhaustive active sets).

    For each non-empty subset S, the affine minimiser on S solves G_S α = λ1, 1ᵀα = 1 (least
    squares); among those with α ≥ 0, the one of smallest norm is the answer.
    """
    g = jacobian @ jacobian.T
    n_tasks = len(g)
    best, best_value = None, np.inf
    for size in range(1, n_tasks + 1):
        for subset in itertools.combinations(range(n_tasks), size):
            index = list(subset)
            kkt = np.zeros((size + 1, size + 1))
            kkt[:size, :size] = g[np.ix_(index, index)]
            kkt[:size, size] = -1.0
            kkt[size, :size] = 1.0
            rhs = np.zeros(size + 1)
            rhs[size] = 1.0
            alpha = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:size]
            if alpha.min() < -1e-12 or abs(alpha.sum() - 1.0) > 1e-9:
                continue
            point = alpha @ jacobian[index]
            if point @ point < best_value:
                best, best_value = point, point @ point
    assert best is not None
    return best


def slsqp_min_norm(jacobian: np.ndarray) -> np.ndarray:
    """The same point by scipy's SLSQP on α at a tight tolerance (a second, generic solver)."""
    g = jacobian @ jacobian.T
    scale = np.trace(g)
    n_tasks = len(g)
    result = minimize(
        lambda a: a @ g @ a / scale,
        np.full(n_tasks, 1.0 / n_tasks),
        jac=lambda a: 2 * g @ a / scale,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_tasks,
        constraints=(
            {"type": "eq", "fun": lambda a: a.sum() - 1.0, "jac": lambda a: np.ones(n_tasks)},
        ),
        options={"ftol": 1e-16, "maxiter": 1000},
    )
    return result.x @ jacobian


def adversarial(n_tasks: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Jacobians where simple solvers go wrong: duplicates, opposites, rank deficiency, scale gaps."""
    size = 6
    base = rng.normal(size=(n_tasks, size))
    cases = []
    dup = base.copy()
    dup[-1] = dup[0]  # a duplicated gradient
    cases.append(dup)
    opposite = base.copy()
    opposite[1] = -2.0 * opposite[0]  # 0 is in the hull
    cases.append(opposite)
    cases.append(base * np.logspace(-3, 3, n_tasks)[:, None])  # norms from 1e-3 to 1e3
    cases.append(rng.normal(size=(n_tasks, 2)) @ rng.normal(size=(2, size)))  # rank 2
    near = np.tile(base[0], (n_tasks, 1)) + 1e-4 * rng.normal(
        size=(n_tasks, size)
    )  # nearly parallel
    cases.append(near)
    inside = base.copy()
    inside[-1] = base[:-1].mean(axis=0)  # one gradient inside the hull of the others
    cases.append(inside)
    zero = base.copy()
    zero[0] = 0.0  # a task at a stationary point
    cases.append(zero)
    return cases


def mgda_update(jacobian: np.ndarray) -> np.ndarray:
    """The shared update of the ``mgda`` strategy (default options) on a toy with this Jacobian (float64)."""
    jac = torch.tensor(jacobian, dtype=torch.float64)
    alpha = min_norm_weights(jac @ jac.T)
    return (alpha @ jac).numpy()


@pytest.mark.parametrize("n_tasks", range(2, 9))
def test_mgda_is_the_exact_min_norm_point(n_tasks: int) -> None:
    rng = np.random.default_rng(n_tasks)
    cases = [rng.normal(size=(n_tasks, 10)) for _ in range(20)] + adversarial(n_tasks, rng)
    for jacobian in cases:
        expected = enumerated_min_norm(jacobian)
        actual = mgda_update(jacobian)
        scale = max(np.linalg.norm(jacobian, axis=1).max(), 1e-300)
        np.testing.assert_allclose(actual / scale, expected / scale, atol=1e-6, rtol=0)
        generic = slsqp_min_norm(jacobian) / scale  # a generic solver never finds a shorter point
        assert (actual / scale) @ (actual / scale) <= generic @ generic + 1e-12


@pytest.mark.parametrize("n_tasks", range(2, 9))
def test_mgda_on_float32_rank_deficient_gramians(n_tasks: int) -> None:
    # Rounding leaves such a Gramian slightly indefinite; the solver must still find the point.
    rng = np.random.default_rng(20 + n_tasks)
    for _ in range(30):
        jacobian = (rng.normal(size=(n_tasks, 3)) @ rng.normal(size=(3, 3))).astype(np.float32)
        jacobian[-1] = jacobian[0]
        jac = torch.tensor(jacobian)
        alpha = min_norm_weights(jac @ jac.T)
        assert alpha.dtype == torch.float32 and float(alpha.sum()) == pytest.approx(1.0, abs=1e-6)
        assert (alpha >= 0).all()
        expected = enumerated_min_norm(jacobian.astype(np.float64))
        scale = np.linalg.norm(jacobian, axis=1).max()
        actual = (alpha.double() @ jac.double()).numpy() / scale
        # A float32 Gramian is exact to ~1e-7·scale², so the squared norm can be that far off
        # the minimum (and the point ~3e-4·scale away, by convexity: ‖d − d*‖² ≤ ‖d‖² − ‖d*‖²).
        assert actual @ actual <= (expected / scale) @ (expected / scale) + 1e-6


def test_mgda_default_is_exact_where_frank_wolfe_stops_early() -> None:
    # A case where the paper's Frank-Wolfe (epsilon 1e-3) stops 1e-2 away from the minimum.
    rng = np.random.default_rng(11)
    worst_exact, worst_frank_wolfe = 0.0, 0.0
    for _ in range(30):
        jacobian = rng.normal(size=(6, 8))
        expected = enumerated_min_norm(jacobian)
        toy = LinearToy(torch.tensor(jacobian, dtype=torch.float32))
        for options in ({}, {"solver": "frank-wolfe"}):
            made = strategy("mgda", toy, 6, options)
            toy.zero_grad(set_to_none=True)
            made.backward(toy.losses())
            error = np.abs(toy.theta.grad.reshape(-1).double().numpy() - expected).max()
            if options:
                worst_frank_wolfe = max(worst_frank_wolfe, error)
            else:
                worst_exact = max(worst_exact, error)
    assert worst_exact < 1e-5  # float32 model, float64 solve
    assert worst_frank_wolfe > 1e-3  # the reason for the exact solver


# ---- Nash-MTL ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_tasks", range(2, 9))
def test_nash_weights_solve_the_bargaining_equation(n_tasks: int) -> None:
    # The solution of Gα = 1/α (α > 0), the paper's equation (its code solves it on G/‖G‖ and rescales).
    rng = np.random.default_rng(100 + n_tasks)
    for _ in range(20):
        jacobian = rng.normal(size=(n_tasks, 12)) * np.logspace(-2, 2, n_tasks)[:, None]
        g = jacobian @ jacobian.T
        alpha = nash_weights(torch.tensor(g)).numpy()
        assert (alpha > 0).all()
        np.testing.assert_allclose(g @ alpha * alpha, np.ones(n_tasks), rtol=1e-9)


def test_nash_mtl_matches_torchjds_solver_within_its_tolerance() -> None:
    # torchjd's NashMTL (cvxpy, stopping at ‖Gα − 1/α‖ < 1e-3) approximates the same point.
    from torchjd.aggregation import NashMTL

    rng = np.random.default_rng(7)
    for n_tasks in (2, 3, 4, 6):
        jacobian = rng.normal(size=(n_tasks, 10))
        jacobian[1] = -0.6 * jacobian[0] + 0.5 * jacobian[1]  # a conflict
        jac = torch.tensor(jacobian, dtype=torch.float32)
        toy = LinearToy(jac)
        made = strategy("nash-mtl", toy, n_tasks, {"max_norm": 0.0})
        made.backward(toy.losses())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = NashMTL(n_tasks=n_tasks, max_norm=0.0)(jac)
        actual = toy.theta.grad.reshape(-1)
        assert torch.nn.functional.cosine_similarity(actual, expected, dim=0) > 0.9999
        np.testing.assert_allclose(
            actual.numpy(), expected.numpy(), atol=2e-3 * float(expected.norm())
        )


def test_nash_mtl_reuses_its_weights_between_solves() -> None:
    rng = np.random.default_rng(3)
    first, second = (torch.tensor(rng.normal(size=(3, 8)), dtype=torch.float32) for _ in range(2))
    toy = LinearToy(first)
    made = strategy("nash-mtl", toy, 3, {"update_weights_every": 2, "max_norm": 0.0})
    w1 = made.backward(toy.losses())
    toy.jacobian = second
    w2 = made.backward(toy.losses())  # step 2: the weights of step 1 again
    w3 = made.backward(toy.losses())  # step 3: solved on the new Jacobian
    torch.testing.assert_close(w2, w1)
    expected = nash_weights(second.double() @ second.double().T).float()
    torch.testing.assert_close(w3, expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(w3, w1, atol=1e-3)


@pytest.mark.parametrize(
    "jacobian",
    [[[1.0, 2.0], [-1.0, -2.0]], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]]],
)
def test_nash_weights_stay_finite_when_no_bargaining_solution_exists(
    jacobian: list[list[float]],
) -> None:
    # Opposite, duplicated or zero gradients: Gα = 1/α has no positive solution; a ridge gives one.
    jac = torch.tensor(jacobian, dtype=torch.float64)
    alpha = nash_weights(jac @ jac.T)
    assert torch.isfinite(alpha).all() and (alpha > 0).all()
    update = alpha @ jac
    assert (jac @ update >= -1e-9).all()  # still no task is made worse to first order
