"""Task specs: a configured task resolved against the data (kind, classes, output width, scales)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from mtl.data.catalog import DataError
from mtl.data.columns import check_finite_column, is_integer_valued

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import TaskConfig, TaskKind

MAX_CLASSES = 200
"""A target with more distinct values than this is not treated as classification."""


@dataclass(frozen=True)
class TaskSpec:
    """Everything the model, loss and metrics need to know about one task.

    ``classes`` are the label values as strings, index = class id; for a binary task
    class 1 is the positive class. ``target_mean``/``target_std`` undo the standardisation
    of regression targets so metrics are in original units.
    """

    name: str
    kind: TaskKind
    targets: list[str]
    out_dim: int
    loss: str
    weight: float
    start_epoch: int
    classes: list[str] | None = None
    class_weights: list[float] | None = None
    target_mean: list[float] | None = None
    target_std: list[float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (stored beside checkpoints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        return cls(**data)


def infer_kind(column: pd.Series) -> TaskKind:
    """Guess a task kind from a target column.

    Two distinct values → ``binary``; non-numeric, or integer-valued with at most 10
    distinct values → ``multiclass``; anything else numeric → ``regression``.
    """
    values = column.dropna()
    n_unique = values.nunique()
    if n_unique == 2:
        return "binary"
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "multiclass"
    if n_unique <= 10 and is_integer_valued(values):
        return "multiclass"
    return "regression"


def resolve_kind(task: TaskConfig, frame: pd.DataFrame) -> TaskKind:
    """The task's configured kind, or the inferred one; checks the column fits the kind."""
    if len(task.targets) > 1:
        for column in task.targets:
            _check_numeric(task, frame[column])
        return "regression"
    column = frame[task.targets[0]]
    kind = task.kind or infer_kind(column)
    values = column.dropna()
    if values.empty:
        raise DataError(f"task {task.name!r}: target column {task.targets[0]!r} has no values")
    if kind == "regression":
        _check_numeric(task, column)
    else:
        n_unique = values.nunique()
        if n_unique < 2:
            raise DataError(
                f"task {task.name!r}: target {task.targets[0]!r} has only one class ({str(values.iloc[0])!r}); "
                "a classification task needs at least two; pick another column or make it a regression"
            )
        if kind == "binary" and n_unique > 2:
            raise DataError(
                f"task {task.name!r}: target {task.targets[0]!r} has {n_unique} classes, not 2; "
                "set kind: multiclass"
            )
        if n_unique > MAX_CLASSES:
            raise DataError(
                f"task {task.name!r}: target {task.targets[0]!r} has {n_unique} distinct values, "
                f"too many for classification (max {MAX_CLASSES}); set kind: regression"
            )
    return kind


def _check_numeric(task: TaskConfig, column: pd.Series) -> None:
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        sample = column.dropna().astype(str).head(3).tolist()
        raise DataError(
            f"task {task.name!r}: regression target {column.name!r} is not numeric (values like {sample}); "
            "set kind: binary or multiclass, or clean the column"
        )
    problem = check_finite_column(column, f"task {task.name!r}: regression target {column.name!r}")
    if problem:
        raise DataError(problem)
