"""Overfitting, made visible: the gap between each task's training and validation loss.

:func:`loss_gap` reads a run's metric rows (as the store returns them) and gives, per task,
both losses and their gap at the epoch whose weights the run kept (early stopping's choice)
and at the latest epoch, and the lowest validation loss with its epoch. Epochs are 1-based, as
on the charts' epoch axis. Pure pandas.

The overfitting rule (:func:`overfitting_tasks`): a task began to overfit when

1. its validation loss rose after its lowest point: the latest validation loss is more than
   :data:`GROWTH` (10 %) above the lowest one, or
2. its gap (validation − training) is positive at the latest epoch and grew after the kept
   epoch by more than :data:`GROWTH` of the kept validation loss.

A gap that grows while the validation loss stays below the training loss and keeps falling
(e.g. −0.077 → −0.044) is not overfitting: the model still generalises better each epoch.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mtl.viz.frames import check_columns, order_of_appearance

__all__ = ["GAP_COLUMNS", "GROWTH", "gap_sentence", "kept_epoch", "loss_gap", "overfitting_tasks"]

GAP_COLUMNS = (
    "task",
    "kept epoch",
    "train loss",
    "validation loss",
    "gap",
    "latest epoch",
    "latest gap",
    "latest validation loss",
    "lowest validation loss",
    "lowest at epoch",
)

GROWTH = 0.1
"""How much a loss or a gap must grow, relative to a validation loss, to count (10 %)."""


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
        ``gap`` at the kept epoch, ``latest gap`` at the latest one, the latest and the lowest
        validation loss and the (first) epoch of the lowest.
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
                "latest validation loss": float(table.loc[latest, "val"]),
                "lowest validation loss": float(table["val"].min()),
                "lowest at epoch": int(table["val"].idxmin()),
            }
        )
    out = pd.DataFrame(rows, columns=list(GAP_COLUMNS))
    return out


def overfitting_tasks(gaps: pd.DataFrame) -> dict[str, str]:
    """The tasks of ``gaps`` (:func:`loss_gap`) that began to overfit, each with why (plain text).

    The rule is the module's: the validation loss rose more than :data:`GROWTH` above its
    lowest value after that epoch, or a positive latest gap grew by more than :data:`GROWTH`
    of the kept validation loss after the kept epoch.
    """
    found: dict[str, str] = {}
    for row in gaps.to_dict("records"):
        low, last = row["lowest validation loss"], row["latest validation loss"]
        if last - low > GROWTH * abs(low):
            found[str(row["task"])] = (
                f"validation loss {last:.3g} at epoch {row['latest epoch']}, "
                f"up from {low:.3g} at epoch {row['lowest at epoch']}"
            )
        elif row["latest gap"] > 0 and (
            row["latest gap"] - row["gap"] > GROWTH * abs(row["validation loss"])
        ):
            found[str(row["task"])] = (
                f"gap grew from {row['gap']:.3g} to {row['latest gap']:.3g} after the kept epoch"
            )
    return found


def gap_sentence(gaps: pd.DataFrame) -> str:
    """One sentence on what the gaps show (plain text)."""
    if gaps.empty:
        return "No epoch with both a training and a validation loss yet."
    overfitting = overfitting_tasks(gaps)
    if overfitting:
        return (
            "Began to overfit: " + "; ".join(f"{t} ({why})" for t, why in overfitting.items()) + "."
        )
    widest = gaps.loc[gaps["gap"].idxmax()]
    if math.isnan(widest["gap"]) or widest["gap"] <= 0:
        return "Validation loss is not above training loss: no sign of overfitting."
    return f"Largest gap: {widest['task']} ({widest['gap']:.3g}); it did not grow after the kept epoch."
