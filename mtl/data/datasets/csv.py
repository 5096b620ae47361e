"""Any CSV or Parquet file (upload it, or set data.path in a config): you name the target columns; the rest are candidate features.

A path ending in ``.parquet`` or ``.pq`` is read as Parquet (typed columns, compressed,
read by row group), anything else as CSV.
Reference: pandas.read_csv, pyarrow.parquet; preparation with scikit-learn (imputation, scaling, one-hot encoding).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mtl.data.catalog import DataError, Dataset

NAME = "csv"
PARQUET_SUFFIXES = (".parquet", ".pq")
"""File name endings read as Parquet rather than CSV."""


class Options(BaseModel):
    """How the CSV file is read."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    sep: str = Field(",", min_length=1, description="Column separator.")
    max_rows: int | None = Field(None, ge=1, description="Read at most this many rows.")


def read_rows(
    path: str | Path, sep: str = ",", max_rows: int | None = None, where: str = ""
) -> pd.DataFrame:
    """Read the rows of a user CSV or Parquet file; :class:`DataError` with a plain message
    when it cannot be read (missing, empty, malformed, not UTF-8, a header without rows).
    ``where`` names the setting the path came from, for the "not found" message."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"CSV file {str(file)!r} not found" + (f"; check {where}" if where else ""))
    if file.suffix.lower() in PARQUET_SUFFIXES:
        return read_parquet(file, max_rows)
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


def read_parquet(file: Path, max_rows: int | None = None) -> pd.DataFrame:
    """The rows of a Parquet file (the first ``max_rows``, reading only the row groups needed);
    :class:`DataError` when it is not Parquet or has no rows."""
    # why: pyarrow loads only for Parquet input, never on the CLI's or the dashboard's start
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
        if max_rows is None:
            table = parquet.read()
        else:
            batches = parquet.iter_batches(batch_size=max_rows)
            table = pa.Table.from_batches([next(batches)]) if parquet.metadata.num_rows else None
    except (pa.ArrowException, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"Parquet file {str(file)!r} cannot be read ({first})") from None
    if table is None or table.num_rows == 0:
        raise DataError(f"Parquet file {str(file)!r} has columns but no data rows")
    return table.to_pandas()


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
