"""Parquet input read by rank: preprocessing fitted once, each rank reading only its own rows.

The plan (split + fitted preprocessing) is made once; each rank reads its training rows and
the evaluation splits from the file. The shard tests run in this process (each rank's read
is one function call); the training tests start a real second rank over gloo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_ddp import make_config, make_frame, max_difference

from mtl.data.catalog import DataError
from mtl.data.prepare import prepare
from mtl.data.shards import load_shard, plan_shards, read_parquet_rows
from mtl.train.callbacks import History
from mtl.train.distributed import DistributedTrainer, create_trainer, launch
from mtl.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

GROUP_ROWS = 40
"""Rows per Parquet row group of the test table (150 rows: 4 groups)."""


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ddp_parquet") / "table.parquet"
    make_frame().to_parquet(path, row_group_size=GROUP_ROWS)
    return path


def test_each_rank_reads_only_its_training_rows_and_transforms_them_like_one_process(
    parquet: Path,
) -> None:
    config = make_config(parquet, "equal", 3)
    whole = prepare(config)  # one process: the whole table
    plan = plan_shards(config)
    train, val, test = (plan.rows[s] for s in ("train", "val", "test"))
    assert np.array_equal(train, whole.train.rows)  # the one-process split
    assert np.array_equal(val, whole.val.rows) and np.array_equal(test, whole.test.rows)
    evaluation = np.union1d(val, test)
    held = []
    for rank in range(3):
        data, read = load_shard(plan, rank, 3)
        kept_train = np.intersect1d(read.rows, train)
        # every row this rank read: its own training rows and the evaluation splits, no other
        assert np.array_equal(kept_train, train[rank::3])
        assert np.array_equal(np.setdiff1d(read.rows, kept_train), evaluation)
        assert read.peak_rows <= GROUP_ROWS  # decoded one row group (or batch) at a time
        held.append(kept_train)
        # transformed with the preprocessing fitted once: the one-process arrays, exactly
        assert np.array_equal(data.train.rows, whole.train.rows[rank::3])
        assert np.array_equal(data.train.x, whole.train.x[rank::3])
        for name in ("r", "b", "c"):
            assert np.array_equal(data.train.y[name], whole.train.y[name][rank::3])
            assert np.array_equal(data.train.mask[name], whole.train.mask[name][rank::3])
        assert np.array_equal(data.val.x, whole.val.x)
        assert np.array_equal(data.test.y["c"], whole.test.y["c"])
    # the training rows of the ranks: disjoint, and together the training split
    assert sum(len(h) for h in held) == len(train)
    assert np.array_equal(np.sort(np.concatenate(held)), train)


def test_only_the_row_groups_holding_wanted_rows_are_read(parquet: Path) -> None:
    frame, read = read_parquet_rows(parquet, np.array([3, 45, 46]), ["x0", "r"])
    assert read.row_groups == 2  # rows 0-39 and 40-79; groups 80-119 and 120-149 not read
    assert list(frame.index) == [3, 45, 46] and list(frame.columns) == ["x0", "r"]
    expected = make_frame().loc[[3, 45, 46], ["x0", "r"]]
    assert np.array_equal(frame.to_numpy(), expected.to_numpy())


def test_a_large_training_split_fits_the_inputs_on_a_seeded_sample(parquet: Path) -> None:
    config = make_config(parquet, "equal", 2)
    plan = plan_shards(config, fit_rows=30)
    assert plan.fit_rows == 30 and plan.n_train == 106
    assert "fitted on 30 of the 106 training rows" in " ".join(plan.warnings)
    scaler = plan.inputs.preprocessor.named_transformers_["num"].named_steps["scale"]
    assert scaler.n_samples_seen_ == 30
    again = plan_shards(config, fit_rows=30)  # the same sample with the same seed
    assert np.array_equal(
        scaler.mean_,
        again.inputs.preprocessor.named_transformers_["num"].named_steps["scale"].mean_,
    )
    # the task specs are still fitted on every training label
    whole = prepare(make_config(parquet, "equal", 1))
    assert plan.tasks == whole.tasks


def test_a_missing_target_column_is_a_plain_error(parquet: Path) -> None:
    config = make_config(parquet, "equal", 2).with_overrides(
        {"tasks": [{"name": "z", "target": "nope"}, {"name": "r", "target": "r"}]}
    )
    with pytest.raises(DataError, match=r"target column\(s\) \['nope'\] not in the data"):
        plan_shards(config)


@pytest.mark.usefixtures("float64")
def test_two_ranks_reading_their_own_rows_update_like_one_process(parquet: Path) -> None:
    one = make_config(parquet, "upgrad", 1)
    single = Trainer(one, prepare(one)).fit()
    events = History()
    two = make_config(parquet, "upgrad", 2)
    trainer = launch(two, plan_shards(two), [events], dtype=torch.float64)
    assert [info["train_rows"] for info in trainer.rank_info] == [53, 53]
    parallel = trainer.fit()
    assert single.status == parallel.status == "finished"
    assert parallel.summary["steps"] == 20
    assert max_difference(single.model, parallel.model) < 1e-5
    assert parallel.summary["test"]["c"] == pytest.approx(single.summary["test"]["c"], rel=1e-6)
    assert events.start is not None and events.start.rows["train"] == 106


def test_a_parquet_run_with_two_workers_reads_by_rank(parquet: Path) -> None:
    config = make_config(parquet, "equal", 2, epochs=1)
    trainer = create_trainer(config)  # the run's path: no prepared data given
    assert isinstance(trainer, DistributedTrainer)
    assert len(trainer.data.train) == 53  # rank 0 read its half, not the table
    assert trainer.fit().status == "finished"


def test_an_empty_parquet_file_is_a_plain_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.parquet"
    make_frame().iloc[:0].to_parquet(empty)
    with pytest.raises(DataError, match="has columns but no data rows"):
        plan_shards(make_config(empty, "equal", 2))
