"""Task grouping from affinity: the search, and the true pairs recovered from a real run."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mtl import presets
from mtl.runs.store import RunStore
from mtl.study.grouping import best_partition, partition_score, partitions
from mtl.viz.summaries import pair_matrix


def stirling2(n: int, k: int) -> int:
    return round(
        sum((-1) ** i * math.comb(k, i) * (k - i) ** n for i in range(k + 1)) / math.factorial(k)
    )


@pytest.mark.parametrize(("n", "k"), [(4, 2), (5, 3), (6, 1), (6, 6), (7, 3)])
def test_partitions_are_all_distinct_and_complete(n: int, k: int) -> None:
    found = [tuple(sorted(tuple(g) for g in p)) for p in partitions(n, k)]
    assert len(found) == len(set(found)) == stirling2(n, k)
    for p in found:
        assert sorted(itertools.chain(*p)) == list(range(n)) and len(p) == k


def matrix(values: np.ndarray) -> pd.DataFrame:
    names = [f"t{i}" for i in range(len(values))]
    return pd.DataFrame(values, index=names, columns=names)


def test_score_is_tags_total_affinity() -> None:
    z = matrix(np.array([[0, 0.4, -0.1], [0.2, 0, 0.3], [0.0, 0.5, 0]], dtype=float))
    # group {t0, t1}: onto t0 from t1 = 0.2, onto t1 from t0 = 0.4; t2 alone adds 0
    assert partition_score(z, [["t0", "t1"], ["t2"]]) == pytest.approx(0.6)
    # one group: onto t0 mean(0.2, 0.0), onto t1 mean(0.4, 0.5), onto t2 mean(-0.1, 0.3)
    assert partition_score(z, [["t0", "t1", "t2"]]) == pytest.approx(0.1 + 0.45 + 0.1)


def test_exhaustive_equals_brute_force_and_greedy_finds_planted_blocks() -> None:
    rng = np.random.default_rng(0)
    z = matrix(rng.normal(size=(6, 6)))
    best = best_partition(z, 3)
    brute = max(
        partitions(6, 3), key=lambda p: partition_score(z, [[f"t{i}" for i in g] for g in p])
    )
    assert best.exhaustive
    assert best.score == pytest.approx(partition_score(z, [[f"t{i}" for i in g] for g in brute]))
    blocks = [list(range(0, 4)), list(range(4, 7)), list(range(7, 11))]  # 11 tasks: greedy
    planted = rng.normal(scale=0.05, size=(11, 11))
    for block in blocks:
        for i, j in itertools.product(block, block):
            planted[i, j] += 1.0
    order = rng.permutation(11)
    z = matrix(planted[np.ix_(order, order)])
    found = best_partition(z, 3)
    assert not found.exhaustive
    truth = {frozenset(f"t{int(np.where(order == i)[0][0])}" for i in b) for b in blocks}
    assert {frozenset(g) for g in found.groups} == truth


def test_bad_input_names_the_problem() -> None:
    z = matrix(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="between 1 and the number of tasks"):
        best_partition(z, 4)
    z.iloc[0, 1] = np.nan
    with pytest.raises(ValueError, match="no value for t0→t1"):
        best_partition(z, 2)


@pytest.mark.usefixtures("one_thread")
def test_true_pairs_are_recovered_from_a_real_run(home: Path) -> None:
    from mtl.runs.worker import execute  # torch: only this test trains

    config = presets.load("synthetic-groups").with_overrides(
        {"train.epochs": 4, "train.diagnostics_every": 5, "train.affinity": True}
    )
    store = RunStore(home)
    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    assert execute(store, run_id, config).status == "finished"
    tasks = [t.name for t in config.tasks]
    z = pair_matrix(store.metrics(run_id), "affinity_mean", tasks)
    found = best_partition(z, 2)
    assert found.groups == (("y1", "y2"), ("y3", "y4")), z


def test_group_configs_keep_only_each_groups_tasks() -> None:
    from mtl.study.grouping import group_configs

    config = presets.load("synthetic-groups")
    made = group_configs(config, [("y1", "y2"), ("y3",), ("y4",)])
    assert len(made) == 1  # a task alone is the baseline's
    assert [t.name for t in made[0].tasks] == ["y1", "y2"]
    assert made[0].name == "synthetic-groups · group y1+y2"
    assert made[0].model == config.model and made[0].train == config.train
    with pytest.raises(ValueError, match="unknown task"):
        group_configs(config, [("y1", "nope")])
