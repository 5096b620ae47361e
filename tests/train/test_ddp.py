"""Data-parallel training: 2 gloo processes train exactly like 1 process with the same global batch.

Every test here starts real processes (rank 1 is spawned, rank 0 is this process) joined
over 127.0.0.1 at a port the OS picks; ``fit`` joins rank 1 before it returns.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import assert_user_error, run_cli, status, wait_for
from mtl.config import ExperimentConfig
from mtl.data.catalog import DataError
from mtl.data.datasets.csv import read_rows
from mtl.data.prepare import prepare
from mtl.runs.store import RunStore
from mtl.train.callbacks import Callback, History, StepEnd
from mtl.train.distributed import DistributedTrainer, launch, shard, wait_for_ranks
from mtl.train.trainer import Trainer, TrainResult

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 20
"""4 epochs of 5 steps: 106 training rows in batches of 25 (the last one has 6)."""


def make_frame(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """A regression target, a binary one with a quarter of its labels missing, a 3-class one."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    frame["r"] = 2.0 * frame.x0 + frame.x1 + 0.1 * rng.normal(size=n)
    binary = (frame.x2 + frame.x3 > 0).astype(float)
    binary[rng.random(n) < 0.25] = np.nan
    frame["b"] = binary
    frame["c"] = np.digitize(frame.x4 - frame.x5, [-0.6, 0.6])
    return frame


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ddp") / "table.csv"
    make_frame().to_csv(path, index=False)
    return path


def make_config(path: Path, weighting: str, workers: int, **train: Any) -> ExperimentConfig:
    tasks = [
        {"name": "r", "target": "r"},
        {"name": "b", "target": "b", "kind": "binary", "class_weights": True},
        {"name": "c", "target": "c", "kind": "multiclass"},
    ]
    return ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(path)},
            # PCGrad with T = 2 (its random projection order is one of two)
            "tasks": tasks[:2] if weighting == "pcgrad" else tasks,
            "model": {"hidden": [16, 8], "head_hidden": [4]},
            "loss": {"weighting": weighting},
            "train": {
                "epochs": 4,
                "batch_size": 25,
                "lr": 0.02,
                "l1": 1e-3,
                "device": "cpu",
                "workers": workers,
                **train,
            },
        }
    )


def train_both(
    path: Path, weighting: str, **train: Any
) -> tuple[TrainResult, History, TrainResult, History]:
    """One process, then two ranks on the same prepared data (float64 in both ranks)."""
    one = make_config(path, weighting, 1, **train)
    data = prepare(one)
    single_events = History()
    single = Trainer(one, data, [single_events]).fit()
    parallel_events = History()
    trainer = launch(
        make_config(path, weighting, 2, **train), data, [parallel_events], dtype=torch.float64
    )
    return single, single_events, trainer.fit(), parallel_events


def max_difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(
        float((p - q).detach().abs().max())
        for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )


@pytest.mark.parametrize(
    "weighting", ["equal", "uncertainty", "pcgrad", "mgda", "upgrad", "cagrad"]
)
@pytest.mark.usefixtures("float64")
def test_two_ranks_update_like_one_process(table: Path, weighting: str) -> None:
    single, single_events, parallel, parallel_events = train_both(table, weighting)
    assert single.status == parallel.status == "finished"
    assert single.summary["steps"] == parallel.summary["steps"] == STEPS
    config = make_config(table, weighting, 1)
    untrained = Trainer(config, prepare(config)).model
    assert max_difference(untrained, single.model) > 1e-2  # 20 steps moved the weights
    assert max_difference(single.model, parallel.model) < 1e-5
    # the weights the strategy chose at every reported step (uncertainty: its own parameters)
    assert len(single_events.steps) == len(parallel_events.steps) == STEPS // 10
    for one, two in zip(single_events.steps, parallel_events.steps, strict=True):
        assert two.weights == pytest.approx(one.weights, rel=1e-6)
        assert two.losses == pytest.approx(one.losses, rel=1e-6)


@pytest.mark.usefixtures("float64")
def test_metrics_are_gathered_over_the_whole_split(table: Path) -> None:
    single, single_events, parallel, parallel_events = train_both(table, "equal")
    # the run's summary: validation and test metrics of every task over the whole split
    for split in ("val", "test"):
        for task, values in single.summary[split].items():
            assert parallel.summary[split][task] == pytest.approx(values, rel=1e-6), (split, task)
    # every epoch's rows, training metrics included (outputs gathered in batch order)
    single_rows = {row[3:6]: row[6] for row in single_events.rows()}
    parallel_rows = {row[3:6]: row[6] for row in parallel_events.rows()}
    assert set(parallel_rows) == set(single_rows)
    assert {key[1] for key in single_rows} == {"train", "val"}
    for key, value in single_rows.items():
        assert parallel_rows[key] == pytest.approx(value, rel=1e-6, nan_ok=True), key
    # the run start reports the whole training split, not rank 0's shard
    assert parallel_events.start is not None and single_events.start is not None
    assert parallel_events.start.rows == single_events.start.rows
    assert parallel_events.start.rows["train"] == 106  # rank 0 holds 53 of them


def test_each_rank_holds_only_its_shard_of_the_training_rows(table: Path) -> None:
    data = prepare(make_config(table, "equal", 2))
    parts = [shard(data, rank, 3) for rank in range(3)]
    assert [len(p.train) for p in parts] == [36, 35, 35]
    rows = np.sort(np.concatenate([p.train.rows for p in parts]))
    assert np.array_equal(rows, np.sort(data.train.rows))  # together: each row once
    assert np.array_equal(parts[1].train.y["r"], data.train.y["r"][1::3])
    assert all(len(p.val) == len(data.val) and len(p.test) == len(data.test) for p in parts)


