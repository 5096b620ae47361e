"""The synthetic generator's task groups: related inside a group, unrelated across groups."""

from __future__ import annotations

import numpy as np
import pytest

from mtl import presets
from mtl.data.catalog import DataError, get_dataset
from mtl.data.datasets.synthetic import Options, generate


def test_default_is_one_group_of_every_task() -> None:
    plain = generate(Options(n_tasks=3, p=0.7, samples=300))
    grouped = generate(Options(n_tasks=3, p=0.7, samples=300, groups=[[1, 2, 3]]))
    assert np.array_equal(plain.to_numpy(), grouped.to_numpy())


def test_two_related_pairs_are_unrelated_across_pairs() -> None:
    frame = generate(
        Options(n_tasks=4, p=0.9, samples=20_000, sines=0, noise=0.0, groups=[[1, 2], [3, 4]])
    )
    corr = frame[["y1", "y2", "y3", "y4"]].corr().to_numpy()
    # without sines or noise, the label correlation is the cosine of the weight vectors
    assert corr[0, 1] == pytest.approx(0.9, abs=0.02)
    assert corr[2, 3] == pytest.approx(0.9, abs=0.02)
    for i, j in [(0, 2), (0, 3), (1, 2), (1, 3)]:
        assert abs(corr[i, j]) < 0.03, (i, j, corr[i, j])


def test_preset_has_the_two_pairs() -> None:
    config = presets.load("synthetic-groups")
    assert config.data.options["groups"] == [[1, 2], [3, 4]]
    assert [t.name for t in config.tasks] == ["y1", "y2", "y3", "y4"]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([[1, 2], [2, 3]], "more than one group"),
        ([[1], []], "empty"),
        ([[0, 1]], "1-based"),
    ],
)
def test_bad_groups_are_refused_by_the_options(groups: list[list[int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Options(n_tasks=3, groups=groups)


@pytest.mark.parametrize(
    ("groups", "message"),
    [([[1, 2], [3, 5]], r"tasks \[5\] above n_tasks"), ([[1, 2]], r"leaves tasks \[3\] out")],
)
def test_groups_must_cover_the_tasks(groups: list[list[int]], message: str) -> None:
    with pytest.raises(DataError, match=message):
        get_dataset("synthetic").frame("synthetic", {"n_tasks": 3, "groups": groups})
