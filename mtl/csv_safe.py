"""CSV files that are safe to open in a spreadsheet (no formula injection).

A cell such as ``=HYPERLINK("http://evil", "click")`` or ``@SUM(1+1)*cmd|'/C calc'!A0``
is run as a formula by Excel, LibreOffice and Google Sheets when the CSV is opened.
Run, task, tag and note names, and the string columns of a user's data, reach our CSV
exports, so every export goes through :func:`to_csv`: a string cell (or header) that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``,
which spreadsheets show as text (the OWASP "CSV injection" advice). Numbers are never
touched: ``-1.5`` stays a number, in a numeric column and as the text ``"-1.5"`` alike.
``raw=True`` (the CLI's ``--raw-csv``) writes the cells unchanged.

Pure pandas: usable from the CLI, the library and the dashboard alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "safe_cell", "safe_frame", "to_csv"]

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front if it is a string a spreadsheet would run as a formula.

    Non-strings and strings that are plain numbers (``"-1.5"``, ``"+3"``) come back as they are.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose string cells, column names and index labels are :func:`safe_cell`."""
    out = frame.copy()
    for column in out.columns:
        if not (
            pd.api.types.is_numeric_dtype(out[column])
            or pd.api.types.is_datetime64_any_dtype(out[column])
        ):
            out[column] = out[column].astype(object).map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    if not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(safe_cell)
    return out


def to_csv(
    frame: pd.DataFrame, path: str | Path | None = None, *, raw: bool = False, **kwargs: Any
) -> str | None:
    """Write ``frame`` as CSV like :meth:`pandas.DataFrame.to_csv` (``index=False`` by default).

    Args:
        frame: the table.
        path: the file to write; ``None`` returns the CSV text (e.g. for a download button).
        raw: write cells unchanged (no ``'`` before formula-like strings).
        **kwargs: passed on to :meth:`pandas.DataFrame.to_csv`.

    Returns:
        The CSV text when ``path`` is ``None``, else ``None``.
    """
    kwargs.setdefault("index", False)
    table = frame if raw else safe_frame(frame)
    return table.to_csv(path, **kwargs)
