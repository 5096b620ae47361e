"""Decode raw model outputs into per-task prediction tables in the data's own terms.

Classification: the predicted class label and one probability column per class.
Regression: the prediction in original units, one column per target. With labels given,
the true values sit beside the predictions (class labels, original units). Pure numpy and
pandas, so the dashboard can read what the worker wrote without torch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mtl.data.prepare import Split
from mtl.data.tasks import TaskSpec
from mtl.train.metrics import probabilities, to_original_units

PREDICTIONS_DIR = "predictions"


def prediction_frame(spec: TaskSpec, outputs: np.ndarray, split: Split | None = None) -> pd.DataFrame:
    """One task's predictions; with ``split``, its row numbers and true values too.

    Columns: ``row`` (dataset row, with a split), then for classification ``true``,
    ``pred``, ``p_<class>`` …; for regression ``true_<target>``, ``pred_<target>`` ….
    Rows without a label keep an empty ``true``.
    """
    frame = pd.DataFrame(index=np.arange(len(outputs)))
    if split is not None:
        frame["row"] = split.rows
    mask = None if split is None else split.mask[spec.name]
    if spec.kind == "regression":
        pred = to_original_units(spec, outputs.reshape(len(outputs), -1))
        for j, target in enumerate(spec.targets):
            if split is not None:
                true = to_original_units(spec, split.y[spec.name].reshape(len(outputs), -1))[:, j]
                frame[f"true_{target}"] = np.where(mask, true, np.nan)
            frame[f"pred_{target}"] = pred[:, j]
        return frame
    classes = np.asarray(spec.classes or [], dtype=object)
    proba = probabilities(spec, outputs)
    if spec.kind == "binary":
        proba = np.stack([1.0 - proba, proba], axis=1)  # (N, 2)
    if split is not None:
        ids = split.y[spec.name].astype(np.int64)
        frame["true"] = np.where(mask, classes[ids], None)
    frame["pred"] = classes[proba.argmax(axis=1)]
    for k, name in enumerate(classes):
        frame[f"p_{name}"] = proba[:, k]
    return frame
