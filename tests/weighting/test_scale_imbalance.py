"""One task's loss ~1000× the other's: automatic weighting keeps the small task learning, equal does not."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtl.config import ExperimentConfig
from mtl.train.callbacks import History
from mtl.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

SEEDS = (0, 1, 2)


def make_table(path: Path, seed: int, n: int = 1200) -> None:
    """``big`` (scale 30: MSE ~1000× larger) and ``small`` depend on disjoint features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
    frame["big"] = 30.0 * (np.sin(x[:, 0]) + x[:, 1] * x[:, 2] + 0.1 * rng.normal(size=n))
    frame["small"] = np.tanh(x[:, 4] + x[:, 5]) + 0.5 * x[:, 6] * x[:, 7] + 0.1 * rng.normal(size=n)
    frame.to_csv(path, index=False)


def run(path: Path, weighting: str, seed: int) -> tuple[dict, History]:
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(path), "standardize_targets": False},
            "tasks": [
                {"name": "big", "target": "big", "kind": "regression"},
                {"name": "small", "target": "small", "kind": "regression"},
            ],
            "model": {
                "sharing": "hard",
                "hidden": [32, 4],
            },  # a narrow last shared layer the tasks compete for
            "loss": {"weighting": weighting},
            "train": {"epochs": 40, "batch_size": 64, "lr": 0.03, "seed": seed, "log_every": 20},
        }
    )
    history = History()
    result = Trainer(config, callbacks=[history]).fit()
    assert result.status == "finished"
    return result.summary["val"], history


def test_gradnorm_and_uncertainty_keep_the_small_loss_task_learning(tmp_path: Path) -> None:
    small_r2: dict[str, list[float]] = {"equal": [], "gradnorm": [], "uncertainty": []}
    for seed in SEEDS:
        path = tmp_path / f"imbalance{seed}.csv"
        make_table(path, seed)
        for weighting in small_r2:
            val, history = run(path, weighting, seed)
            first = {
                r[3]: r[6] for r in history.epochs[0].rows if r[4] == "train" and r[5] == "loss"
            }
            assert (
                first["big"] > 300 * first["small"]
            )  # the scales really differ (~1000× at the start)
            assert val["big"]["r2"] > 0.85, (
                weighting,
                seed,
                val,
            )  # the large task is learned by all
            small_r2[weighting].append(val["small"]["r2"])
            if weighting == "uncertainty":  # it learned a larger noise for the large-loss task
                weights = history.steps[-1].weights
                assert weights["big"] < 0.25 * weights["small"]
    equal = small_r2["equal"]
    assert statistics.mean(equal) < 0.3, small_r2  # the small task stalls under equal weights
    for weighting, margin in (("gradnorm", 0.4), ("uncertainty", 0.2)):
        assert all(w > e for w, e in zip(small_r2[weighting], equal, strict=True)), small_r2
        assert statistics.mean(small_r2[weighting]) > statistics.mean(equal) + margin, small_r2
