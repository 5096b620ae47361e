"""Metrics equal numbers computed by hand; undefined ones are missing with a reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtl.data.tasks import TaskSpec
from mtl.train.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_metrics,
    probabilities,
    regression_metrics,
    task_metrics,
    to_original_units,
)


def spec(kind: str, **fields) -> TaskSpec:
    defaults = {
        "binary": {"out_dim": 1, "loss": "bce", "classes": ["no", "yes"]},
        "multiclass": {"out_dim": 3, "loss": "ce", "classes": ["a", "b", "c"]},
        "regression": {"out_dim": 1, "loss": "mse", "target_mean": [0.0], "target_std": [1.0]},
    }[kind]
    return TaskSpec(
        name="t", kind=kind, targets=["t"], weight=1.0, start_epoch=0, **{**defaults, **fields}
    )


def manual_auc(y: np.ndarray, score: np.ndarray) -> float:
    """AUC as the share of (positive, negative) pairs ranked right, ties counting half."""
    pos, neg = score[y == 1], score[y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def values(result) -> dict[str, float | None]:
    return {k: v.value for k, v in result.items()}


def test_binary_metrics_by_hand() -> None:
    y = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.4, 0.35, 0.8, 0.6, 0.1, 0.7, 0.2])
    # predictions at 0.5: 1 0 0 1 1 0 1 0 → tp=3, fn=1, fp=1, tn=3
    got = values(classification_metrics(y, p, 2))
    assert got["accuracy"] == pytest.approx(6 / 8)
    # macro over both classes: class 1 precision 3/4, recall 3/4; class 0 precision 3/4, recall 3/4
    assert got["precision"] == pytest.approx(0.75)
    assert got["recall"] == pytest.approx(0.75)
    assert got["f1"] == pytest.approx(0.75)
    assert got["auc_roc"] == pytest.approx(manual_auc(y, p))
    assert got["auc_roc"] == pytest.approx(14 / 16)


def test_binary_macro_differs_from_positive_class_metrics() -> None:
    y = np.array([1, 1, 1, 1, 0, 0])
    p = np.array([0.9, 0.9, 0.9, 0.1, 0.9, 0.1])
    # preds 1 1 1 0 1 0: class 1 P=3/4 R=3/4; class 0 P=1/2 R=1/2
    got = values(classification_metrics(y, p, 2))
    assert got["accuracy"] == pytest.approx(4 / 6)
    assert got["precision"] == pytest.approx((0.75 + 0.5) / 2)
    assert got["recall"] == pytest.approx((0.75 + 0.5) / 2)
    assert got["f1"] == pytest.approx((0.75 + 0.5) / 2)


def test_auc_with_ties_matches_rank_computation() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=60)
    score = np.round(rng.random(60) + 0.3 * y, 1)  # rounded: many ties
    assert values(classification_metrics(y, score, 2))["auc_roc"] == pytest.approx(
        manual_auc(y, score)
    )


def test_multiclass_metrics_by_hand() -> None:
    y = np.array([0, 1, 2, 2, 1, 0])
    proba = np.array(
        [
            [0.7, 0.2, 0.1],  # 0 ✓
            [0.1, 0.6, 0.3],  # 1 ✓
            [0.2, 0.5, 0.3],  # 1 ✗ (true 2)
            [0.1, 0.1, 0.8],  # 2 ✓
            [0.3, 0.4, 0.3],  # 1 ✓
            [0.2, 0.3, 0.5],  # 2 ✗ (true 0)
        ]
    )
    got = values(classification_metrics(y, proba, 3))
    assert got["accuracy"] == pytest.approx(4 / 6)
    # per class precision: 0 → 1/1, 1 → 2/3, 2 → 1/2; recall: 0 → 1/2, 1 → 2/2, 2 → 1/2
    precision = [1.0, 2 / 3, 1 / 2]
    recall = [1 / 2, 1.0, 1 / 2]
    f1 = [2 * p * r / (p + r) for p, r in zip(precision, recall, strict=True)]
    assert got["precision"] == pytest.approx(np.mean(precision))
    assert got["recall"] == pytest.approx(np.mean(recall))
    assert got["f1"] == pytest.approx(np.mean(f1))
    # one-vs-rest AUC, macro: each class against the rest, from the rank computation
    ovr = [manual_auc((y == k).astype(int), proba[:, k]) for k in range(3)]
    assert got["auc_roc"] == pytest.approx(np.mean(ovr))


def test_multiclass_auc_with_a_class_absent() -> None:
    y = np.array([0, 2, 0, 2, 2])
    proba = np.array(
        [[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.3, 0.1, 0.6], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]]
    )
    got = classification_metrics(y, proba, 3)
    # two classes present: the AUC of class 2 against class 0, on renormalised probabilities
    score = proba[:, 2] / (proba[:, 0] + proba[:, 2])
    assert got["auc_roc"].value == pytest.approx(manual_auc((y == 2).astype(int), score))


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_auc_undefined_with_one_class(kind: str) -> None:
    y = np.array([1, 1, 1])
    proba = np.array([0.8, 0.4, 0.9]) if kind == "binary" else np.array([[0.1, 0.8, 0.1]] * 3)
    got = classification_metrics(y, proba, 2 if kind == "binary" else 3)
    assert got["auc_roc"].value is None
    assert "only one class" in got["auc_roc"].reason
    assert got["accuracy"].value == pytest.approx(2 / 3 if kind == "binary" else 1.0)


def test_task_metrics_binary_from_logits_respects_mask() -> None:
    logits = np.array([[2.0], [-1.0], [0.5], [3.0], [-2.0]])
    y = np.array([1.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float32)
    mask = np.array([True, True, True, False, False])
    got = task_metrics(spec("binary"), logits, y, mask)
    # unmasked rows: preds 1, 0, 1 vs labels 1, 0, 0
    assert got["accuracy"].value == pytest.approx(2 / 3)
    assert got["auc_roc"].value == pytest.approx(1.0)
    assert set(got) == set(CLASSIFICATION_METRICS)


def test_task_metrics_no_labelled_rows() -> None:
    got = task_metrics(
        spec("regression"), np.zeros((3, 1)), np.zeros((3, 1)), np.zeros(3, dtype=bool)
    )
    assert set(got) == set(REGRESSION_METRICS)
    assert all(m.value is None and "no labelled rows" in m.reason for m in got.values())


def test_probabilities() -> None:
    np.testing.assert_allclose(
        probabilities(spec("binary"), np.array([[0.0], [math.log(3)]])), [0.5, 0.75]
    )
    out = np.array([[0.0, math.log(2), math.log(5)], [1000.0, 0.0, 0.0]])
    np.testing.assert_allclose(
        probabilities(spec("multiclass"), out), [[1 / 8, 2 / 8, 5 / 8], [1.0, 0.0, 0.0]]
    )


def test_regression_metrics_by_hand() -> None:
    y = np.array([[3.0], [-0.5], [2.0], [7.0]])
    pred = np.array([[2.5], [0.0], [2.0], [8.0]])
    got = values(regression_metrics(y, pred))
    errors = np.array([0.5, -0.5, 0.0, -1.0])
    mse = float(np.mean(errors**2))
    assert got["mse"] == pytest.approx(mse)  # 0.375
    assert got["rmse"] == pytest.approx(math.sqrt(mse))
    assert got["mae"] == pytest.approx(0.5)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    assert got["r2"] == pytest.approx(1 - 4 * mse / ss_tot)


def test_regression_metrics_average_over_outputs() -> None:
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    pred = np.array([[1.0, 12.0], [2.0, 18.0], [4.0, 30.0]])
    got = values(regression_metrics(y, pred))
    assert got["mse"] == pytest.approx(((0 + 0 + 1) / 3 + (4 + 4 + 0) / 3) / 2)
    r2_0 = 1 - 1 / 2.0
    r2_1 = 1 - 8 / 200.0
    assert got["r2"] == pytest.approx((r2_0 + r2_1) / 2)


def test_r2_undefined_for_constant_target() -> None:
    got = regression_metrics(np.array([[2.0], [2.0], [2.0]]), np.array([[1.0], [2.0], [3.0]]))
    assert got["r2"].value is None and "distinct" in got["r2"].reason
    assert got["mse"].value == pytest.approx(2 / 3)


def test_regression_metrics_in_original_units_after_standardization() -> None:
    mean, std = [100.0, -5.0], [20.0, 0.5]
    task = spec("regression", out_dim=2, target_mean=mean, target_std=std)
    rng = np.random.default_rng(3)
    true = rng.normal(size=(50, 2)) * std + mean  # original units
    pred = true + rng.normal(size=(50, 2)) * [4.0, 0.1]
    y_std = (true - mean) / std
    out_std = (pred - mean) / std
    got = values(task_metrics(task, out_std, y_std, np.ones(50, dtype=bool)))
    assert got["mse"] == pytest.approx(float(np.mean((pred - true) ** 2)))
    assert got["mae"] == pytest.approx(float(np.mean(np.abs(pred - true))))
    r2 = [
        1 - ((pred[:, j] - true[:, j]) ** 2).sum() / ((true[:, j] - true[:, j].mean()) ** 2).sum()
        for j in range(2)
    ]
    assert got["r2"] == pytest.approx(float(np.mean(r2)))
    # the error is dominated by the first output's units (std 20), not the standardized scale
    assert got["mse"] > 5.0
    np.testing.assert_allclose(to_original_units(task, y_std), true)
