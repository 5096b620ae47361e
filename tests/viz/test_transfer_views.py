"""The transfer study's figure and table: numbers computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mtl.viz.transfer import comparison_table, data_efficiency_figure, verdict


def summary() -> pd.DataFrame:
    rows = [
        ("single", 0.05, 3, 0.60, 0.10, 10.0, math.nan, False, False),
        ("single", 1.00, 3, 0.90, 0.01, 12.0, math.nan, False, False),
        ("mtl", 0.05, 3, 0.75, 0.04, 11.0, 0.15, True, False),
        ("mtl", 1.00, 3, 0.91, 0.01, 13.0, 0.01, False, False),
        ("transfer", 0.05, 3, 0.30, 0.05, 20.0, -0.30, False, True),
        ("transfer", 1.00, 3, 0.89, 0.02, 22.0, -0.01, False, False),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "method",
            "fraction",
            "n",
            "mean",
            "std",
            "cost_s",
            "vs_single",
            "better",
            "negative",
        ],
    )
    frame.attrs.update(metric="r2", target="<i>y1</i>")
    return frame


def test_data_efficiency_figure_has_a_line_and_a_band_per_method_on_a_log_axis() -> None:
    fig = data_efficiency_figure(summary())
    assert fig.layout.xaxis.type == "log"
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [t.name for t in lines] == ["Single-task", "Multi-task learning", "Transfer learning"]
    assert len(bands) == 3
    assert list(lines[1].y) == [0.75, 0.91]
    # the band: mean + std forward, mean − std backward
    assert list(bands[1].y) == pytest.approx([0.79, 0.92, 0.90, 0.71])
    assert "&lt;i&gt;y1&lt;/i&gt;" in fig.layout.xaxis.title.text  # a task name is text


def test_comparison_table_fills_the_guide_with_the_measured_numbers() -> None:
    table = comparison_table(summary())
    assert list(table.columns) == ["Single-task", "Multi-task learning", "Transfer learning"]
    assert table.loc["test R² at 5% of the labels", "Multi-task learning"] == "0.750 ± 0.040"
    assert table.loc["test R² at 100% of the labels", "Single-task"] == "0.900 ± 0.010"
    assert table.loc["training cost (s per run)", "Transfer learning"] == "21.0"
    assert table.loc["weakness", "Transfer learning"].startswith("useless when the source")
    assert verdict(summary(), "mtl").startswith("Helps") and "5%" in verdict(summary(), "mtl")
    assert verdict(summary(), "transfer").startswith("Negative transfer")
    assert table.loc["verdict", "Transfer learning"] == verdict(summary(), "transfer")


def test_one_seed_makes_no_claim_either_way() -> None:
    one = summary().assign(n=1, std=math.nan, better=False, negative=False)
    for method in ("mtl", "transfer"):  # 0.15 above and 0.30 below single, but no spread
        sentence = verdict(one, method)
        assert sentence.startswith("No verdict") and "no seed spread" in sentence
        assert "Helps" not in sentence and "Negative" not in sentence
    mixed = summary()
    mixed.loc[mixed.fraction == 1.0, "n"] = 1  # judged at 5% only
    assert verdict(mixed, "transfer").startswith("Negative transfer: ")


def test_compare_table_shows_lineage_only_when_a_run_has_one() -> None:
    from mtl.viz.runs_table import PARENT, default_columns, runs_table

    runs = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "name": ["source", "child", "orphan"],
            "status": ["finished"] * 3,
            "created_at": [1.0, 2.0, 3.0],
            "started_at": [None] * 3,
            "ended_at": [None] * 3,
            "tags": [[], [], []],
            "notes": ["", "", ""],
            "summary": [None] * 3,
            "config": [{}, {}, {}],
            "parent": [None, "a", "gone"],
        }
    )
    table = runs_table(runs)
    assert table[PARENT].fillna("").tolist() == ["", "source (a)", "gone (deleted)"]
    assert PARENT in default_columns(table)
    assert PARENT not in default_columns(runs_table(runs.assign(parent=None)))