class StopAt(Callback):
    """Asks for a stop after step ``step`` (as the store's Stop button does, on rank 0 only)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, trainer: Trainer, event: StepEnd) -> None:
        if event.step == self.step:
            trainer.request_stop()


def test_a_stop_on_rank_0_ends_every_rank_at_the_same_step(table: Path) -> None:
    config = make_config(table, "mgda", 2, log_every=1)
    trainer = launch(config, prepare(config), [StopAt(3)])
    assert isinstance(trainer, DistributedTrainer)
    result = trainer.fit()  # returns only once rank 1 has ended too
    assert result.status == "stopped"
    assert result.summary["steps"] == 4  # the stop travels with the next step's losses
    assert "test" in result.summary  # evaluated by both ranks together after the stop


class FailAt(Callback):
    """Raises in rank 0 at the end of the first epoch (a callback that breaks)."""

    def on_epoch_end(self, trainer: Trainer, event: Any) -> None:
        raise RuntimeError("callback broke")


def test_a_failure_in_rank_0_ends_the_other_ranks(table: Path) -> None:
    config = make_config(table, "equal", 2)
    trainer = launch(config, prepare(config), [FailAt()])
    assert isinstance(trainer, DistributedTrainer)
    ranks = list(trainer._ranks)
    assert len(ranks) == 1 and ranks[0].is_alive()
    with pytest.raises(RuntimeError, match="callback broke"):
        trainer.fit()
    assert ranks[0].exitcode is not None  # ended (killed while it waited in a collective)
    assert not torch.distributed.is_initialized()  # rank 0 left the group: a next run can start


def test_a_rank_that_dies_before_joining_is_an_error_at_once() -> None:
    store = torch.distributed.TCPStore("127.0.0.1", 0, 2, True, wait_for_workers=False)
    process = multiprocessing.get_context("spawn").Process(target=sys.exit, args=(3,))
    process.start()
    with pytest.raises(RuntimeError, match="rank 1 of 2 exited with code 3 before training"):
        wait_for_ranks(store, [process])  # not after the 120 s collective timeout


def test_parquet_trains_like_the_same_csv(table: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "table.parquet"
    pd.read_csv(table).to_parquet(parquet, row_group_size=40)
    frame = read_rows(parquet)
    assert frame.shape == (150, 9) and frame["b"].isna().sum() > 0
    assert len(read_rows(parquet, max_rows=7)) == 7
    results = []
    for path in (table, parquet):
        config = make_config(path, "equal", 1, epochs=1)
        results.append(Trainer(config, prepare(config)).fit())
    assert results[0].summary["test"] == results[1].summary["test"]
    assert max_difference(results[0].model, results[1].model) == 0.0


def test_a_file_that_is_not_parquet_is_a_plain_error(tmp_path: Path) -> None:
    bad = tmp_path / "table.parquet"
    bad.write_text("x,y\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Parquet file .* cannot be read"):
        read_rows(bad)


def test_cli_trains_with_two_workers_and_records_one_run(table: Path, home: Path) -> None:
    config = make_config(table, "pcgrad", 1, epochs=2)
    path = home.parent / "config.yaml"
    path.write_text(config.to_yaml(), encoding="utf-8")
    results = {}
    for workers in ("1", "2"):
        done = run_cli("run", str(path), "--workers", workers, "--json", "--quiet", home=home)
        assert done.returncode == 0, done.stderr
        results[workers] = json.loads(done.stdout)
    assert results["2"]["status"] == "finished"
    for task, values in results["1"]["test"].items():  # float32: summation orders differ
        assert results["2"]["test"][task] == pytest.approx(values, rel=1e-4, abs=1e-5), task
    store = RunStore(home)
    runs = store.list_runs()
    assert len(runs) == 2  # rank 1 records nothing
    run = store.get_run(results["2"]["run_id"])
    assert run["config"]["train"]["workers"] == 2
    assert (store.run_dir(run["id"]) / "predictions").is_dir()


def test_a_detached_two_worker_run_stops_from_the_store(table: Path, home: Path) -> None:
    """Stop reaches rank 0 (the worker) through the store; every rank ends, the run is ``stopped``."""
    config = make_config(table, "mgda", 1, epochs=5000, log_every=1)
    path = home.parent / "config.yaml"
    path.write_text(config.to_yaml(), encoding="utf-8")
    started = run_cli("run", str(path), "--workers", "2", "--detach", home=home)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    store = RunStore(home)
    wait_for(lambda: len(store.metrics(run_id)) > 0, timeout=180, what="rows from rank 0")
    pid = int(store.get_run(run_id)["pid"])  # the worker leads its own process group
    assert run_cli("stop", run_id, home=home).returncode == 0
    wait_for(lambda: status(store, run_id) == "stopped", timeout=180, what="status stopped")

    def group_gone() -> bool:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(group_gone, timeout=120, what="the worker and rank 1 exited")
    assert (store.run_dir(run_id) / "checkpoint.pt").is_file()


def test_cli_refuses_a_bad_worker_count(table: Path, home: Path) -> None:
    path = home.parent / "config.yaml"
    path.write_text(make_config(table, "equal", 1).to_yaml(), encoding="utf-8")
    assert_user_error(run_cli("run", str(path), "--workers", "0", home=home), "train.workers")
