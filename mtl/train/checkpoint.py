"""Checkpoints: the model's state dict plus everything needed to rebuild it.

The checkpoint holds only tensors and plain data, so ``torch.load(path, weights_only=True)``
reads it. The fitted feature preprocessing is saved beside it as plain JSON
(:mod:`mtl.data.preprocessing`), for predictions on new rows: nothing in a run folder is a
pickle. Both files are written atomically; a truncated or corrupt checkpoint is refused
on load with one line (:class:`CheckpointError`).
"""

from __future__ import annotations

import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mtl.config import ExperimentConfig
from mtl.data.prepare import PreparedData
from mtl.data.preprocessing import PREPROCESSING, Preprocessing
from mtl.data.tasks import TaskSpec
from mtl.data.text import TextLayout
from mtl.errors import CheckpointError  # re-exported from here too
from mtl.models.base import MultiTaskModel
from mtl.models.inputs import model_builder
from mtl.train.files import atomic_write, atomic_write_text

FORMAT = 1
CHECKPOINT = "checkpoint.pt"
LEGACY_PREPROCESSOR = "preprocessor.joblib"
"""The pickle older versions saved; never loaded (unpickling can run code)."""


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
    """Write ``checkpoint.pt`` and ``preprocessing.json`` into ``folder``, each atomically
    (a temporary file renamed over the target)."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config.to_dict(),
        "tasks": [t.to_dict() for t in data.tasks],
        "input_shape": list(data.input_shape),
        "input_columns": list(data.input_columns),
        "text": None if data.text_layout is None else data.text_layout.to_dict(),
        "extra": extra,
    }
    path = atomic_write(folder / CHECKPOINT, lambda tmp: torch.save(payload, tmp))
    atomic_write_text(
        folder / PREPROCESSING, Preprocessing.from_fitted(data.preprocessor, data.text).to_json()
    )
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    """Rebuild the model from a checkpoint file (read with ``weights_only=True``).

    Raises:
        CheckpointError: the file is truncated, corrupt or not a checkpoint of this format.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # e.g. "Detected pickle protocol 4": the error below says it all
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read: it holds objects other than tensors and plain data, "
            "which are never loaded (a checkpoint from another program, or a crafted file)"
        ) from None
    except Exception as err:  # torch raises RuntimeError, EOFError… on a damaged file
        raise CheckpointError(
            f"checkpoint {str(path)!r} cannot be read (truncated or corrupt: {_first_line(err)})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a checkpoint of format {FORMAT}")
    try:
        config = ExperimentConfig.from_dict(payload["config"])
        tasks = [TaskSpec.from_dict(t) for t in payload["tasks"]]
        input_shape = tuple(int(n) for n in payload["input_shape"])
        text = payload.get("text")  # absent in checkpoints saved before text inputs
        layout = None if text is None else TextLayout.from_dict(text)
        model = model_builder(config.model.sharing, config.data, layout)(
            config.model, input_shape, {t.name: t.out_dim for t in tasks}
        )
        model.load_state_dict(payload["state_dict"])
        columns, extra = list(payload["input_columns"]), dict(payload["extra"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {str(path)!r} is damaged ({_first_line(err)})") from None
    model.eval()
    return Checkpoint(model, config, tasks, input_shape, columns, extra)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else type(err).__name__
