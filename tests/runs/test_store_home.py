"""The store's home: private, owned by the user, never silently empty, readable on a read-only disk."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import assert_user_error, run_cli
from mtl.runs.store import RunStore, StoreError


def test_a_new_home_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)  # the most permissive umask: mkdir alone would give 0o777
    try:
        store = RunStore(tmp_path / "a" / "home")
    finally:
        os.umask(old)
    assert store.home.stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(
    not hasattr(os, "chown") or os.geteuid() != 0, reason="giving a folder away needs root"
)
def test_a_home_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "theirs"
    RunStore(home).close()
    os.chown(home, 65534, 65534)
    with pytest.raises(StoreError, match="belongs to another user") as info:
        RunStore(home)
    assert "\n" not in str(info.value)
    assert_user_error(run_cli("runs", "--home", str(home)), "belongs to another user", "uid 65534")


def test_a_store_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "store.sqlite").mkdir(parents=True)
    with pytest.raises(StoreError, match="is a folder, not a store file"):
        RunStore(home)
    assert_user_error(run_cli("runs", "--home", str(home)), "store.sqlite is a folder")


def test_an_empty_store_file_beside_run_folders_is_reported_not_shown_empty(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = RunStore(home)
    for name in ("one", "two"):
        store.run_dir(store.create_run(name, {}))
    store.close()
    (home / "store.sqlite").write_bytes(b"")  # the database was lost; the run folders were not
    for leftover in home.glob("store.sqlite-*"):
        leftover.unlink()
    result = run_cli("runs", "--home", str(home))
    assert_user_error(result, "store.sqlite is empty but 2 run folders exist", "backup")
    assert (home / "store.sqlite").stat().st_size == 0  # nothing was written over it


def test_an_empty_store_file_with_no_runs_is_a_fresh_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "store.sqlite").write_bytes(b"")
    assert RunStore(home).list_runs().empty


def test_a_store_on_a_read_only_disk_can_be_listed_and_shown(tmpfs: Path) -> None:
    """A tmpfs (tests/conftest.py) holding a store with one finished run, remounted read-only."""
    home = tmpfs / "home"
    store = RunStore(home)
    run_id = store.create_run("kept", {"seed": 1}, status="running")
    store.add_metrics(run_id, [(0, 0.0, 0.1, "y", "val", "loss", 0.5, None)])
    store.set_status(run_id, "finished")
    store.close()  # a clean close: no -wal or -shm file is left to read from
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    before = sorted(p.name for p in home.iterdir())

    reader = RunStore(home)
    assert reader.read_only
    assert reader.list_runs()["id"].tolist() == [run_id]
    assert reader.metrics(run_id)["value"].tolist() == [0.5]
    with pytest.raises(StoreError, match="read-only"):
        reader.set_notes(run_id, "x")
    reader.close()

    listed = run_cli("runs", "--json", "--home", str(home))
    assert listed.returncode == 0, listed.stderr
    assert [(r["id"], r["status"]) for r in json.loads(listed.stdout)] == [(run_id, "finished")]
    shown = run_cli("show", run_id, "--home", str(home))
    assert shown.returncode == 0 and "status: finished" in shown.stdout, shown.stderr
    assert_user_error(run_cli("tag", run_id, "x", "--home", str(home)), "read-only")
    assert sorted(p.name for p in home.iterdir()) == before
