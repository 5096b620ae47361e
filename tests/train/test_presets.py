"""The one-click presets reach the accuracy the issue promises, on their fixed seeds."""

from __future__ import annotations

from typing import Any

import pytest

from mtl import presets
from mtl.train.callbacks import History
from mtl.train.trainer import Trainer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


def run_preset(name: str) -> dict[str, Any]:
    """Train the preset as shipped; its test-split metrics per task."""
    history = History()
    result = Trainer(presets.load(name), callbacks=[history]).fit()
    assert result.status == "finished", history.end.error if history.end else None
    assert history.end is not None and history.end.summary == result.summary
    return result.summary["test"]


def test_penguins_preset() -> None:
    test = run_preset("penguins")
    assert test["species"]["accuracy"] >= 0.95
    assert test["sex"]["accuracy"] >= 0.80
    assert test["body_mass"]["r2"] >= 0.70
    assert test["body_mass"]["rmse"] > 50  # reported in grams, not standardized units


def test_digits_preset() -> None:
    test = run_preset("digits")
    assert test["digit"]["accuracy"] >= 0.95
    assert test["parity"]["accuracy"] >= 0.95
    assert test["ge5"]["accuracy"] >= 0.95


def test_seed_example_preset() -> None:
    test = run_preset("seed-example")
    assert test["label"]["accuracy"] >= 0.85
    assert test["regression"]["r2"] >= 0.8
