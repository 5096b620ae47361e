"""Which columns of a table can be features, and why the others are left out. Torch-free.

:func:`usable_columns` is what the CSV loader (:func:`mtl.data.prepare.select_features`)
uses to pick default features (the columns it finds to be free text become text inputs
instead, :mod:`mtl.data.text`, unless ``data.text`` says otherwise); the Experiment page can call it on a table to show the
user which columns will be left out and why, before anything trains.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Literal

import numpy as np
import pandas as pd

from mtl.data.catalog import DataError

__all__ = [
    "MAX_ABS_VALUE",
    "REASONS",
    "Reason",
    "check_finite_column",
    "check_finite_inputs",
    "column_problem",
    "is_integer_valued",
    "is_constant",
    "usable_columns",
]

Reason = Literal["empty", "id", "text", "constant"]

REASONS: dict[Reason, str] = {
    "empty": "it is empty",
    "id": "it looks like an ID (every value distinct)",
    "text": "it looks like free text (mostly distinct strings)",
    "constant": "it is constant (one value in every row)",
}
"""A plain sentence for each reason a column is left out."""

MAX_ABS_VALUE = float(np.finfo(np.float32).max)
"""Largest magnitude a feature or regression target may have: models train in 32-bit floats."""


def usable_columns(
    frame: pd.DataFrame,
    targets: Iterable[Hashable],
    *,
    exclude: Iterable[Hashable] = (),
    keep_constant: bool = False,
) -> tuple[list[Hashable], dict[Hashable, Reason]]:
    """The candidate feature columns kept, and those left out with the reason.

    Every column that is not a target (nor in ``exclude``) is a candidate. Left out:
    ``empty`` (no value), ``text`` (strings with more than ``max(50, rows / 2)``
    distinct values, mostly of several words), ``id`` (at least 20 rows, all values
    distinct, and strings, or integers that count rows or sit in an id-named column),
    ``text`` again for other strings with that many distinct values and ``constant`` (a single value, unless
    ``keep_constant``, e.g. for image pixels that are always blank).

    Args:
        frame: the whole table.
        targets: the task target columns (never features).
        exclude: other columns that are never features (a dataset's other labels, ids).
        keep_constant: keep single-valued columns.

    Returns:
        ``(kept, dropped)``: kept column names in table order; ``dropped`` maps each left-out
        column to its :data:`Reason` (:data:`REASONS` has a sentence for each).
    """
    never = {*targets, *exclude}
    kept: list[Hashable] = []
    dropped: dict[Hashable, Reason] = {}
    for column in frame.columns:
        if column in never:
            continue
        reason = column_problem(frame[column], len(frame), keep_constant)
        if reason is None:
            kept.append(column)
        else:
            dropped[column] = reason
    return kept, dropped


def column_problem(column: pd.Series, n_rows: int, keep_constant: bool = False) -> Reason | None:
    """Why one column is not a usable feature (see :func:`usable_columns`), or ``None``."""
    values = column.dropna()
    if values.empty:
        return "empty"
    is_numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    n_unique = values.nunique()
    if n_unique == 1:
        return None if keep_constant else "constant"
    if not is_numeric and n_unique > max(50, n_rows // 2) and _wordy(values):
        return "text"
    if n_rows >= 20 and n_unique == len(values) and _id_like(column.name, values, is_numeric):
        return "id"
    if not is_numeric and n_unique > max(50, n_rows // 2):
        return "text"
    return None


def is_constant(column: pd.Series) -> bool:
    """At most one distinct non-missing value."""
    return column.dropna().nunique() <= 1


def check_finite_column(column: pd.Series, what: str) -> str | None:
    """Why a numeric column cannot be learned from (an infinite or huge value), or ``None``.

    ``what`` names the column in the message, e.g. ``"feature column 'age'"``.
    """
    values = column.to_numpy(dtype=np.float64)
    bad = ~np.isnan(values) & ~(np.abs(values) <= MAX_ABS_VALUE)
    if not bad.any():
        return None
    first = int(np.flatnonzero(bad)[0])
    return (
        f"{what} has {int(bad.sum())} infinite or too large value(s) such as {float(values[first])!r} (row {first}); "
        f"values must be finite and fit in 32-bit floats (at most {MAX_ABS_VALUE:.3g} in size): "
        "fix or empty those cells, or rescale the column"
    )


def check_finite_inputs(x: np.ndarray, feature_names: list[str], where: str) -> None:
    """Raise :class:`DataError` naming the first model input column of ``x`` (N, F) that
    is not finite after preprocessing (e.g. a huge value that overflowed in scaling)."""
    bad = ~np.isfinite(x.reshape(len(x), -1)) if x.size else np.zeros((0, 0), dtype=bool)
    if not bad.any():
        return
    row, col = (int(i[0]) for i in np.nonzero(bad))
    name = feature_names[col] if col < len(feature_names) else f"#{col}"
    raise DataError(
        f"{where}: feature {name!r} is not finite after preprocessing (row {row}); "
        f"its values are too large; rescale the column"
    )


def is_integer_valued(values: pd.Series) -> bool:
    """Every value is a finite whole number (no warning for infinities)."""
    numbers = values.to_numpy(dtype=float)
    return bool(np.all(np.isfinite(numbers)) and np.all(np.mod(numbers, 1.0) == 0))


def _wordy(values: pd.Series) -> bool:
    """Most values hold several words (free text rather than codes)."""
    return bool(values.astype(str).str.strip().str.contains(r"\s").mean() > 0.5)


def _id_like(column: object, values: pd.Series, is_numeric: bool) -> bool:
    """All-distinct values that identify rows: strings, or integers that are consecutive
    (a row number) or sit in a column named like an id."""
    if not is_numeric:
        return True
    if not is_integer_valued(values):
        return False
    name = str(column).strip().lower()
    named_id = (
        name == "id" or name.endswith(("_id", " id", "-id")) or name.startswith(("id_", "id "))
    )
    consecutive = float(values.max()) - float(values.min()) + 1 == len(values)
    return named_id or consecutive
