"""The NumPy classification metrics equal ``sklearn.metrics`` on random and edge cases:
accuracy, precision, recall and F1 to the bit, AUC-ROC within 1e-12."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import sklearn.metrics as skm

from mtl.data.tasks import TaskSpec
from mtl.train.metrics import binary_auc, classification_metrics, probabilities, task_metrics

AUC_TOLERANCE = 1e-12


def sklearn_reference(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> dict[str, float]:
    """The same metrics from scikit-learn's public functions (AUC as the metrics define it:
    binary, one-vs-rest over all classes, or over the classes present, renormalised)."""
    labels = np.arange(n_classes)
    y_pred = (proba >= 0.5).astype(np.int64) if proba.ndim == 1 else proba.argmax(axis=1)
    expected = {"accuracy": skm.accuracy_score(y_true, y_pred)}
    for name, score in [
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ]:
        expected[name] = score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    present = np.unique(y_true)
    if proba.ndim == 1:
        expected["auc_roc"] = skm.roc_auc_score(y_true, proba)
        return expected
    sub = proba[:, present] / proba[:, present].sum(axis=1, keepdims=True)
    if len(present) == proba.shape[1]:
        sub = proba
    remap = np.searchsorted(present, y_true)
    if len(present) == 2:
        expected["auc_roc"] = skm.roc_auc_score(remap, sub[:, 1])
    else:
        expected["auc_roc"] = skm.roc_auc_score(
            remap, sub, multi_class="ovr", labels=np.arange(len(present))
        )
    return expected


def assert_matches(y_true: np.ndarray, proba: np.ndarray, n_classes: int) -> None:
    got = {k: v.value for k, v in classification_metrics(y_true, proba, n_classes).items()}
    expected = sklearn_reference(y_true, proba, n_classes)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert got[name] == expected[name], (name, got[name], expected[name])  # to the bit
        assert isinstance(got[name], float)
    assert got["auc_roc"] is not None
    assert abs(got["auc_roc"] - expected["auc_roc"]) <= AUC_TOLERANCE, (
        got["auc_roc"],
        expected["auc_roc"],
    )


def random_binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    return y, 1 / (1 + np.exp(-(rng.normal(size=n) + y)))


def rounded_binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    return y, np.round(rng.random(n) * 0.6 + 0.3 * y, 2)  # many tied scores


def saturated_binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Large logits: the float64 sigmoid rounds many of them to exactly 1.0 or near 0 (ties)."""
    y = rng.integers(0, 2, n)
    logits = (rng.normal(size=(n, 1)) * 30 + 20 * y[:, None]).astype(np.float32)
    return y, probabilities(spec("binary"), logits)


def imbalanced_binary(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = (rng.random(n) < 0.02).astype(np.int64)
    y[0] = 1
    return y, rng.random(n) * 0.4  # nothing predicted positive: precision of class 1 is 0/0


@pytest.mark.parametrize(
    "make", [random_binary, rounded_binary, saturated_binary, imbalanced_binary]
)
@pytest.mark.parametrize("n", [2, 7, 500, 9_733])
def test_binary_metrics_equal_scikit_learns(
    make: Callable[[np.random.Generator, int], tuple[np.ndarray, np.ndarray]], n: int
) -> None:
    rng = np.random.default_rng(n)
    y, proba = make(rng, n)
    y[:2] = [0, 1]  # both classes present
    assert_matches(y, proba, 2)


@pytest.mark.parametrize("n_classes", [3, 5, 12])
@pytest.mark.parametrize("tied", [False, True])
def test_multiclass_metrics_equal_scikit_learns(n_classes: int, tied: bool) -> None:
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes, 3_000)
    y[:n_classes] = np.arange(n_classes)  # every class present
    logits = rng.normal(size=(3_000, n_classes)) + 2.0 * np.eye(n_classes)[y]
    if tied:
        logits = np.round(logits)  # equal probabilities within and across rows
    proba = probabilities(spec("multiclass", out_dim=n_classes), logits)
    assert_matches(y, proba, n_classes)


