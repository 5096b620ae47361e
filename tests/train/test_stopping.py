"""The epoch policies on their own: early stopping and the plateau learning-rate scale."""

from __future__ import annotations

import math

import pytest

from mtl.train.schedule import PlateauSchedule
from mtl.train.stopping import EarlyStopping


def feed(policy: EarlyStopping, values: list[float]) -> list[bool]:
    return [policy.update(v) for v in values]


def test_stops_after_patience_epochs_without_improvement() -> None:
    stopping = EarlyStopping(patience=2)
    assert feed(stopping, [5.0, 4.0, 4.5, 4.2]) == [False, False, False, True]
    assert stopping.best == 4.0 and stopping.best_epoch == 1 and stopping.stalled == 2


def test_an_improvement_resets_the_count() -> None:
    stopping = EarlyStopping(patience=2)
    assert feed(stopping, [5.0, 6.0, 4.0, 7.0, 3.0, 8.0]) == [False] * 6
    assert stopping.best == 3.0 and stopping.best_epoch == 4 and stopping.improved is False


def test_equal_or_nan_values_do_not_improve() -> None:
    stopping = EarlyStopping(patience=3, min_delta=0.1)
    stopping.update(1.0)
    assert feed(stopping, [0.95, math.nan, 1.0]) == [False, False, True]  # 0.95 is within 0.1
    assert stopping.best == 1.0 and stopping.best_epoch == 0


def test_max_mode_follows_a_score() -> None:
    stopping = EarlyStopping(patience=1, mode="max")
    assert feed(stopping, [0.5, 0.7]) == [False, False]
    assert stopping.improved and stopping.best == 0.7
    assert stopping.update(0.6) is True


def test_without_patience_it_tracks_but_never_stops() -> None:
    stopping = EarlyStopping(patience=None)
    assert feed(stopping, [1.0, 2.0, 3.0, 4.0, 5.0]) == [False] * 5
    assert stopping.best_epoch == 0 and stopping.stalled == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"patience": 0}, "patience must be at least 1"),
        ({"patience": 2, "mode": "lowest"}, "mode must be 'min' or 'max'"),
        ({"patience": 2, "min_delta": -1.0}, "min_delta must be ≥ 0"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EarlyStopping(**kwargs)


def test_plateau_drops_after_patience_and_counts_again() -> None:
    plateau = PlateauSchedule(patience=2, gamma=0.5)
    scales = [plateau.update(v) for v in [3.0, 3.5, 3.2, 3.1, 3.3, 2.0, 2.5, 2.6]]
    # stalled after 3.0: 3.5, 3.2 → drop; 3.1, 3.3 → drop (the best stays 3.0); 2.0 improves
    assert scales == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_refuses_a_bad_gamma() -> None:
    with pytest.raises(ValueError, match="gamma must be in"):
        PlateauSchedule(patience=1, gamma=0.0)
