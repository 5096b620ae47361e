"""Any CSV file on disk (upload it or give its path): you name the target columns; the rest are candidate features.

Reference: pandas.read_csv; preparation with scikit-learn (imputation, scaling, one-hot encoding).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mtl.data.catalog import DataError, Dataset

NAME = "csv"


class Options(BaseModel):
    """How the CSV file is read."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    sep: str = Field(",", min_length=1, description="Column separator.")
    max_rows: int | None = Field(None, ge=1, description="Read at most this many rows.")


def read_rows(
    path: str | Path, sep: str = ",", max_rows: int | None = None, where: str = ""
) -> pd.DataFrame:
    """Read the rows of a user CSV; :class:`DataError` with a plain message when it cannot
    be read (missing, empty, malformed, not UTF-8, a header without rows). ``where``
    names the setting the path came from, for the "not found" message."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"CSV file {str(file)!r} not found" + (f"; check {where}" if where else ""))
    try:
        frame = pd.read_csv(file, sep=sep, nrows=max_rows)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"CSV file {str(file)!r} is empty; it needs a header row and data rows"
        ) from None
    except pd.errors.ParserError as err:
        first = str(err).strip().splitlines()[0]
        raise DataError(
            f"CSV file {str(file)!r} is malformed ({first}); check separators and quoting"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"CSV file {str(file)!r} is not UTF-8 text; save it as UTF-8 CSV") from None
    if frame.empty:
        raise DataError(f"CSV file {str(file)!r} has a header but no data rows")
    return frame


def read_csv(path: str | Path, sep: str = ",", max_rows: int | None = None) -> pd.DataFrame:
    """Read a training CSV: :func:`read_rows`, and it needs features and targets (≥ 2 named columns)."""
    frame = read_rows(path, sep, max_rows, where="data.path")
    file = Path(path)
    if frame.shape[1] < 2:
        raise DataError(
            f"CSV file {str(file)!r} has a single column {list(frame.columns)}; "
            "it needs features and targets (is the separator right?)"
        )
    unnamed = [str(c) for c in frame.columns if str(c).startswith("Unnamed:")]
    if unnamed and len(unnamed) == frame.shape[1]:
        raise DataError(
            f"CSV file {str(file)!r} has no header row; add column names on the first line"
        )
    return frame


def _load(options: Options, path: str | None) -> pd.DataFrame:
    if not path:
        raise DataError("data.path is required when data.dataset is 'csv'")
    return read_csv(path, options.sep, options.max_rows)


DATASET = Dataset(load=_load, options=Options)
