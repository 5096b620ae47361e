"""Every registered strategy trains every preset and every architecture, with finite losses."""

from __future__ import annotations

import math
from functools import cache

import pytest

from mtl import presets
from mtl.config import ConfigError, ExperimentConfig
from mtl.data.prepare import PreparedData, prepare
from mtl.models import ARCHITECTURES
from mtl.train.callbacks import History
from mtl.train.trainer import Trainer
from mtl.weighting import WEIGHTINGS
from mtl.weighting.options import level

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"train.epochs": 2, "train.batch_size": 128, "train.log_every": 1}
"""Two epochs of few, large batches: every code path, little time."""


def small_config(preset: str, weighting: str) -> ExperimentConfig:
    config = presets.load(preset)
    overrides = dict(SMALL)
    if config.data.dataset == "synthetic":
        overrides["data.options.samples"] = 400
    if config.data.dataset == "movie-reviews":
        overrides["data.options.rows"] = 400
    overrides["loss.weighting"] = weighting
    return config.with_overrides(overrides)


@cache
def prepared(preset: str) -> PreparedData:
    return prepare(small_config(preset, "equal"))  # the weighting does not change the data


@pytest.mark.parametrize("preset", presets.names())
@pytest.mark.parametrize("weighting", WEIGHTINGS.names())
def test_strategy_trains_preset(weighting: str, preset: str) -> None:
    history = History()
    result = Trainer(
        small_config(preset, weighting), data=prepared(preset), callbacks=[history]
    ).fit()
    assert result.status == "finished", history.end.error if history.end else None
    assert history.steps, "no step was reported"
    names = [t.name for t in result.data.tasks]
    for event in history.steps:
        assert list(event.losses) == names == list(event.weights)
        assert all(math.isfinite(v) for v in event.losses.values()), event
        assert all(math.isfinite(v) for v in event.weights.values()), event
    for row in history.rows():
        if row[5] == "loss" and row[6] is not None:
            assert math.isfinite(row[6]), row


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
@pytest.mark.parametrize("weighting", WEIGHTINGS.names())
def test_strategy_trains_every_architecture(weighting: str, sharing: str) -> None:
    if sharing == "independent" and level(weighting) == "gradient":  # refused, see test_options.py
        with pytest.raises(ConfigError, match="needs shared parameters"):
            small_config("penguins", weighting).with_overrides({"model.sharing": sharing})
        return
    config = small_config("penguins", weighting).with_overrides(
        {"model.sharing": sharing, "model.hidden": [8, 8], "model.experts": 2, "train.epochs": 1}
    )
    history = History()
    result = Trainer(config, data=prepared("penguins"), callbacks=[history]).fit()
    assert result.status == "finished"
    assert all(
        math.isfinite(v) for e in history.steps for v in (*e.losses.values(), *e.weights.values())
    )
