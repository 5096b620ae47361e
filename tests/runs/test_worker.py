"""The worker's end of a run: ``finished`` only once its files exist; a full disk fails it."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import stop_workers
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.data.preprocessing import PREPROCESSING
from mtl.runs.scheduler import launch
from mtl.runs.store import TERMINAL_STATUSES, RunStore
from mtl.runs.worker import execute
from mtl.train.checkpoint import CHECKPOINT
from mtl.train.predictions import PREDICTIONS_DIR


def short_config(epochs: int = 3, name: str = "short") -> ExperimentConfig:
    return presets.load("seed-example").with_overrides({"train.epochs": epochs, "name": name})


def output_files(folder: Path, config: ExperimentConfig) -> dict[str, bool]:
    """Which of the files a finished run must have exist in ``folder`` right now."""
    names = [CHECKPOINT, PREPROCESSING, "summary.json"]
    names += [f"{PREDICTIONS_DIR}/{task.name}.csv" for task in config.tasks]
    return {name: (folder / name).is_file() for name in names}


class WatchedStore(RunStore):
    """The real store, noting which output files exist at each terminal status write."""

    def __init__(self, home: Path, config: ExperimentConfig) -> None:
        super().__init__(home)
        self.config = config
        self.seen: list[tuple[str, dict[str, bool]]] = []

    def set_status(self, run_id: str, status: str, **kwargs: Any) -> None:
        if status in TERMINAL_STATUSES:
            self.seen.append((status, output_files(self.home / "runs" / run_id, self.config)))
        super().set_status(run_id, status, **kwargs)


def test_finished_is_written_only_after_the_run_files_exist(tmp_path: Path) -> None:
    config = short_config()
    store = WatchedStore(tmp_path / "home", config)
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    result = execute(store, run_id, config)
    assert result.status == "finished"
    assert len(store.seen) == 1
    status, files = store.seen[0]
    assert status == "finished"
    assert all(files.values()), files  # every file already there when "finished" was written


def test_a_reader_that_sees_finished_finds_the_files(home: Path) -> None:
    """A real detached worker, watched by polling the store as fast as it answers."""
    store = RunStore(home)
    config = short_config(epochs=2)
    run_id = launch(config, store, max_running=1)
    folder = store.run_dir(run_id)
    deadline = time.monotonic() + 120
    while (status := store.get_run(run_id)["status"]) not in TERMINAL_STATUSES:
        assert time.monotonic() < deadline, "the run did not end within 120 s"
    files = output_files(folder, config)  # checked right after the first read of the end status
    assert status == "finished", store.get_run(run_id)["error"]
    assert all(files.values()), files
    assert json.loads((folder / "summary.json").read_text())["status"] == "finished"


@pytest.fixture
def small_disk(tmpfs: Path) -> Iterator[Path]:
    """An 8 MB tmpfs (tests/conftest.py); workers started on it are stopped before unmount."""
    mount = tmpfs
    try:
        yield mount
    finally:
        stop_workers(mount / "home")


def fill(disk: Path) -> None:
    """Write a file until the disk has no byte left."""
    with contextlib.suppress(OSError), open(disk / "filler", "wb", buffering=0) as file:
        for size in (1 << 16, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    file.write(bytes(size))


def test_a_disk_that_fills_mid_run_ends_the_run_failed_disk_full(small_disk: Path) -> None:
    store = RunStore(small_disk / "home")
    config = presets.load("synthetic-related").with_overrides(
        {"train.epochs": 500, "data.options.samples": 2000, "train.log_every": 1, "name": "long"}
    )
    run_id = launch(config, store, max_running=1)
    deadline = time.monotonic() + 120
    while store.metrics(run_id).empty:  # training and recording
        assert time.monotonic() < deadline, "the run did not start within 120 s"
        time.sleep(0.1)
    fill(small_disk)
    while (status := store.get_run(run_id)["status"]) == "running":
        assert time.monotonic() < deadline + 60, "the run never ended after the disk filled up"
        time.sleep(0.2)
    run = store.get_run(run_id)
    assert status == "failed"
    assert run["error"].startswith("disk full"), run["error"]
    store.close()


class SmallStore(RunStore):
    """The real store whose database may grow by only a few pages (SQLite's ``max_page_count``):
    SQLite itself then reports "database or disk is full", as on a full disk."""

    def __init__(self, home: Path, spare_pages: int = 3) -> None:
        self.limit: int | None = None
        super().__init__(home)
        self.spare_pages = spare_pages

    def set_limit(self) -> None:
        """From now on, every new connection (the recorder's too) has a few pages left."""
        (pages,) = self._conn().execute("PRAGMA page_count").fetchone()
        self.close()
        self.limit = pages + self.spare_pages

    def _connect(self):  # type: ignore[no-untyped-def]
        conn = super()._connect()
        if self.limit is not None:
            conn.execute(f"PRAGMA max_page_count = {self.limit}")
        return conn


def test_a_store_that_fills_up_mid_run_ends_the_run_failed_disk_full(tmp_path: Path) -> None:
    config = presets.load("synthetic-related").with_overrides(
        {"train.epochs": 200, "data.options.samples": 1000, "train.log_every": 1, "name": "long"}
    )
    store = SmallStore(tmp_path / "home")
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    store.set_limit()
    result = execute(store, run_id, config)
    run = store.get_run(run_id)
    assert run["status"] == "failed"
    assert run["error"].startswith("disk full: cannot write to the store"), run["error"]
    assert result.summary["epochs"] < 200  # training stopped early instead of running on
