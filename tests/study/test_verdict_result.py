"""The verdict's numbers against a hand computation, on runs with chosen metrics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy import stats
from verdict_support import BASELINE, fake_verdict

from mtl.runs.store import RunStore
from mtl.study.verdict import verdict_result


def quality(settings: dict, seed: int) -> tuple[float, float]:
    """equal: 10 % better than the baseline (trial 1), pcgrad: like equal ± a seed wobble."""
    rmse, mae = BASELINE[seed]
    if settings["role"] == "front":
        return rmse * 0.95, mae * 0.95
    gain = {0: 0.0, 1: 0.10}[settings["trial"]]
    if settings["method"] == "pcgrad":
        gain += (-0.05, 0.06, -0.01)[seed]
    return rmse * (1 - gain), mae * (1 - gain)


def step(settings: dict) -> float:
    return 0.02 if settings.get("method") == "pcgrad" else 0.01


def test_delta_intervals_best_setting_and_cost(home: Path) -> None:
    store = RunStore(home)
    result = verdict_result(store, fake_verdict(store, quality, step))
    assert result["done"]
    equal, pcgrad = result["methods"]["equal"], result["methods"]["pcgrad"]
    # trial 1 is better on validation, so it is the chosen setting
    assert equal["best"]["trial"] == 1 and pcgrad["best"]["trial"] == 1
    # Δm of equal: every metric 10 % lower (better) than the baseline → +10 % on every seed
    assert equal["delta_m"]["mean"] == pytest.approx(10.0)
    assert equal["delta_m"]["low"] == pytest.approx(10.0) and equal["helps"] is True
    values = [100 * (0.10 + w) for w in (-0.05, 0.06, -0.01)]  # pcgrad per seed
    mean = sum(values) / 3
    half = stats.t.ppf(0.975, 2) * stats.tstd(values) / math.sqrt(3)
    assert pcgrad["delta_m"]["mean"] == pytest.approx(mean)
    assert pcgrad["delta_m"]["low"] == pytest.approx(mean - half, rel=1e-3)
    assert pcgrad["helps"] is (mean - half > 0 or None)
    # paired difference with equal: the wobble only, whose interval straddles 0
    assert pcgrad["vs_equal"]["inside_noise"] is True
    assert pcgrad["relative_cost"] == pytest.approx(2.0)
    assert equal["relative_cost"] == pytest.approx(1.0)
    assert len(result["front"]) == 2
    assert result["front"][0]["delta_m"]["mean"] == pytest.approx(5.0)
    text = " ".join(result["verdict"])
    assert text.startswith("Sharing helps")
    assert "pcgrad" in text and "inside the seed noise" in text and "2.0× equal" in text


def test_no_gain_is_reported_as_no_help(home: Path) -> None:
    store = RunStore(home)

    def worse(settings: dict, seed: int) -> tuple[float, float]:
        rmse, mae = BASELINE[seed]
        return rmse * (1.02 + 0.01 * seed), mae * (1.02 + 0.01 * seed)

    result = verdict_result(store, fake_verdict(store, worse, step))
    assert result["methods"]["equal"]["helps"] is False
    assert result["methods"]["equal"]["delta_m"]["high"] < 0
    assert result["verdict"][0].startswith("Sharing does not help")


def test_baselines_are_tuned_with_the_same_budget(home: Path) -> None:
    store = RunStore(home)

    def tuned_baseline(trial: int, seed: int) -> tuple[float, float]:
        rmse, mae = BASELINE[seed]
        return (rmse * 0.9, mae * 0.9) if trial == 1 else (rmse, mae)  # setting 1: 10 % better

    verdict_id = fake_verdict(store, quality, step, baseline=tuned_baseline)
    record = (home / "sweeps" / f"{verdict_id}.json").read_text()
    assert record.count('"trial": 1') >= 3  # a baseline per setting and seed
    equal = verdict_result(store, verdict_id)["methods"]["equal"]
    # equal (10 % better than the untuned baseline) only matches the tuned one: Δm 0
    assert equal["delta_m"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert equal["helps"] is False  # an interval at 0 is no help
