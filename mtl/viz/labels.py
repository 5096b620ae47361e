"""Words for people: one mapping from config keys, table columns and metric names to the
labels shown in tables, figures and reports; and the two escapes that keep user strings
(run, task, tag, note, column and file names) as text.

Pure functions, no Streamlit: :mod:`mtl.viz` figures, :mod:`mtl.viz.report` and the pages share
them, so ``model.sharing`` reads "Sharing" in a table header, on a chart axis and in an
HTML report alike.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = [
    "COLUMN_LABELS",
    "METRIC_LABELS",
    "dataset_label",
    "label",
    "markdown_text",
    "metric_label",
    "plain",
]

METRIC_LABELS: dict[str, str] = {
    "loss": "loss",
    "accuracy": "accuracy",
    "precision": "precision",
    "recall": "recall",
    "f1": "F1",
    "auc_roc": "AUC-ROC",
    "mse": "MSE",
    "rmse": "RMSE",
    "mae": "MAE",
    "r2": "R²",
    "lr": "learning rate",
}
"""Metric name → how it is written (``auc_roc`` → ``AUC-ROC``)."""

COLUMN_LABELS: dict[str, str] = {
    "id": "run id",
    "name": "run",
    "status": "status",
    "created": "created",
    "dataset": "dataset",
    "tasks": "tasks",
    "tags": "tags",
    "notes": "notes",
    "runs": "runs",
    "duration (s)": "duration (s)",
    "delta_m": "Δm (%)",
    "parent": "initialised from",
    "model.init_from": "initialised from",
    "data.dataset": "dataset",
    "data.options.p": "task correlation p",
    "model.sharing": "sharing",
    "sharing": "sharing",
    "model.encoder": "encoder",
    "model.hidden": "hidden layers",
    "hidden": "hidden layers",
    "model.branch_depth": "branch depth",
    "loss.weighting": "weighting",
    "weighting": "weighting",
    "train.epochs": "epochs",
    "epochs": "epochs",
    "train.batch_size": "batch size",
    "batch": "batch size",
    "train.lr": "learning rate",
    "lr": "learning rate",
    "train.optimizer": "optimizer",
    "optimizer": "optimizer",
    "train.seed": "seed",
    "seed": "seed",
}
"""Config keys and table columns → header text. Unknown dotted keys fall back to their
last part with underscores as spaces (``train.weight_decay`` → ``weight decay``)."""


def metric_label(metric: str) -> str:
    """``"auc_roc"`` → ``"AUC-ROC"``; an unknown metric with underscores as spaces."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def label(key: str) -> str:
    """The header for a config key, a table column or a sweep column.

    Handles ``"<task>/<metric>"`` (→ ``"<task> · <metric label>"``), a trailing
    ``" mean"``/``" std"`` (kept, after the label), Δm and dotted config keys.

    Args:
        key: e.g. ``"model.sharing"``, ``"delta_m mean"``, ``"label/auc_roc"``.
    """
    for suffix in (" mean", " std"):
        if key.endswith(suffix):
            return f"{label(key.removesuffix(suffix))}{suffix}"
    if key in COLUMN_LABELS:
        return COLUMN_LABELS[key]
    if "/" in key:
        task, _, metric = key.rpartition("/")
        return f"{task} · {metric_label(metric)}"
    if key in METRIC_LABELS:
        return METRIC_LABELS[key]
    return key.rsplit(".", 1)[-1].replace("_", " ")


def plain(text: object) -> str:
    """``text`` escaped for HTML and plotly's text (titles, legends, ticks, hover): a user
    string then shows literally and never becomes a tag or a link."""
    return html.escape(str(text), quote=False)


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#!|<>~:$&^=])")
_LEADING = re.compile(r"^([-+]|\d+(?=[.)]))")


def markdown_text(text: object) -> str:
    """``text`` on one line for a Streamlit markdown element (``st.subheader``, ``st.info``,
    a button, tab or help text): the characters markdown acts on are backslash-escaped, so
    ``**x**``, ``![x](url)``, ``[x](javascript:…)``, ``<b>``, ``:red[x]`` and ``$x$`` show
    as written (and a leading ``-`` or ``1.`` starts no list)."""
    one_line = " ".join(str(text).split())
    escaped = _MARKDOWN.sub(r"\\\1", one_line)
    return _LEADING.sub(
        lambda m: "\\" + m.group(1) if m.group(1) in "-+" else m.group(1) + "\\", escaped
    )


def dataset_label(data: Mapping[str, Any]) -> str:
    """How a run's dataset is shown: the file name for ``csv`` (``data.path``'s base name,
    which keeps an upload's original name), the folder for ``images`` (``images: <folder>``),
    else the catalog name.

    ``data`` is a config's ``data`` section as a dict.
    """
    path = data.get("path")
    name = PurePath(str(path).replace("\\", "/")).name if path else ""
    if data.get("dataset") == "csv" and name:
        return name
    if data.get("dataset") == "images" and name:
        return f"images: {name}"
    return str(data.get("dataset") or "?")
