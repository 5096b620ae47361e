"""A callback that writes a run's files into its folder: config, metrics, summary, checkpoint."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from mtl.config import ExperimentConfig
from mtl.train.callbacks import Callback, EpochEnd, RunEnd, RunStart
from mtl.train.checkpoint import save_checkpoint
from mtl.train.predictions import PREDICTIONS_DIR, prediction_frame
from mtl.train.trainer import Trainer

METRIC_COLUMNS = ("step", "epoch", "wall_time", "task", "split", "metric", "value", "reason")


class OutputWriter(Callback):
    """Writes ``config.yaml``, ``tasks.json``, ``metrics.csv`` (appended each epoch),
    ``summary.json``, ``checkpoint.pt`` (+ ``preprocessor.joblib``) and the test
    predictions (``predictions/<task>.csv``) into ``folder``.

    The checkpoint is written when the run ends finished or stopped (not when it
    diverged: its weights are not finite).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def on_run_start(self, trainer: Trainer, event: RunStart) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.yaml").write_text(ExperimentConfig.from_dict(event.config).to_yaml(), encoding="utf-8")
        (self.folder / "tasks.json").write_text(json.dumps(event.tasks, indent=2), encoding="utf-8")
        with open(self.folder / "metrics.csv", "w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerow(METRIC_COLUMNS)

    def on_epoch_end(self, trainer: Trainer, event: EpochEnd) -> None:
        with open(self.folder / "metrics.csv", "a", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(event.rows)

    def on_run_end(self, trainer: Trainer, event: RunEnd) -> None:
        summary = dict(event.summary, error=event.error)
        (self.folder / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        if event.status in ("finished", "stopped"):
            save_checkpoint(self.folder, trainer.model, trainer.config, trainer.data, status=event.status)
            self._write_predictions(trainer)

    def _write_predictions(self, trainer: Trainer) -> None:
        """Test-split predictions, one CSV per task (what the Evaluate page shows)."""
        split = trainer.data.test
        if not len(split):
            return
        folder = self.folder / PREDICTIONS_DIR
        folder.mkdir(exist_ok=True)
        outputs = trainer.predict("test")
        for spec in trainer.tasks:
            prediction_frame(spec, outputs[spec.name], split).to_csv(folder / f"{spec.name}.csv", index=False)
