"""Which tasks belong together: the best partition of the tasks into k groups from the
inter-task affinity the diagnostics measure.

The affinity ``Z[i, j]`` (Fifty et al., "Efficiently Identifying Task Groupings for
Multi-Task Learning", NeurIPS 2021) says how much a step on task i lowered task j's loss.
A grouping's score is TAG's total inter-task affinity: for every task j in a group with
others, the mean of ``Z[i, j]`` over the other members i, summed over all tasks (a task alone
adds 0). The best partition into exactly k non-empty groups is found by enumerating every
partition for up to :data:`EXHAUSTIVE_MAX` tasks, and beyond by a greedy merge (from every
task alone, join the two groups that raise the score most, until k are left) followed by
moves of single tasks between groups while one raises the score.

Pure (pandas/numpy): the caller reads the matrix, e.g. with
:func:`mtl.viz.summaries.pair_matrix` (metric ``affinity_mean``, split ``diag``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mtl.config import ExperimentConfig

__all__ = [
    "EXHAUSTIVE_MAX",
    "GROUPING_TAG",
    "Grouping",
    "best_partition",
    "group_configs",
    "partition_score",
    "partitions",
]

GROUPING_TAG = "grouping"
"""Tag of the runs that train one suggested group each."""

EXHAUSTIVE_MAX = 8
"""Up to this many tasks every partition is scored (Stirling S(8, 4) = 1,701 of them)."""


@dataclass(frozen=True)
class Grouping:
    """A partition of the tasks and its score.

    Attributes:
        groups: the groups, each a tuple of task names in matrix order; groups sorted by
            their first task.
        score: total inter-task affinity (:func:`partition_score`).
        exhaustive: whether every partition was scored (else greedy + local moves).
    """

    groups: tuple[tuple[str, ...], ...]
    score: float
    exhaustive: bool


def _check(matrix: pd.DataFrame) -> np.ndarray:
    if list(matrix.index) != list(matrix.columns):
        raise ValueError(
            "the affinity matrix needs the same tasks, in the same order, as rows and columns"
        )
    values = matrix.to_numpy(dtype=float)
    off = ~np.eye(len(values), dtype=bool)
    if np.isnan(values[off]).any():
        missing = [
            f"{matrix.index[i]}→{matrix.columns[j]}"
            for i, j in zip(*np.where(np.isnan(values) & off), strict=True)
        ]
        raise ValueError(
            f"the affinity matrix has no value for {', '.join(missing[:5])}; train with "
            "train.diagnostics_every and train.affinity to measure it"
        )
    return values


def _score(values: np.ndarray, groups: Sequence[Sequence[int]]) -> float:
    total = 0.0
    for group in groups:
        if len(group) < 2:
            continue
        for j in group:
            total += float(np.mean([values[i, j] for i in group if i != j]))
    return total


def partition_score(matrix: pd.DataFrame, groups: Sequence[Sequence[str]]) -> float:
    """TAG's total inter-task affinity of ``groups`` (task names of ``matrix``).

    Raises:
        ValueError: a task is unknown, or the matrix misses an off-diagonal value.
    """
    values = _check(matrix)
    names = list(matrix.index)
    unknown = [t for group in groups for t in group if t not in names]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; tasks: {', '.join(names)}")
    return _score(values, [[names.index(t) for t in group] for group in groups])


def partitions(n: int, k: int) -> Iterator[list[list[int]]]:
    """Every partition of ``0 … n-1`` into exactly ``k`` non-empty groups (each once)."""

    def grow(i: int, groups: list[list[int]]) -> Iterator[list[list[int]]]:
        if n - i < k - len(groups):
            return  # too few items left to open the missing groups
        if i == n:
            if len(groups) == k:
                yield [list(g) for g in groups]
            return
        for group in groups:
            group.append(i)
            yield from grow(i + 1, groups)
            group.pop()
        if len(groups) < k:
            groups.append([i])
            yield from grow(i + 1, groups)
            groups.pop()

    yield from grow(0, [])


def _greedy(values: np.ndarray, k: int) -> list[list[int]]:
    groups = [[i] for i in range(len(values))]
    while len(groups) > k:
        best, pair = -math.inf, (0, 1)
        for a in range(len(groups)):
            for b in range(a + 1, len(groups)):
                gain = _score(values, [groups[a] + groups[b]]) - _score(
                    values, [groups[a], groups[b]]
                )
                if gain > best:
                    best, pair = gain, (a, b)
        a, b = pair
        groups[a] = sorted(groups[a] + groups[b])
        del groups[b]
    improved = True
    while improved:  # move one task to another group while that raises the score
        improved = False
        current = _score(values, groups)
        for g, group in enumerate(groups):
            if len(group) < 2:
                continue
            for task in list(group):
                for h in range(len(groups)):
                    if h == g:
                        continue
                    trial = [list(x) for x in groups]
                    trial[g].remove(task)
                    trial[h] = sorted(trial[h] + [task])
                    if _score(values, trial) > current + 1e-12:
                        groups, improved = trial, True
                        break
                if improved:
                    break
            if improved:
                break
    return groups


def best_partition(matrix: pd.DataFrame, k: int) -> Grouping:
    """The partition of the matrix's tasks into ``k`` groups with the highest total affinity.

    Args:
        matrix: ``Z[i, j]``, rows = the task stepped on, columns = the task measured, the
            same tasks in the same order (the diagonal is ignored).
        k: number of groups, 1 ≤ k ≤ number of tasks.

    Raises:
        ValueError: ``k`` is out of range or the matrix is incomplete.
    """
    values = _check(matrix)
    n = len(values)
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} groups: choose between 1 and the number of tasks ({n})")
    names = list(matrix.index)
    if n <= EXHAUSTIVE_MAX:
        best = max(partitions(n, k), key=lambda p: _score(values, p))
        exhaustive = True
    else:
        best, exhaustive = _greedy(values, k), False
    groups = tuple(
        sorted((tuple(names[i] for i in sorted(g)) for g in best), key=lambda g: names.index(g[0]))
    )
    return Grouping(groups, _score(values, best), exhaustive)


def group_configs(
    config: ExperimentConfig, groups: Sequence[Sequence[str]]
) -> list[ExperimentConfig]:
    """One config per group of two or more tasks: ``config`` with only that group's tasks,
    named ``"<name> · group y1+y2"`` (a task alone is its single-task baseline's business).

    Raises:
        ValueError: a group names a task the config does not have.
    """
    names = [t.name for t in config.tasks]
    out = []
    for group in groups:
        unknown = [t for t in group if t not in names]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; tasks: {', '.join(names)}")
        if len(group) < 2:
            continue
        data = config.to_dict()
        data["tasks"] = [t for t in data["tasks"] if t["name"] in group]
        data["name"] = f"{config.name} · group {'+'.join(group)}"
        out.append(ExperimentConfig.from_dict(data))
    return out
