"""Checkpoints: the model's state dict plus everything needed to rebuild it.

The checkpoint holds only tensors and plain data, so ``torch.load(path, weights_only=True)``
reads it. The fitted feature preprocessor (a scikit-learn object) is saved beside it with
joblib, for predictions on new rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import torch

from mtl.config import ExperimentConfig
from mtl.data.prepare import PreparedData
from mtl.data.tasks import TaskSpec
from mtl.models import ARCHITECTURES
from mtl.models.base import MultiTaskModel

FORMAT = 1
CHECKPOINT = "checkpoint.pt"
PREPROCESSOR = "preprocessor.joblib"


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    model: MultiTaskModel
    config: ExperimentConfig
    tasks: list[TaskSpec]
    input_shape: tuple[int, ...]
    input_columns: list[str]
    extra: dict[str, Any]


def save_checkpoint(
    folder: Path, model: MultiTaskModel, config: ExperimentConfig, data: PreparedData, **extra: Any
) -> Path:
    """Write ``checkpoint.pt`` (atomically: a temp file renamed) and the preprocessor into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config.to_dict(),
        "tasks": [t.to_dict() for t in data.tasks],
        "input_shape": list(data.input_shape),
        "input_columns": list(data.input_columns),
        "extra": extra,
    }
    path = folder / CHECKPOINT
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    joblib.dump(data.preprocessor, folder / PREPROCESSOR)
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    """Rebuild the model from a checkpoint file (read with ``weights_only=True``)."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    config = ExperimentConfig.from_dict(payload["config"])
    tasks = [TaskSpec.from_dict(t) for t in payload["tasks"]]
    input_shape = tuple(payload["input_shape"])
    model = ARCHITECTURES.get(config.model.sharing)(config.model, input_shape, {t.name: t.out_dim for t in tasks})
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return Checkpoint(model, config, tasks, input_shape, list(payload["input_columns"]), dict(payload["extra"]))
