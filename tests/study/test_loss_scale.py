"""The starting task losses and the warning when they differ by more than 10×."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from mtl.config import ExperimentConfig
from mtl.data.prepare import prepare
from mtl.study.loss_scale import initial_losses, scale_warning


def test_warning_only_above_ten_times() -> None:
    assert scale_warning({"a": 1.0, "b": 9.9}) is None
    assert scale_warning({"a": 1.0}) is None
    text = scale_warning({"a": 0.5, "b": 120.0, "c": 2.0})
    assert text is not None and "'b' (120) is 240× 'a' (0.5)" in text


def big_and_small(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"])
    frame["small"] = x[:, 0]
    frame["big"] = 100.0 * x[:, 1] + 50.0
    frame["kind"] = np.where(x[:, 2] > 0, "up", "down")
    path = tmp_path / "scales.csv"
    frame.to_csv(path, index=False)
    return path, frame


def config_for(path: Path, standardize: bool) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "data": {
                "dataset": "csv",
                "path": str(path),
                "features": ["x0", "x1", "x2"],
                "standardize_targets": standardize,
            },
            "tasks": [
                {"name": "small", "target": "small", "kind": "regression"},
                {"name": "big", "target": "big", "kind": "regression"},
                {"name": "kind", "target": "kind", "kind": "binary"},
            ],
            "train": {"epochs": 1},
        }
    )


def test_initial_losses_are_the_zero_predictors(tmp_path: Path) -> None:
    path, frame = big_and_small(tmp_path)
    data = prepare(config_for(path, standardize=False))
    losses = initial_losses(data)
    rows = frame.iloc[data.train.rows]
    assert losses["small"] == pytest.approx(float((rows["small"] ** 2).mean()), rel=1e-5)
    assert losses["big"] == pytest.approx(float((rows["big"] ** 2).mean()), rel=1e-5)
    assert losses["kind"] == pytest.approx(math.log(2))
    assert scale_warning(losses) is not None
    standardized = initial_losses(prepare(config_for(path, standardize=True)))
    assert scale_warning(standardized) is None  # standardised targets start near 1


def test_cli_run_warns(tmp_path: Path, home: Path) -> None:
    path, _ = big_and_small(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(config_for(path, standardize=False).model_dump_json(), encoding="utf-8")
    result = run_cli("run", str(config), "--json", home=home)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "very different scales" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert "'big'" in warnings[0]
