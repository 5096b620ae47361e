"""Overfitting, made visible: the gap between each task's training and validation loss.

:func:`loss_gap` reads a run's metric rows (as the store returns them) and gives, per task,
both losses and their gap at the epoch whose weights the run kept (early stopping's choice)
and at the latest epoch. A gap that grows after the kept epoch is the sign of overfitting the
guide warns about. Epochs are 1-based, as on the charts' epoch axis. Pure pandas.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mtl.viz.frames import check_columns, order_of_appearance

__all__ = ["GAP_COLUMNS", "gap_sentence", "kept_epoch", "loss_gap"]

GAP_COLUMNS = (
    "task",
    "kept epoch",
    "train loss",
    "validation loss",
    "gap",
    "latest epoch",
    "latest gap",
)


def kept_epoch(summary: dict[str, Any] | None, early_stopping: bool) -> int | None:
    """The 1-based epoch whose weights a run kept: early stopping's best epoch, else the last.

    Args:
        summary: the run's summary (``best_epoch`` 0-based, ``epochs`` done), or ``None``
            while it trains.
        early_stopping: whether ``train.early_stopping`` was set (the best weights restored).
    """
    if not summary:
        return None
    if early_stopping and summary.get("best_epoch") is not None:
        return int(summary["best_epoch"]) + 1
    return int(summary["epochs"]) if summary.get("epochs") else None


def loss_gap(metrics: pd.DataFrame, kept: int | None = None) -> pd.DataFrame:
    """Per task: training and validation loss, and their gap (validation − training).

    Args:
        metrics: the store's metric rows of one run.
        kept: the 1-based epoch whose weights were kept (:func:`kept_epoch`); default the
            latest epoch with both losses.

    Returns:
        Columns :data:`GAP_COLUMNS`, one row per task with both losses (order of appearance);
        ``gap`` at the kept epoch, ``latest gap`` at the latest one.
    """
    check_columns(metrics, ("epoch", "task", "split", "metric", "value"), "metrics")
    loss = metrics[(metrics["metric"] == "loss") & metrics["split"].isin(["train", "val"])]
    loss = loss[loss["epoch"].notna()]
    rows = []
    for task in order_of_appearance(loss["task"]):
        table = (
            loss[loss["task"] == task]
            .pivot_table(index="epoch", columns="split", values="value", aggfunc="last")
            .dropna()
        )
        if not {"train", "val"} <= set(table.columns) or table.empty:
            continue
        table.index = table.index.astype(int) + 1
        latest = int(table.index.max())
        at = kept if kept is not None and kept in table.index else latest
        rows.append(
            {
                "task": task,
                "kept epoch": at,
                "train loss": float(table.loc[at, "train"]),
                "validation loss": float(table.loc[at, "val"]),
                "gap": float(table.loc[at, "val"] - table.loc[at, "train"]),
                "latest epoch": latest,
                "latest gap": float(table.loc[latest, "val"] - table.loc[latest, "train"]),
            }
        )
    out = pd.DataFrame(rows, columns=list(GAP_COLUMNS))
    return out


def gap_sentence(gaps: pd.DataFrame) -> str:
    """One sentence on what the gaps show (plain text)."""
    if gaps.empty:
        return "No epoch with both a training and a validation loss yet."
    growing = gaps[(gaps["latest gap"] - gaps["gap"]) > 0.1 * gaps["validation loss"].abs()]
    if not growing.empty:
        return (
            "The gap grew after the kept epoch for "
            + ", ".join(map(str, growing["task"]))
            + ": those tasks began to overfit."
        )
    widest = gaps.loc[gaps["gap"].idxmax()]
    if math.isnan(widest["gap"]) or widest["gap"] <= 0:
        return "Validation loss is not above training loss: no sign of overfitting."
    return f"Largest gap: {widest['task']} ({widest['gap']:.3g}); it did not grow after the kept epoch."
