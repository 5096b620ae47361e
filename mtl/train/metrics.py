"""Per-task evaluation metrics through scikit-learn.

Classification: accuracy, precision, recall, F1 (all macro-averaged over classes, also for
binary tasks) and AUC-ROC (one-vs-rest for multiclass). Regression: MSE, RMSE, MAE, R²
in the target's original units (averaged over outputs for a k-output task). A metric that
is undefined on the rows given (for example AUC with one class present) is returned as
missing with a reason, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sklearn
from sklearn import metrics as skm

from mtl.data.tasks import TaskSpec

# Re-exported for the training code; light layers import them from mtl.metric_names.
from mtl.metric_names import (
    CLASSIFICATION_METRICS,
    HIGHER_IS_BETTER,
    REGRESSION_METRICS,
    metric_names,
)
from mtl.train.predictions import probabilities, to_original_units

__all__ = [
    "CLASSIFICATION_METRICS",
    "HIGHER_IS_BETTER",
    "REGRESSION_METRICS",
    "MetricValue",
    "metric_names",
    "probabilities",
    "task_metrics",
    "to_original_units",
]


@dataclass(frozen=True)
class MetricValue:
    """A metric's value, or ``None`` with the reason it is undefined."""

    value: float | None
    reason: str | None = None


def task_metrics(
    spec: TaskSpec, outputs: np.ndarray, y: np.ndarray, mask: np.ndarray
) -> dict[str, MetricValue]:
    """Metrics of one task from raw model outputs (N, out_dim) and encoded targets."""
    names = metric_names(spec.kind)
    if not mask.any():
        return {m: MetricValue(None, "no labelled rows in this split") for m in names}
    outputs, y = outputs[mask], y[mask]
    if not np.isfinite(outputs).all():
        return {m: MetricValue(None, "the model's outputs are not finite") for m in names}
    # Inputs are checked here, so scikit-learn's own per-call validation can be skipped (hot path).
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        if spec.kind == "regression":
            return regression_metrics(
                to_original_units(spec, y), to_original_units(spec, outputs.reshape(y.shape))
            )
        return classification_metrics(
            y.astype(np.int64), probabilities(spec, outputs), len(spec.classes or [])
        )


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, n_classes: int
) -> dict[str, MetricValue]:
    """Accuracy, macro precision/recall/F1 and AUC-ROC from class ids and probabilities."""
    labels = np.arange(n_classes)
    y_pred = (proba >= 0.5).astype(np.int64) if proba.ndim == 1 else proba.argmax(axis=1)
    # One call for the three (precision_score, recall_score and f1_score each run it).
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    result = {
        "accuracy": MetricValue(float(skm.accuracy_score(y_true, y_pred))),
        "precision": MetricValue(float(precision)),
        "recall": MetricValue(float(recall)),
        "f1": MetricValue(float(f1)),
    }
    present = np.unique(y_true)
    if len(present) < 2:
        result["auc_roc"] = MetricValue(
            None, f"only one class present ({int(present[0])}); AUC-ROC needs two"
        )
    elif proba.ndim == 1:
        result["auc_roc"] = MetricValue(float(skm.roc_auc_score(y_true, proba)))
    elif len(present) < n_classes:
        # One-vs-rest over the classes present, with probabilities renormalised over them.
        sub = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
        remap = np.searchsorted(present, y_true)
        auc = (
            skm.roc_auc_score(remap, sub, multi_class="ovr", labels=np.arange(len(present)))
            if len(present) > 2
            else skm.roc_auc_score(remap, sub[:, 1])
        )
        result["auc_roc"] = MetricValue(float(auc))
    else:
        result["auc_roc"] = MetricValue(
            float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
        )
    return result


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, MetricValue]:
    """MSE, RMSE, MAE and R² (uniform average over outputs), in the units given."""
    # MSE and MAE as scikit-learn computes them (same dtype, same reductions: the same
    # floats), without its per-call input checks (at every epoch's end, for each task).
    floating = [a.dtype for a in (y_true, y_pred) if np.issubdtype(a.dtype, np.floating)]
    dtype = np.result_type(*floating) if floating else np.float64
    true = np.asarray(y_true, dtype=dtype).reshape(len(y_true), -1)  # (N, k)
    pred = np.asarray(y_pred, dtype=dtype).reshape(len(y_pred), -1)
    mse = float(np.mean(np.mean((true - pred) ** 2, axis=0)))
    result = {
        "mse": MetricValue(mse),
        "rmse": MetricValue(float(np.sqrt(mse))),
        "mae": MetricValue(float(np.mean(np.mean(np.abs(pred - true), axis=0)))),
    }
    if len(y_true) < 2 or np.all(np.var(y_true, axis=0) == 0):
        result["r2"] = MetricValue(None, "R² needs at least two distinct target values")
    else:
        result["r2"] = MetricValue(_r2(true, pred))
    return result


def _r2(true: np.ndarray, pred: np.ndarray) -> float:
    """R² of (N, k) arrays, uniform average over outputs: ``sklearn.metrics.r2_score``'s
    arithmetic (force_finite: a perfect output scores 1, a constant target 0)."""
    numerator = np.sum((true - pred) ** 2, axis=0)
    denominator = np.sum((true - np.mean(true, axis=0)) ** 2, axis=0)
    scores = np.ones(true.shape[1], dtype=numerator.dtype)
    valid = (denominator != 0) & (numerator != 0)
    scores[valid] = 1 - numerator[valid] / denominator[valid]
    scores[(numerator != 0) & (denominator == 0)] = 0.0
    return float(np.mean(scores))
