"""Run-folder files: safe per-name paths and writes that never leave half a file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mtl.data.catalog import DataError
from mtl.train.files import UnsafePathError, atomic_write, atomic_write_text, safe_join
from mtl.train.predictions import prediction_path, read_predictions


@pytest.mark.parametrize("name", ["species", "body mass (g)", "a.b", "ünïcode", "x" * 64])
def test_safe_join_keeps_plain_names_inside(tmp_path: Path, name: str) -> None:
    path = safe_join(tmp_path, name, ".csv")
    assert path == tmp_path / f"{name}.csv" and path.resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "../../../../etc/x", "/abs/path", "a/b", "a\\b", "a\0b"]
)
def test_safe_join_refuses_anything_that_leaves_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsafePathError) as info:
        safe_join(tmp_path, name, ".csv")
    assert "\n" not in str(info.value)


def test_safe_join_refuses_a_symlink_out_of_the_folder(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "link.csv").symlink_to(tmp_path / "outside.csv")
    with pytest.raises(UnsafePathError):
        safe_join(tmp_path / "base", "link", ".csv")


def test_prediction_path_stays_in_the_predictions_folder(tmp_path: Path) -> None:
    assert prediction_path(tmp_path, "t") == tmp_path / "predictions" / "t.csv"
    with pytest.raises(UnsafePathError):
        prediction_path(tmp_path, "../../summary")


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"complete old checkpoint")

    def half_then_crash(tmp: Path) -> None:
        tmp.write_bytes(b"half of a new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_crash)
    assert target.read_bytes() == b"complete old checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_read_predictions(tmp_path: Path) -> None:
    assert read_predictions(tmp_path, "t") is None  # the run wrote none
    path = prediction_path(tmp_path, "t")
    path.parent.mkdir()
    frame = pd.DataFrame(
        {
            "row": [0, 1, 2],
            "true": ["a", "b", "a"],
            "pred": ["a", "a", "a"],
            "p_a": [0.9, 0.6, 0.7],
            "p_b": [0.1, 0.4, 0.3],
        }
    )
    frame.to_csv(path, index=False)
    pd.testing.assert_frame_equal(read_predictions(tmp_path, "t"), frame)

    text = path.read_text(encoding="utf-8")
    cut_mid_number = text[: len(text) - 2]  # "…,0.3" became "…,0." : every cell still parses
    for damaged in (
        "",
        text[: text.index("\n") + 1],
        text[: len(text) - 12],
        cut_mid_number,
        'row,"pred\n1,"a',
    ):
        path.write_text(damaged, encoding="utf-8")
        with pytest.raises(DataError) as info:
            read_predictions(tmp_path, "t")
        assert "t.csv" in str(info.value) and "\n" not in str(info.value)
