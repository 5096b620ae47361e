"""The overfitting gap and its rule (mtl.viz.overfitting): numbers computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from mtl.viz.overfitting import gap_sentence, kept_epoch, loss_gap, overfitting_tasks


def metrics(rows: list[tuple[int, str, str, float]]) -> pd.DataFrame:
    """Loss rows as the store returns them: (0-based epoch, task, split, value)."""
    return pd.DataFrame(
        [
            {
                "id": i,
                "step": e * 10,
                "epoch": e,
                "task": t,
                "split": s,
                "metric": "loss",
                "value": v,
            }
            for i, (e, t, s, v) in enumerate(rows)
        ]
    )


def losses(task: str, pairs: list[tuple[float, float]]) -> list[tuple[int, str, str, float]]:
    """(train, validation) loss per epoch of ``task`` as metric rows."""
    rows = []
    for epoch, (train, val) in enumerate(pairs):
        rows += [(epoch, task, "train", train), (epoch, task, "val", val)]
    return rows


def test_loss_gap_at_the_kept_and_the_latest_epoch() -> None:
    rows = losses("a", [(1.0, 1.1), (0.5, 0.7), (0.2, 0.9)])
    rows += [(0, "b", "train", 0.4)]  # no validation loss: left out
    gaps = loss_gap(metrics(rows), kept=2)
    assert gaps["task"].tolist() == ["a"]
    row = gaps.iloc[0]
    assert row["kept epoch"] == 2 and row["gap"] == pytest.approx(0.2)
    assert row["latest epoch"] == 3 and row["latest gap"] == pytest.approx(0.7)
    assert row["latest validation loss"] == pytest.approx(0.9)
    assert row["lowest validation loss"] == pytest.approx(0.7) and row["lowest at epoch"] == 2
    assert loss_gap(metrics(rows))["gap"].iloc[0] == pytest.approx(0.7)  # default: the latest


def test_a_negative_gap_that_shrinks_while_validation_loss_falls_is_not_overfitting() -> None:
    # the reviewer's "sex" task: gap -0.077 at the kept epoch, -0.044 at the latest; the
    # validation loss keeps falling (0.30 -> 0.25 -> 0.24), always below the training loss
    gaps = loss_gap(metrics(losses("sex", [(0.40, 0.30), (0.327, 0.25), (0.284, 0.24)])), kept=2)
    row = gaps.iloc[0]
    assert row["gap"] == pytest.approx(-0.077) and row["latest gap"] == pytest.approx(-0.044)
    assert overfitting_tasks(gaps) == {}
    assert gap_sentence(gaps) == (
        "Validation loss is not above training loss: no sign of overfitting."
    )


def test_validation_loss_rising_after_its_lowest_epoch_is_overfitting() -> None:
    # lowest validation loss 0.30 at epoch 2; 0.40 at epoch 3 is 33 % above it (> 10 %),
    # although the gap stays negative (-0.05)
    gaps = loss_gap(metrics(losses("a", [(0.6, 0.5), (0.35, 0.30), (0.45, 0.40)])), kept=3)
    assert overfitting_tasks(gaps) == {
        "a": "validation loss 0.4 at epoch 3, up from 0.3 at epoch 2"
    }
    assert gap_sentence(gaps) == (
        "Began to overfit: a (validation loss 0.4 at epoch 3, up from 0.3 at epoch 2)."
    )


def test_a_small_rise_of_the_validation_loss_is_noise() -> None:
    # 0.30 -> 0.32 is 6.7 % above the lowest (< 10 %), and the gap stays negative
    gaps = loss_gap(metrics(losses("a", [(0.6, 0.5), (0.35, 0.30), (0.34, 0.32)])), kept=2)
    assert overfitting_tasks(gaps) == {}


def test_a_positive_gap_that_grew_after_the_kept_epoch_is_overfitting() -> None:
    # validation loss 0.50 -> 0.52 (4 % up: not enough alone); gap 0.20 at the kept epoch
    # 2, 0.42 at the latest: grew by 0.22 > 10 % of the kept validation loss (0.05)
    gaps = loss_gap(metrics(losses("b", [(0.5, 0.6), (0.3, 0.5), (0.1, 0.52)])), kept=2)
    assert overfitting_tasks(gaps) == {"b": "gap grew from 0.2 to 0.42 after the kept epoch"}
    # the same growth of a gap still below 0 is not
    below = loss_gap(metrics(losses("b", [(0.9, 0.6), (0.8, 0.5), (0.55, 0.52)])), kept=2)
    assert below["latest gap"].iloc[0] - below["gap"].iloc[0] == pytest.approx(0.27)
    assert overfitting_tasks(below) == {}


def test_kept_epoch_is_early_stoppings_choice_else_the_last() -> None:
    assert kept_epoch({"best_epoch": 4, "epochs": 9}, early_stopping=True) == 5
    assert kept_epoch({"best_epoch": 4, "epochs": 9}, early_stopping=False) == 9
    assert kept_epoch(None, early_stopping=True) is None
