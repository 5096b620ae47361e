"""The worker's end of a run: ``finished`` only once its files exist; a full disk fails it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mtl import presets
from mtl.config import ExperimentConfig
from mtl.runs.launcher import launch
from mtl.runs.store import TERMINAL_STATUSES, RunStore
from mtl.runs.worker import execute
from mtl.train.checkpoint import CHECKPOINT, PREPROCESSOR
from mtl.train.predictions import PREDICTIONS_DIR


def short_config(epochs: int = 3, name: str = "short") -> ExperimentConfig:
    return presets.load("seed-example").with_overrides({"train.epochs": epochs, "name": name})


def output_files(folder: Path, config: ExperimentConfig) -> dict[str, bool]:
    """Which of the files a finished run must have exist in ``folder`` right now."""
    names = [CHECKPOINT, PREPROCESSOR, "summary.json"]
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
