"""Per-task evaluation metrics, computed in NumPy as scikit-learn defines them.

Classification: accuracy, precision, recall, F1 (all macro-averaged over classes, also for
binary tasks) and AUC-ROC (one-vs-rest for multiclass). Regression: MSE, RMSE, MAE, R²
in the target's original units (averaged over outputs for a k-output task). A metric that
is undefined on the rows given (for example AUC with one class present) is returned as
missing with a reason, never an exception.

They run at every epoch's end for every task and split, so they skip scikit-learn's
per-call input validation (``type_of_target``, ``check_array``, label discovery: several
milliseconds a call on 10,000 rows) and compute from counts the trainer's own encoding
guarantees (class ids ``0..K-1``, finite outputs). ``tests/train/test_metrics_exact.py``
holds them to ``sklearn.metrics``: bit-identical, AUC-ROC within 1e-12 (here it is exact:
a rank count in integers, one division).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    "binary_auc",
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
    """Accuracy, macro precision/recall/F1 and AUC-ROC from class ids and probabilities.

    Args:
        y_true: class ids in ``0..n_classes-1`` (N,), int.
        proba: finite probabilities: P(class 1) (N,) for a binary task, (N, K) rows summing
            to one otherwise.
        n_classes: K; every class counts in the macro averages, present or not (as
            scikit-learn's ``labels=range(K)``, ``zero_division=0``).
    """
    y_pred = (proba >= 0.5).astype(np.int64) if proba.ndim == 1 else proba.argmax(axis=1)
    # The confusion counts per class, as sklearn.metrics.multilabel_confusion_matrix has them.
    true_sum = np.bincount(y_true, minlength=n_classes)  # (K,)
    pred_sum = np.bincount(y_pred, minlength=n_classes)
    correct = y_true == y_pred  # (N,)
    tp_sum = np.bincount(y_true[correct], minlength=n_classes)
    # precision_recall_fscore_support's arithmetic (beta 1): float64 ratios, 0 where the
    # denominator is 0, NaN-ignoring mean over classes.
    f_denominator = 1.0 * true_sum.astype(np.float64) + pred_sum.astype(np.float64)
    result = {
        "accuracy": MetricValue(float(np.average(correct))),
        "precision": MetricValue(float(np.nanmean(_divide(tp_sum, pred_sum)))),
        "recall": MetricValue(float(np.nanmean(_divide(tp_sum, true_sum)))),
        "f1": MetricValue(
            float(np.nanmean(_divide(2.0 * tp_sum.astype(np.float64), f_denominator)))
        ),
    }
    result["auc_roc"] = _auc_roc(y_true, proba, np.flatnonzero(true_sum))
    return result


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` in float64, 0 where the denominator is 0."""
    zero = denominator == 0
    safe = np.asarray(denominator, dtype=np.float64).copy()
    safe[zero] = 1
    result = np.asarray(numerator, dtype=np.float64) / safe
    result[zero] = 0.0
    return result


def _auc_roc(y_true: np.ndarray, proba: np.ndarray, present: np.ndarray) -> MetricValue:
    """AUC-ROC (binary), or macro one-vs-rest AUC over the classes present (multiclass).

    With some classes absent, their probability mass is taken out and the rest renormalised
    over the classes present; with two classes (present, or a two-column output) it is the
    binary AUC of the second.
    """
    if len(present) < 2:
        return MetricValue(None, f"only one class present ({int(present[0])}); AUC-ROC needs two")
    if proba.ndim == 1:
        return MetricValue(binary_auc(y_true == 1, proba))
    scores, labels = proba, y_true
    if len(present) < proba.shape[1]:
        scores = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)  # (N, P)
        labels = np.searchsorted(present, y_true)
    if scores.shape[1] == 2:
        return MetricValue(binary_auc(labels == 1, scores[:, 1]))
    per_class = [binary_auc(labels == k, scores[:, k]) for k in range(scores.shape[1])]
    return MetricValue(float(np.mean(per_class)))


def binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The area under the ROC curve: the share of (positive, negative) pairs the score
    ranks right, tied pairs counting one half (Mann–Whitney U / (P · N)).

    Counted in integers over groups of tied scores, then divided once, so the result is
    the exact area correctly rounded (``sklearn.metrics.roc_auc_score`` sums trapezoids and
    may differ in the last bits).

    Args:
        positive: (N,) bool, with at least one True and one False.
        score: (N,) higher means more likely positive.
    """
    order = np.argsort(score, kind="stable")
    ranked = score[order]  # ascending
    starts = np.flatnonzero(np.concatenate(([True], ranked[1:] != ranked[:-1])))  # tie groups
    sizes = np.diff(np.append(starts, len(ranked)))
    pos = np.add.reduceat(positive[order].astype(np.int64), starts)  # positives per group
    neg = sizes - pos
    below = np.cumsum(neg) - neg  # negatives scored strictly lower than each group
    twice_wins = int(np.sum(pos * (2 * below + neg)))  # a tie counts one half: doubled
    n_pos = int(pos.sum())
    return twice_wins / (2 * n_pos * (len(ranked) - n_pos))


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
