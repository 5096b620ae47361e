"""The model-size check counts parameters on the meta device, exactly, before allocating anything."""

from __future__ import annotations

import pytest

from mtl.config import ConfigError, ModelConfig
from mtl.models import ARCHITECTURES
from mtl.models.base import (
    BYTES_PER_PARAMETER,
    MAX_TRAINING_BYTES,
    check_model_size,
    count_parameters,
)

HEADS = {"a": 1, "b": 3, "c": 2}


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
@pytest.mark.parametrize("shape", [(7,), (1, 8, 8)])
def test_meta_count_equals_the_built_model(sharing: str, shape: tuple[int, ...]) -> None:
    cfg = ModelConfig(sharing=sharing, hidden=[16, 8], head_hidden=[4], experts=3)
    build = ARCHITECTURES.get(sharing)
    real = sum(p.numel() for p in build(cfg, shape, HEADS).parameters())
    assert count_parameters(build, cfg, shape, HEADS) == real
    assert check_model_size(build, cfg, shape, HEADS) == real


def test_a_model_just_over_the_limit_is_refused_naming_model_hidden() -> None:
    # hard sharing, one hidden layer of width w on 10 inputs, one output: 10w + w + w + 1 parameters
    limit = MAX_TRAINING_BYTES // BYTES_PER_PARAMETER
    fits = (limit - 1) // 12
    build = ARCHITECTURES.get("hard")
    assert check_model_size(build, ModelConfig(hidden=[fits]), (10,), {"t": 1}) == 12 * fits + 1
    with pytest.raises(ValueError) as info:
        check_model_size(build, ModelConfig(hidden=[fits + 1]), (10,), {"t": 1})
    message = str(info.value)
    assert "\n" not in message and f"model.hidden [{fits + 1}]" in message and "GiB" in message


def test_trainer_refuses_before_allocating() -> None:
    from mtl.config import ExperimentConfig
    from mtl.data.prepare import prepare
    from mtl.train.trainer import Trainer

    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "seed-example", "options": {"samples": 100}},
            "tasks": [{"name": "label", "target": "label"}],
            "model": {"hidden": [10**6, 10**6]},
            "train": {"epochs": 1},
        }
    )
    with pytest.raises(ConfigError, match=r"model\.hidden \[1000000, 1000000\].*TiB"):
        Trainer(config, prepare(config))