def test_multiclass_with_absent_classes_equals_scikit_learn_on_the_renormalised_scores() -> None:
    rng = np.random.default_rng(5)
    proba = rng.dirichlet(np.ones(5), 800)
    y = rng.choice([0, 2, 3], 800)  # classes 1 and 4 absent: never true, sometimes predicted
    assert_matches(y, proba, 5)
    two = rng.choice([1, 3], 800)  # two present: the binary AUC of the second
    assert_matches(two, proba, 5)


def test_two_class_multiclass_task_has_an_auc() -> None:
    """A task configured as ``multiclass`` with two classes has a (N, 2) output: its AUC is
    the binary AUC of the second column (scikit-learn's one-vs-rest call refused it)."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    proba = probabilities(spec("multiclass", out_dim=2), rng.normal(size=(300, 2)) + np.eye(2)[y])
    got = classification_metrics(y, proba, 2)["auc_roc"].value
    assert got is not None
    assert abs(got - skm.roc_auc_score(y, proba[:, 1])) <= AUC_TOLERANCE
    assert_matches(y, proba, 2)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_one_class_present(kind: str) -> None:
    """AUC undefined with a reason; the other four still equal scikit-learn's (absent
    classes count as 0 in the macro averages)."""
    y = np.full(50, 1)
    rng = np.random.default_rng(1)
    proba = rng.random(50) if kind == "binary" else rng.dirichlet(np.ones(3), 50)
    got = classification_metrics(y, proba, 2 if kind == "binary" else 3)
    assert got["auc_roc"].value is None
    assert got["auc_roc"].reason == "only one class present (1); AUC-ROC needs two"
    labels = np.arange(2 if kind == "binary" else 3)
    y_pred = (proba >= 0.5).astype(int) if kind == "binary" else proba.argmax(axis=1)
    assert got["accuracy"].value == skm.accuracy_score(y, y_pred)
    assert got["f1"].value == skm.f1_score(
        y, y_pred, labels=labels, average="macro", zero_division=0
    )


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_task_metrics_on_masked_labels_equal_scikit_learn_on_the_labelled_rows(kind: str) -> None:
    rng = np.random.default_rng(11)
    task = spec(kind) if kind == "binary" else spec("multiclass", out_dim=4)
    k = 2 if kind == "binary" else 4
    y = rng.integers(0, k, 2_000).astype(np.float32)  # encoded targets, as the trainer holds them
    outputs = rng.normal(size=(2_000, task.out_dim)) + (y[:, None] if kind == "binary" else 0)
    outputs = outputs.astype(np.float32)
    mask = rng.random(2_000) < 0.6
    y[~mask] = 0  # a masked row's stored label is a placeholder
    got = {m: v.value for m, v in task_metrics(task, outputs, y, mask).items()}
    expected = sklearn_reference(y[mask].astype(np.int64), probabilities(task, outputs[mask]), k)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert got[name] == expected[name]
    assert abs(got["auc_roc"] - expected["auc_roc"]) <= AUC_TOLERANCE


def test_binary_auc_counts_pairs() -> None:
    positive = np.array([True, False, True, False, True])
    score = np.array([0.9, 0.9, 0.5, 0.1, 0.1])
    # pairs (pos, neg): (0.9, 0.9) ½, (0.9, 0.1) 1, (0.5, 0.9) 0, (0.5, 0.1) 1,
    # (0.1, 0.9) 0, (0.1, 0.1) ½ → 3 of 6
    assert binary_auc(positive, score) == 0.5
    assert binary_auc(positive, -score) == 0.5
    assert binary_auc(np.array([False, True]), np.array([0.2, 0.7])) == 1.0
    assert binary_auc(np.array([True, False]), np.array([0.2, 0.7])) == 0.0


def spec(kind: str, out_dim: int = 1) -> TaskSpec:
    classes = ["no", "yes"] if kind == "binary" else [f"c{i}" for i in range(out_dim)]
    return TaskSpec(
        name="t",
        kind=kind,
        targets=["t"],
        weight=1.0,
        start_epoch=0,
        out_dim=out_dim,
        loss="bce" if kind == "binary" else "ce",
        classes=classes,
    )
