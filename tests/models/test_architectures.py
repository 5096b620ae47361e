"""Properties every registered architecture must have, plus checks specific to each one."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES
from mtl.models.base import MultiTaskModel

HEADS = {"a": 1, "b": 3, "c": 2}
INPUTS = {
    "table": ((13,), "auto"),
    "image-cnn": ((1, 8, 8), "auto"),
    "image-mlp": ((1, 8, 8), "mlp"),
}
SMALL = {"hidden": [8, 8], "channels": [4, 4], "experts": 2}


def build(
    sharing: str, input_shape: tuple[int, ...], heads: dict[str, int] = HEADS, **options: object
) -> MultiTaskModel:
    """A small model of kind ``sharing``; ``options`` override the small defaults."""
    cfg = ModelConfig(sharing=sharing, **{**SMALL, **options})
    return ARCHITECTURES.get(sharing)(cfg, input_shape, heads)


def batch(input_shape: tuple[int, ...], rows: int = 6) -> torch.Tensor:
    """A random batch of ``rows`` samples."""
    return torch.randn(rows, *input_shape)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---- properties of every architecture ---------------------------------------------------

ARCH_X_INPUT = pytest.mark.parametrize(
    ("sharing", "input_kind"), [(s, k) for s in ARCHITECTURES.names() for k in INPUTS]
)


@ARCH_X_INPUT
@pytest.mark.parametrize("options", [{}, {"batch_norm": True, "dropout": 0.2, "head_hidden": [5]}])
def test_output_shapes(sharing: str, input_kind: str, options: dict) -> None:
    input_shape, encoder = INPUTS[input_kind]
    model = build(sharing, input_shape, encoder=encoder, **options)
    out = model(batch(input_shape))
    assert {task: tuple(y.shape) for task, y in out.items()} == {
        t: (6, w) for t, w in HEADS.items()
    }


@ARCH_X_INPUT
def test_backward_reaches_every_parameter(sharing: str, input_kind: str) -> None:
    input_shape, encoder = INPUTS[input_kind]
    model = build(sharing, input_shape, encoder=encoder)
    out = model(batch(input_shape))
    (sum(y.sum() for y in out.values()) + model.penalty()).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing


@ARCH_X_INPUT
def test_parameters_split_into_shared_and_one_task_each(sharing: str, input_kind: str) -> None:
    input_shape, encoder = INPUTS[input_kind]
    model = build(sharing, input_shape, encoder=encoder)
    groups = [model.shared_parameters(), *(model.task_parameters(t) for t in HEADS)]
    ids = [id(p) for group in groups for p in group]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())


@ARCH_X_INPUT
def test_shared_parameters_empty_only_for_independent(sharing: str, input_kind: str) -> None:
    input_shape, encoder = INPUTS[input_kind]
    shared = build(sharing, input_shape, encoder=encoder).shared_parameters()
    assert (len(shared) == 0) == (sharing == "independent")


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
@pytest.mark.parametrize("heads", [{"only": 1}, {"x": 4, "y": 1}])
def test_any_number_of_tasks(sharing: str, heads: dict[str, int]) -> None:
    model = build(sharing, (5,), heads)
    out = model(batch((5,)))
    assert {t: y.shape[1] for t, y in out.items()} == heads


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_describe_is_json_and_names_every_task(sharing: str) -> None:
    description = build(sharing, (1, 8, 8)).describe()
    json.dumps(description)
    assert description["kind"] == sharing
    assert set(description["tasks"]) == set(HEADS)
    assert description["tasks"]["b"][-1] == "Linear 8→3"


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_unknown_task_is_a_key_error(sharing: str) -> None:
    with pytest.raises(KeyError, match="unknown task 'z'"):
        build(sharing, (5,)).task_parameters("z")


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_penalty_is_a_scalar(sharing: str) -> None:
    assert build(sharing, (5,)).penalty().shape == ()


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_cnn_encoder_on_a_table_is_rejected(sharing: str) -> None:
    with pytest.raises(ValueError, match="model.encoder 'cnn' needs image input"):
        build(sharing, (13,), encoder="cnn")


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_no_heads_is_rejected(sharing: str) -> None:
    with pytest.raises(ValueError, match="heads is empty"):
        build(sharing, (5,), {})


# ---- independent ------------------------------------------------------------------------


def test_independent_tasks_do_not_influence_each_other() -> None:
    model = build("independent", (13,)).eval()
    x = batch((13,))
    before = model(x)
    with torch.no_grad():
        for p in model.task_parameters("a"):
            p.add_(1.0)
    after = model(x)
    assert not torch.allclose(before["a"], after["a"])
    assert torch.equal(before["b"], after["b"])
    assert torch.equal(before["c"], after["c"])


# ---- hard -------------------------------------------------------------------------------


def test_hard_trunk_is_one_module_run_once_for_all_tasks() -> None:
    model = build("hard", (13,))
    calls = []
    model.trunk.register_forward_hook(lambda *_: calls.append(1))
    out = model(batch((13,)))
    assert len(calls) == 1
    out["a"].sum().backward()
    assert all(p.grad is not None for p in model.shared_parameters())
    trunk_ids = {id(p) for p in model.trunk.parameters()}
    assert {id(p) for p in model.shared_parameters()} == trunk_ids
    assert not trunk_ids & {id(p) for t in HEADS for p in model.task_parameters(t)}


@pytest.mark.parametrize(
    ("input_shape", "branch_depth", "shared_blocks", "task_blocks"),
    [
        ((13,), None, 2, 1),  # all heads on the last shared layer
        ((13,), 1, 1, 2),
        ((13,), 0, 0, 3),  # nothing shared
        ((1, 8, 8), 3, 3, 2),  # two conv blocks + one fully connected block shared
    ],
)
def test_hard_branch_depth_counts_encoder_blocks(
    input_shape: tuple[int, ...], branch_depth: int | None, shared_blocks: int, task_blocks: int
) -> None:
    description = build("hard", input_shape, branch_depth=branch_depth).describe()
    assert len(description["shared"]) == shared_blocks
    assert all(len(labels) == task_blocks for labels in description["tasks"].values())


def test_hard_branch_depth_zero_shares_nothing() -> None:
    model = build("hard", (13,), branch_depth=0)
    assert model.shared_parameters() == []


@pytest.mark.parametrize(("input_shape", "maximum"), [((13,), 2), ((1, 8, 8), 4)])
def test_hard_branch_depth_out_of_range(input_shape: tuple[int, ...], maximum: int) -> None:
    build("hard", input_shape, branch_depth=maximum)
    with pytest.raises(
        ValueError, match=rf"model\.branch_depth = {maximum + 1}.*maximum is {maximum}"
    ):
        build("hard", input_shape, branch_depth=maximum + 1)


def test_hard_describe_labels() -> None:
    description = build("hard", (13,), branch_depth=1).describe()
    assert description["shared"] == ["Linear 13→8 + ReLU"]
    assert description["tasks"]["a"] == ["Linear 8→8 + ReLU", "Linear 8→1"]
    assert description["branch_depth"] == 1


# ---- soft -------------------------------------------------------------------------------


def _fill_towers(model: MultiTaskModel, values: list[float]) -> None:
    with torch.no_grad():
        for tower, value in zip(model.towers, values, strict=True):
            for p in tower.encoder.parameters():
                p.fill_(value)


def test_soft_penalty_zero_for_identical_towers_positive_otherwise() -> None:
    model = build("soft", (13,))
    assert model.penalty().item() > 0
    with torch.no_grad():
        for tower in model.towers[1:]:
            tower.encoder.load_state_dict(model.towers[0].encoder.state_dict())
    assert model.penalty().item() == 0


def test_soft_penalty_by_hand() -> None:
    # encoder: Linear 3→2 (6 weights + 2 biases = 8 values); towers filled with 0, 1, 2:
    # pairs differ by 1, 2 and 1 → squared sums 1 + 4 + 1 = 6 per value → 48 × λ.
    model = build("soft", (3,), hidden=[2], soft_lambda=0.5)
    _fill_towers(model, [0.0, 1.0, 2.0])
    assert model.penalty().item() == pytest.approx(0.5 * 48)


def test_soft_penalty_has_gradient_on_towers() -> None:
    model = build("soft", (3,), hidden=[2])
    model.penalty().backward()
    assert all(p.grad is not None for p in model.shared_parameters())


# ---- cross-stitch -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heads", "expected"),
    [
        ({"a": 1}, [[1.0]]),
        ({"a": 1, "b": 2}, [[0.9, 0.1], [0.1, 0.9]]),
        (HEADS, [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]]),
    ],
)
def test_cross_stitch_alpha_init(heads: dict[str, int], expected: list[list[float]]) -> None:
    model = build("cross-stitch", (1, 8, 8), heads)
    assert len(model.alphas) == 4  # one unit per encoder block: 2 conv + 2 fully connected
    for alpha in model.alphas:
        torch.testing.assert_close(alpha.detach(), torch.tensor(expected))


def test_cross_stitch_identity_alpha_is_independent_towers() -> None:
    model = build("cross-stitch", (13,), {"a": 1, "b": 2}).eval()
    with torch.no_grad():
        for alpha in model.alphas:
            alpha.copy_(torch.eye(2))
    x = batch((13,))
    out = model(x)
    for task, tower in zip(model.tasks, model.towers, strict=True):
        torch.testing.assert_close(out[task], tower(x))


# ---- mmoe -------------------------------------------------------------------------------


@pytest.mark.parametrize("input_shape", [(13,), (1, 8, 8)])
def test_mmoe_gates_sum_to_one(input_shape: tuple[int, ...]) -> None:
    model = build("mmoe", input_shape, experts=3)
    weights = model.gate_weights(batch(input_shape))
    assert set(weights) == set(HEADS)
    for w in weights.values():
        assert w.shape == (6, 3)
        torch.testing.assert_close(w.sum(dim=1), torch.ones(6))
    assert len(model.experts) == 3


# ---- learning ---------------------------------------------------------------------------


def _toy_problem() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """256 rows of 5 features, a standardized linear target and a linear binary target."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(256, 5, generator=generator)
    y_reg = x @ torch.tensor([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.1 * torch.randn(
        256, generator=generator
    )
    y_bin = (x @ torch.tensor([0.5, 1.0, -1.0, 2.0, 0.0]) > 0).float()
    return x, (y_reg / y_reg.std()).unsqueeze(1), y_bin.unsqueeze(1)


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_learns_a_two_task_toy(sharing: str) -> None:
    x, y_reg, y_bin = _toy_problem()
    model = build(sharing, (5,), {"reg": 1, "bin": 1}, hidden=[32, 32])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        out = model(x)
        mse = nn.functional.mse_loss(out["reg"], y_reg)
        bce = nn.functional.binary_cross_entropy_with_logits(out["bin"], y_bin)
        return mse + bce + model.penalty()

    initial = loss().item()
    for _ in range(200):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
    assert loss().item() < 0.3 * initial
