"""The trainer reuses what it already computed: the summary's validation metrics come from the
last epoch's validation pass when (and only when) the weights have not changed since."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtl.config import ExperimentConfig
from mtl.train.callbacks import Callback, StepEnd
from mtl.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    frame["a"] = x[:, 0] - 2.0 * x[:, 1] + 0.1 * rng.normal(size=200)
    frame["b"] = np.where(x[:, 2] + x[:, 3] > 0, "yes", "no")
    path = tmp_path_factory.mktemp("bookkeeping") / "table.csv"
    frame.to_csv(path, index=False)
    return str(path)


def make_config(path: str, **train: Any) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "name": "bookkeeping",
            "data": {"dataset": "csv", "path": path},
            "tasks": [
                {"name": "a", "target": "a", "kind": "regression"},
                {"name": "b", "target": "b", "kind": "binary"},
            ],
            "model": {"hidden": [16, 8]},
            "train": {
                "epochs": 4,
                "batch_size": 32,
                "lr": 0.01,
                "log_every": 1,
                "seed": 0,
                **train,
            },
        }
    )


class CountingTrainer(Trainer):
    """Counts the validation passes (a real trainer; only ``predict`` is wrapped)."""

    val_passes = 0

    def predict(self, split: str) -> dict[str, np.ndarray]:
        if split == "val":
            self.val_passes += 1
        return super().predict(split)


def fresh_val(trainer: Trainer) -> dict[str, Any]:
    """The validation metrics recomputed from scratch on the trainer's current weights."""
    return trainer.evaluate("val")


def test_summary_reuses_the_last_validation_pass(table_csv: str) -> None:
    trainer = CountingTrainer(make_config(table_csv))
    result = trainer.fit()
    assert result.status == "finished"
    assert trainer.val_passes == 4  # one per epoch, none again for the summary
    assert result.summary["val"] == fresh_val(trainer)


def test_restored_best_weights_are_evaluated_again(table_csv: str) -> None:
    trainer = CountingTrainer(make_config(table_csv, epochs=30, lr=0.05, early_stopping=2))
    result = trainer.fit()
    epochs = result.summary["epochs"]
    assert trainer.val_passes == epochs + 1  # the restored weights get their own pass
    assert result.summary["val"] == fresh_val(trainer)


def test_a_stop_inside_an_epoch_is_evaluated_on_the_final_weights(table_csv: str) -> None:
    class StopMidEpoch(Callback):
        def on_step(self, trainer: Trainer, event: StepEnd) -> None:
            if event.step == 7:  # 5 steps per epoch: inside the second epoch
                trainer.request_stop()

    trainer = CountingTrainer(make_config(table_csv), callbacks=[StopMidEpoch()])
    result = trainer.fit()
    assert result.status == "stopped" and result.summary["steps"] == 7
    assert trainer.val_passes == 2  # epoch 1, then the summary on the weights of step 7
    assert result.summary["val"] == fresh_val(trainer)
