"""The layer plan is the one source of the encoders' layers and of the diagram.

The torch layers are built from the plan (``mtl.models.encoders``) and every architecture
describes itself from the plan in its spec section, so these tests check the two things that
can still drift: the built layers do what the plan says (kinds, shapes, labels), and each
model's structure matches the description its spec draws.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from conftest import python_output
from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES
from mtl.models.encoders import build_block, encoder_blocks
from mtl.models.plan import BlockPlan, describe_config, encoder_depth, encoder_plan, head_plan

HEADS = {"a": 1, "b": 3, "c": 2}
INPUTS = {
    "table": ((13,), "auto"),
    "image-cnn": ((1, 8, 8), "auto"),
    "image-mlp": ((1, 8, 8), "mlp"),
    "tiny-image": ((2, 3, 5), "auto"),
}
SMALL = {"hidden": [6, 5], "channels": [3, 4], "experts": 2}
SETTINGS = {
    "defaults": {},
    "branch-1-head-hidden": {"branch_depth": 1, "head_hidden": [7, 3]},
    "bn-dropout-gelu": {"batch_norm": True, "dropout": 0.25, "activation": "gelu"},
    "experts-5-no-hidden": {"experts": 5, "hidden": []},
}
MODULE_OF_KIND = {
    "flatten": nn.Flatten,
    "linear": nn.Linear,
    "conv3x3": nn.Conv2d,
    "batchnorm1d": nn.BatchNorm1d,
    "batchnorm2d": nn.BatchNorm2d,
    "maxpool": nn.MaxPool2d,
    "dropout": nn.Dropout,
}


def config(sharing: str, input_kind: str, setting: str) -> tuple[ModelConfig, tuple[int, ...]]:
    shape, encoder = INPUTS[input_kind]
    return ModelConfig(sharing=sharing, encoder=encoder, **{**SMALL, **SETTINGS[setting]}), shape


def plan_matches_block(plan: BlockPlan, block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Assert ``block`` has the planned layers and output shape; return its output."""
    assert len(block) == len(plan.layers)
    for layer, module in zip(plan.layers, block, strict=True):
        if layer.kind == "activation":
            assert type(module).__name__ == layer.label
        else:
            assert isinstance(module, MODULE_OF_KIND[layer.kind]), (layer, module)
        if layer.kind in ("linear", "conv3x3"):
            weight = module.weight
            assert (weight.shape[1], weight.shape[0]) == layer.args
    y = block.eval()(x)
    assert tuple(y.shape[1:]) == plan.out_shape
    return y


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("input_kind", list(INPUTS))
def test_built_blocks_have_the_planned_layers_shapes_and_labels(
    input_kind: str, setting: str
) -> None:
    cfg, shape = config("hard", input_kind, setting)
    plans = encoder_plan(cfg, shape)
    blocks = encoder_blocks(cfg, shape)
    assert [b.label for b in blocks] == [p.label for p in plans]
    x = torch.randn(4, *shape)
    for plan, block in zip(plans, blocks, strict=True):
        x = plan_matches_block(plan, block, x)
    for plan in head_plan(cfg, tuple(x.shape[1:]), 3):
        x = plan_matches_block(plan, build_block(plan), x)
    assert tuple(x.shape) == (4, 3)


def expected_counts(description: dict) -> tuple[int, dict[str, int]]:
    """(shared entries, task → entries) the diagram draws."""
    return len(description["shared"]), {t: len(v) for t, v in description["tasks"].items()}


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("input_kind", list(INPUTS))
@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_every_model_has_the_structure_its_spec_describes(
    sharing: str, input_kind: str, setting: str
) -> None:
    cfg, shape = config(sharing, input_kind, setting)
    model = ARCHITECTURES.get(sharing)(cfg, shape, HEADS)
    description = describe_config(cfg, shape, HEADS)
    assert model.describe() == description
    assert type(model).__name__ == ARCHITECTURES.spec(sharing).implementation
    shared, tasks = expected_counts(description)
    depth = encoder_depth(cfg, shape)
    if sharing == "hard":
        assert len(model.trunk) == shared == model.branch_depth
    if sharing in ("hard", "independent", "soft", "cross-stitch"):
        for task, tower in zip(HEADS, model.towers, strict=True):
            assert len(tower.encoder) + len(tower.head) == tasks[task]
            assert [b.label for b in (*tower.encoder, *tower.head)] == description["tasks"][task]
    if sharing == "cross-stitch":
        assert len(model.alphas) == shared == depth
    if sharing == "mmoe":
        assert len(model.experts) == cfg.experts and len(model.experts[0]) == shared == depth
        for task, gate, head in zip(HEADS, model.gates, model.task_heads, strict=True):
            assert description["tasks"][task][0].startswith(
                f"Gate Linear {gate.in_features}→{gate.out_features} "
            )
            assert gate.in_features == math.prod(shape)
            assert len(head) + 1 == tasks[task]


