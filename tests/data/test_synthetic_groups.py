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


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9])
def test_p_is_the_correlation_of_the_noiseless_targets_sines_included(p: float) -> None:
    """The related task shares the anchor's latent feature f(z_1): corr(y1, y2) = p exactly in
    expectation (the paper's generator, sines on w_tᵀx, gave 0.43 at p = 0.5 and 0.86 at p = 0.9)."""
    frame = generate(Options(p=p, samples=50_000, sines=10, noise=0.0))
    assert np.corrcoef(frame["y1"], frame["y2"])[0, 1] == pytest.approx(p, abs=0.015)


def test_labelled_leaves_each_task_missing_on_its_own_rows() -> None:
    full = generate(Options(samples=4000))
    part = generate(Options(samples=4000, labelled=0.25))
    observed = part[["y1", "y2"]].notna()
    assert observed.mean().to_numpy() == pytest.approx([0.25, 0.25], abs=0.03)
    assert (observed["y1"] & observed["y2"]).mean() == pytest.approx(0.25**2, abs=0.02)
    for task in ("y1", "y2"):  # the observed targets are the fully labelled table's
        rows = observed[task]
        np.testing.assert_array_equal(part.loc[rows, task], full.loc[rows, task])
    features = [c for c in full.columns if c.startswith("x")]
    np.testing.assert_array_equal(part[features].to_numpy(), full[features].to_numpy())
