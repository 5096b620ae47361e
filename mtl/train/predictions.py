"""Decode raw model outputs into per-task prediction tables in the data's own terms.

Classification: the predicted class label and one probability column per class.
Regression: the prediction in original units, one column per target. With labels given,
the true values sit beside the predictions (class labels, original units). Pure numpy and
pandas, so the dashboard can read what the worker wrote without torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mtl.data.catalog import DataError
from mtl.data.tasks import TaskSpec
from mtl.train.files import safe_join

PREDICTIONS_DIR = "predictions"

if TYPE_CHECKING:  # a type only: importing it would load scikit-learn on the report path
    from mtl.data.prepare import Split


def prediction_path(run_folder: Path, task: str) -> Path:
    """``<run_folder>/predictions/<task>.csv``; :class:`~mtl.train.files.UnsafePathError`
    when ``task`` is not a plain file name (it never leaves the predictions folder)."""
    return safe_join(Path(run_folder) / PREDICTIONS_DIR, task, ".csv")


def _shown(path: Path) -> str:
    """The file as users know it (``predictions/<task>.csv``), without the server's folders."""
    return f"{PREDICTIONS_DIR}/{path.name}"


def read_predictions(run_folder: Path, task: str) -> pd.DataFrame | None:
    """The stored test predictions of one task, or ``None`` when the run wrote none.

    Raises:
        DataError: the file is damaged (empty, truncated, not CSV); one line naming it.
    """
    path = prediction_path(run_folder, task)
    if not path.is_file():
        return None
    try:
        complete = path.read_bytes().endswith(b"\n")  # to_csv ends every line, the last one too
        frame = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"prediction file {_shown(path)!r} cannot be read ({first})") from None
    # Every column but the true values (empty where a row has no label) is always filled in.
    filled = [c for c in frame.columns if c != "true" and not str(c).startswith("true_")]
    predicted = [c for c in filled if c == "pred" or str(c).startswith("pred_")]
    if not complete or frame.empty or not predicted or frame[filled].isna().any().any():
        raise DataError(
            f"prediction file {_shown(path)!r} is incomplete (missing predicted values)"
        )
    return frame


def probabilities(spec: TaskSpec, outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from raw outputs: (N,) P(class 1) for binary, (N, K) for multiclass."""
    if spec.kind == "binary":
        return 1.0 / (1.0 + np.exp(-outputs.reshape(-1).astype(np.float64)))
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    exp = np.exp(shifted.astype(np.float64))
    return exp / exp.sum(axis=1, keepdims=True)


def to_original_units(spec: TaskSpec, values: np.ndarray) -> np.ndarray:
    """Undo target standardisation: (N, k) standardised → (N, k) original units."""
    return values * np.asarray(spec.target_std) + np.asarray(spec.target_mean)


def _true_values(spec: TaskSpec, split: Split) -> np.ndarray:
    """A regression task's true values (N, k): the data's own (``split.raw``), else the
    standardised targets taken back to original units (float32 rounding shows there)."""
    if spec.name in split.raw:
        return split.raw[spec.name]
    return to_original_units(spec, split.y[spec.name].reshape(len(split.rows), -1))


def prediction_frame(
    spec: TaskSpec, outputs: np.ndarray, split: Split | None = None
) -> pd.DataFrame:
    """One task's predictions; with ``split``, its row numbers and true values too.

    Columns: ``row`` (dataset row, with a split), then for classification ``true``,
    ``pred``, ``p_<class>`` …; for regression ``true_<target>``, ``pred_<target>`` ….
    Rows without a label keep an empty ``true``.
    """
    frame = pd.DataFrame(index=np.arange(len(outputs)))
    if split is not None:
        frame["row"] = split.rows
    if spec.kind == "regression":
        pred = to_original_units(spec, outputs.reshape(len(outputs), -1))
        for j, target in enumerate(spec.targets):
            if split is not None:
                true = _true_values(spec, split)[:, j]
                frame[f"true_{target}"] = np.where(split.mask[spec.name], true, np.nan)
            frame[f"pred_{target}"] = pred[:, j]
        return frame
    classes = np.asarray(spec.classes or [], dtype=object)
    proba = probabilities(spec, outputs)
    if spec.kind == "binary":
        proba = np.stack([1.0 - proba, proba], axis=1)  # (N, 2)
    if split is not None:
        ids = split.y[spec.name].astype(np.int64)
        # numpy's stubs type the third argument as array-like; numpy takes None as an
        # object scalar (the column is of objects), which is what is meant here.
        frame["true"] = np.where(split.mask[spec.name], classes[ids], None)  # type: ignore[call-overload]
    frame["pred"] = classes[proba.argmax(axis=1)]
    for k, name in enumerate(classes):
        frame[f"p_{name}"] = proba[:, k]
    return frame