def error_of(fn, *args) -> tuple[type, str]:
    with pytest.raises((ValueError, KeyError)) as info:
        fn(*args)
    return info.type, str(info.value)


def real_describe(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> dict:
    return ARCHITECTURES.get(cfg.sharing)(cfg, input_shape, heads).describe()


@pytest.mark.parametrize(
    ("cfg", "input_shape", "heads", "expected"),
    [
        (ModelConfig(sharing="hard", hidden=[8, 8], branch_depth=3), (13,), HEADS, "maximum is 2"),
        (
            ModelConfig(sharing="hard", channels=[4], hidden=[8], branch_depth=5),
            (1, 8, 8),
            HEADS,
            "maximum is 2",
        ),
        (ModelConfig(sharing="soft", encoder="cnn"), (13,), HEADS, "needs image input"),
        (ModelConfig(sharing="mmoe"), (3, 4), HEADS, "input_shape must be"),
        (ModelConfig(sharing="cross-stitch"), (0,), HEADS, "input_shape must be"),
        (ModelConfig(sharing="independent"), (13,), {}, "heads is empty"),
        (ModelConfig(sharing="hard"), (13,), {"a": 0}, "output widths must be"),
    ],
    ids=[
        "depth-table",
        "depth-image",
        "cnn-on-table",
        "2d-input",
        "zero-width-input",
        "no-heads",
        "zero-head",
    ],
)
def test_impossible_settings_raise_one_error_without_and_with_torch(
    cfg: ModelConfig, input_shape: tuple, heads: dict, expected: str
) -> None:
    error = error_of(describe_config, cfg, input_shape, heads)
    assert error == error_of(real_describe, cfg, input_shape, heads)
    assert error[0] is ValueError and expected in error[1]


@pytest.mark.parametrize("input_kind", ["table", "image-cnn", "image-mlp"])
def test_encoder_depth_is_the_deepest_branch_the_model_accepts(input_kind: str) -> None:
    cfg, shape = config("hard", input_kind, "defaults")
    depth = encoder_depth(cfg, shape)
    assert depth == {"table": 2, "image-cnn": 4, "image-mlp": 2}[input_kind]
    deepest = cfg.model_copy(update={"branch_depth": depth})
    assert real_describe(deepest, shape, HEADS)["branch_depth"] == depth
    with pytest.raises(ValueError, match="branch_depth"):
        real_describe(cfg.model_copy(update={"branch_depth": depth + 1}), shape, HEADS)


def test_unknown_sharing_raises_like_the_registry() -> None:
    cfg = ModelConfig.model_construct(**{**ModelConfig().model_dump(), "sharing": "nope"})
    assert error_of(describe_config, cfg, (13,), HEADS) == error_of(ARCHITECTURES.get, "nope")


def test_the_plan_and_every_description_load_without_torch() -> None:
    code = (
        "import sys\n"
        "from mtl.config import ModelConfig\n"
        "from mtl.models import ARCHITECTURES\n"
        "from mtl.models.plan import describe_config\n"
        "for name in ARCHITECTURES.names():\n"
        "    d = describe_config(ModelConfig(sharing=name), (1, 8, 8), {'a': 3, 'b': 1})\n"
        "    assert d['kind'] == name and d['tasks']['a'][-1] == 'Linear 64→3', d\n"
        "print('torch' in sys.modules)\n"
    )
    assert python_output(code) == "False"
