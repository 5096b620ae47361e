"""Metric names and directions: plain constants, no dependencies (safe for any layer).

The metrics themselves are computed by :mod:`mtl.train.metrics` (scikit-learn); pages, the
viz helpers, sweeps and Δm only need the names and whether higher is better, so they import
them from here and never load scikit-learn.
"""

from __future__ import annotations

__all__ = [
    "CLASSIFICATION_METRICS",
    "HEADLINE_METRICS",
    "HIGHER_IS_BETTER",
    "REGRESSION_METRICS",
    "metric_names",
]

CLASSIFICATION_METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "auc_roc")
REGRESSION_METRICS: tuple[str, ...] = ("mse", "rmse", "mae", "r2")
HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "auc_roc": True,
    "mse": False,
    "rmse": False,
    "mae": False,
    "r2": True,
    "loss": False,
}

# The one metric a table or a sweep leads with, per task kind.
HEADLINE_METRICS: dict[str, str] = {
    "binary": "accuracy",
    "multiclass": "accuracy",
    "regression": "r2",
}


def metric_names(kind: str) -> tuple[str, ...]:
    """The metrics reported for a task kind ("regression", "binary" or "multiclass")."""
    return REGRESSION_METRICS if kind == "regression" else CLASSIFICATION_METRICS
