"""Files the CLI writes where the user says (report, export, predict): never over the run
store, never a folder, never in a folder that does not exist, never over a file without
--force; through real subprocesses on a real store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_user_error, run_cli
from mtl.runs.store import RunStore

COMMANDS = ("report", "export", "predict")


def finished_run(home: Path) -> str:
    """A finished run with one metric row (no model: the output check comes before it)."""
    store = RunStore(home)
    run_id = store.create_run("r", {})
    store.add_metrics(run_id, [(0, 0.0, 0.1, "a", "val", "loss", 0.5, None)])
    store.set_status(run_id, "running")
    store.set_status(run_id, "finished")
    return run_id


def write_cmd(command: str, run_id: str, out: Path, tmp_path: Path, *extra: str) -> list[str]:
    """The argv of ``command`` writing to ``out``."""
    if command == "report":
        return ["report", run_id, "--out", str(out), "--no-baseline", *extra]
    if command == "export":
        return ["export", run_id, "--csv", str(out), *extra]
    rows = tmp_path / "rows.csv"
    rows.write_text("a\n1\n", encoding="utf-8")
    return ["predict", run_id, "--csv", str(rows), "--out", str(out), *extra]


def files(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` and its inode (a file replaced by a rename gets a new one);
    SQLite's -wal and -shm files are left out (SQLite itself may remove and recreate them)."""
    return {
        str(p.relative_to(folder)): p.stat().st_ino
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def assert_store_intact(home: Path, run_id: str, before: dict[str, int]) -> None:
    """No file of the store was replaced or added, and the store still reads its run."""
    assert files(home) == before
    assert (home / "store.sqlite").read_bytes()[:16] == b"SQLite format 3\x00"
    store = RunStore(home)
    assert store.get_run(run_id)["status"] == "finished"
    assert store.metrics(run_id)["value"].tolist() == [0.5]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "target", ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "runs/RUN/x.csv", "."]
)
def test_an_output_inside_the_store_is_refused(
    home: Path, tmp_path: Path, command: str, target: str
) -> None:
    run_id = finished_run(home)
    (home / "runs" / run_id).mkdir(parents=True, exist_ok=True)
    before = files(home)
    out = home / target.replace("RUN", run_id)
    result = run_cli(*write_cmd(command, run_id, out, tmp_path, "--force"), home=home)
    assert_user_error(result, "inside the run store", str(home))
    assert_store_intact(home, run_id, before)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_symlink_into_the_store_is_refused(home: Path, tmp_path: Path, command: str) -> None:
    run_id = finished_run(home)
    link = tmp_path / "innocent.csv"
    link.symlink_to(home / "store.sqlite")
    before = files(home)
    result = run_cli(*write_cmd(command, run_id, link, tmp_path, "--force"), home=home)
    assert_user_error(result, "inside the run store")
    assert_store_intact(home, run_id, before)
    assert link.is_symlink()


def test_mtl_home_is_protected_when_another_home_is_used(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    run_id = finished_run(other)
    mine = finished_run(home)  # $MTL_HOME (the fixture sets it) holds a store too
    before = files(home)
    out = home / "store.sqlite"
    result = run_cli("export", run_id, "--csv", str(out), "--force", "--home", str(other))
    assert_user_error(result, "inside the run store", str(home))
    assert_store_intact(home, mine, before)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_folder_or_a_missing_folder_is_refused(home: Path, tmp_path: Path, command: str) -> None:
    run_id = finished_run(home)
    folder = tmp_path / "outputs"
    folder.mkdir()
    assert_user_error(
        run_cli(*write_cmd(command, run_id, folder, tmp_path, "--force"), home=home),
        f"'{folder}' is a folder",
    )
    missing = tmp_path / "no" / "such"
    result = run_cli(*write_cmd(command, run_id, missing / "f.out", tmp_path), home=home)
    assert_user_error(result, f"the folder '{missing}' does not exist")
    assert not (tmp_path / "no").exists()  # not created
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    result = run_cli(*write_cmd(command, run_id, blocker / "f.out", tmp_path), home=home)
    assert_user_error(result, f"the folder '{blocker}' is a file, not a folder")
    assert blocker.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize("command", ["report", "export"])
def test_an_existing_file_is_replaced_only_with_force(
    home: Path, tmp_path: Path, command: str
) -> None:
    run_id = finished_run(home)
    out = tmp_path / "out.file"
    out.write_text("keep me", encoding="utf-8")
    assert_user_error(
        run_cli(*write_cmd(command, run_id, out, tmp_path), home=home),
        "already exists",
        "--force",
    )
    assert out.read_text(encoding="utf-8") == "keep me"

    done = run_cli(*write_cmd(command, run_id, out, tmp_path, "--force"), home=home)
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8")
    if command == "report":
        assert text.startswith("<!DOCTYPE html>") or "<html" in text[:200]
    else:
        assert pd.read_csv(out)["value"].tolist() == [0.5]
    # written through a temporary file beside it, which is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "out.file"]


def test_a_failed_write_leaves_the_old_file(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics.csv"
    out.write_text("old", encoding="utf-8")
    result = run_cli("export", "no-such-run", "--csv", str(out), "--force", home=home)
    assert_user_error(result, "no run 'no-such-run'")
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "metrics.csv"]
