"""Spreadsheet-safe CSV: formula-like text gets a leading quote, numbers never change."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from mtl.csv_safe import FORMULA_STARTS, safe_cell, to_csv


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_quoted(start: str) -> None:
    assert safe_cell(f"{start}cmd|'/C calc'!A0") == f"'{start}cmd|'/C calc'!A0"


@pytest.mark.parametrize(
    "value", ["plain", "", "a=b", " =1", "-1.5", "+3", "-1e-3", -1.5, 7, None, np.nan]
)
def test_plain_text_and_numbers_are_untouched(value: object) -> None:
    assert safe_cell(value) is value


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_frame_cells_headers_and_categories_are_quoted_numbers_kept() -> None:
    frame = pd.DataFrame(
        {
            "task": ['=HYPERLINK("http://x","y")', "ok", "@SUM(1)", "-1.5"],
            "value": [-1.5, 2.0, -3.0, 4.0],
            "=cmd": pd.Categorical(["+a", "b", "\tc", "-d"]),
        }
    )
    safe = rows(to_csv(frame))
    assert safe[0] == ["task", "value", "'=cmd"]
    assert [r[0] for r in safe[1:]] == ['\'=HYPERLINK("http://x","y")', "ok", "'@SUM(1)", "-1.5"]
    assert [r[1] for r in safe[1:]] == ["-1.5", "2.0", "-3.0", "4.0"]
    assert [r[2] for r in safe[1:]] == ["'+a", "b", "'\tc", "'-d"]
    raw = rows(to_csv(frame, raw=True))
    assert raw[0][2] == "=cmd" and raw[1][0].startswith("=HYPERLINK") and raw[3][0] == "@SUM(1)"
    assert frame["task"][0].startswith("=")  # the caller's frame is not changed


def test_to_csv_writes_a_file_without_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "out.csv"
    assert to_csv(pd.DataFrame({"a": ["-x"]}, index=["=i"]), path) is None
    assert path.read_text(encoding="utf-8").splitlines() == ["a", "'-x"]
