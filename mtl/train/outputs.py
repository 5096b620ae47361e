"""A callback that writes a run's files into its folder: config, metrics, summary, checkpoint.

Every file is written atomically (:func:`mtl.train.files.atomic_write`): a reader sees a
whole file or none. ``metrics.csv`` grows by one append per epoch (one ``write`` of whole
lines); the other files are replaced as a whole. Per-task file names come only from task
names checked by :func:`mtl.train.files.safe_join`.
"""

from __future__ import annotations

import csv
import io
import json
from functools import partial
from pathlib import Path
from typing import Any

from mtl.config import ExperimentConfig
from mtl.train.callbacks import Callback, EpochEnd, RunEnd, RunStart
from mtl.train.checkpoint import save_checkpoint
from mtl.train.files import atomic_write, atomic_write_text
from mtl.train.predictions import PREDICTIONS_DIR, prediction_frame, prediction_path
from mtl.train.trainer import Trainer

METRIC_COLUMNS = ("step", "epoch", "wall_time", "task", "split", "metric", "value", "reason")
SUMMARY = "summary.json"
METRICS = "metrics.csv"


class OutputWriter(Callback):
    """Writes ``config.yaml``, ``tasks.json``, ``metrics.csv`` (appended each epoch), then
    at the end :func:`write_final_outputs`: ``summary.json``, ``checkpoint.pt`` (+
    ``preprocessing.json``) and the test predictions (``predictions/<task>.csv``).

    The checkpoint is written when the run ends finished or stopped (not when it
    diverged: its weights are not finite).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def on_run_start(self, trainer: Trainer, event: RunStart) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.folder / "config.yaml", ExperimentConfig.from_dict(event.config).to_yaml()
        )
        atomic_write_text(self.folder / "tasks.json", json.dumps(event.tasks, indent=2))
        atomic_write_text(self.folder / METRICS, _csv_text([METRIC_COLUMNS]))

    def on_epoch_end(self, trainer: Trainer, event: EpochEnd) -> None:
        # One write call of whole lines: a reader never sees half a row of a finished epoch.
        with open(self.folder / METRICS, "a", newline="", encoding="utf-8") as file:
            file.write(_csv_text(event.rows))

    def on_run_end(self, trainer: Trainer, event: RunEnd) -> None:
        write_final_outputs(self.folder, trainer, event.status, event.summary, event.error)


def write_final_outputs(
    folder: Path, trainer: Trainer, status: str, summary: dict[str, Any], error: str | None
) -> None:
    """Write every end-of-run file into ``folder``, each atomically; returns when all exist.

    Order: ``summary.json``, then (for a ``finished`` or ``stopped`` run) the checkpoint
    with ``preprocessing.json`` and the test predictions. A store should mark the run
    ``finished`` only after this returns: then every file is there.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / SUMMARY, json.dumps(dict(summary, error=error), indent=2))
    if status in ("finished", "stopped"):
        save_checkpoint(folder, trainer.model, trainer.config, trainer.data, status=status)
        write_predictions(folder, trainer)


def write_predictions(folder: Path, trainer: Trainer) -> None:
    """Test-split predictions, one CSV per task (what the Evaluate page shows)."""
    split = trainer.data.test
    if not len(split):
        return
    (Path(folder) / PREDICTIONS_DIR).mkdir(exist_ok=True)
    outputs = trainer.predict("test")
    for spec in trainer.tasks:
        frame = prediction_frame(spec, outputs[spec.name], split)
        atomic_write(
            prediction_path(folder, spec.name),
            partial(frame.to_csv, index=False),
        )


def _csv_text(rows: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()
