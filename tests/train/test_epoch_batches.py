"""The trainer's fast paths change no number: epoch-permuted batches sliced per step, the
constant-weight backward, and the regression and classification metrics computed without
scikit-learn's per-call checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn.metrics as skm
import torch

from mtl.train import batches
from mtl.train.callbacks import History
from mtl.train.metrics import classification_metrics, regression_metrics
from mtl.train.trainer import Trainer
from mtl.weighting.base import WeightingStrategy, minimise
from tests.train.test_trainer import TASKS_BY_KIND, make_config, make_table

pytestmark = pytest.mark.usefixtures("one_thread")


class ReferenceTrainer(Trainer):
    """The trainer as it was: rows indexed per step, the weighted sum built and
    differentiated (overriding ``_train_step`` turns the epoch permutation off)."""

    def _train_step(self, split: dict[str, Any], index: Any, active: Any) -> Any:
        assert isinstance(index, torch.Tensor)  # row indices, not a slice
        return super()._train_step(split, index, active)

    def _backward(self, losses: Any, active: Any, extra: Any) -> Any:
        if type(self.strategy).backward is not WeightingStrategy.backward:  # its own backward
            return super()._backward(losses, active, extra)
        weights = self.strategy.active_weights(losses, active)
        minimise(torch.dot(weights, losses), extra)
        return weights.detach()


def _train(cls: type[Trainer], config: Any) -> tuple[list[torch.Tensor], History]:
    history = History()
    trainer = cls(config, callbacks=[history])
    assert trainer.fit().status == "finished"
    return [p.detach().clone() for p in trainer.model.parameters()], history


@pytest.mark.parametrize(
    ("weighting", "train"),
    [
        ("equal", {}),
        ("equal", {"l1": 1e-4}),  # an extra term in the backward
        ("uncertainty", {}),  # learnable weights: the weighted sum is differentiated
        ("dwa", {}),
        ("upgrad", {}),
    ],
)
def test_sliced_epochs_train_exactly_as_indexed_batches(
    tmp_path: Path, weighting: str, train: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    table = make_table(200)
    table.loc[::3, "bin"] = None  # a masked task next to complete ones
    path = tmp_path / "gaps.csv"
    table.to_csv(path, index=False)
    late = {**TASKS_BY_KIND["regression-k"], "start_epoch": 1}  # task scheduling: an active mask
    config = make_config(
        str(path),
        [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"], late],
        loss={"weighting": weighting},
        train={"epochs": 3, "batch_size": 48, "log_every": 2, **train},
    )
    permutations: list[int] = []
    permuted = batches.permuted

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        permutations.append(1)
        return permuted(*args, **kwargs)

    monkeypatch.setattr(batches, "permuted", counted)
    fast, fast_history = _train(Trainer, config)
    assert len(permutations) == 3  # the fast path ran: one permutation per epoch
    reference, ref_history = _train(ReferenceTrainer, config)
    assert len(permutations) == 3
    for a, b in zip(fast, reference, strict=True):
        assert torch.equal(a, b)
    assert [s.losses for s in fast_history.steps] == [s.losses for s in ref_history.steps]
    assert [s.weights for s in fast_history.steps] == [s.weights for s in ref_history.steps]
    strip = [[r[3:] for r in e.rows] for e in ref_history.epochs]
    assert [[r[3:] for r in e.rows] for e in fast_history.epochs] == strip


@pytest.mark.parametrize("dtypes", [(np.float32, np.float32), (np.float64, np.float32)])
@pytest.mark.parametrize("shape", [(500,), (500, 1), (300, 3)])
def test_regression_metrics_are_scikit_learns_to_the_bit(
    dtypes: tuple[type, type], shape: tuple[int, ...]
) -> None:
    rng = np.random.default_rng(7)
    y_true = (rng.normal(size=shape) * 40 + 3).astype(dtypes[0])
    for y_pred in (
        (y_true + rng.normal(size=shape)).astype(dtypes[1]),
        y_true.astype(dtypes[1]),  # perfect: R² = 1
    ):
        result = regression_metrics(y_true, y_pred)
        assert result["mse"].value == skm.mean_squared_error(y_true, y_pred)
        assert result["mae"].value == skm.mean_absolute_error(y_true, y_pred)
        assert result["r2"].value == skm.r2_score(y_true, y_pred)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_classification_scores_are_scikit_learns(n_classes: int) -> None:
    rng = np.random.default_rng(n_classes)
    y_true = rng.integers(0, n_classes, 400)
    proba = rng.dirichlet(np.ones(n_classes), 400)
    if n_classes == 2:
        proba = proba[:, 1]
    y_pred = (proba >= 0.5).astype(int) if n_classes == 2 else proba.argmax(axis=1)
    labels = np.arange(n_classes)
    result = classification_metrics(y_true, proba, n_classes)
    for name, score in [
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ]:
        expected = score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
        assert result[name].value == expected


def test_soft_sharing_penalty_still_trains(tmp_path: Path) -> None:
    """The per-step penalty is skipped only when it is a constant: soft sharing's pull
    between the towers still acts (the towers end closer with it than without it)."""
    table_csv = tmp_path / "table.csv"
    make_table().to_csv(table_csv, index=False)

    def distance(soft_lambda: float) -> float:
        config = make_config(
            str(table_csv),
            [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]],
            model={"sharing": "soft", "soft_lambda": soft_lambda},
        )
        model = Trainer(config).fit().model
        first, second = model.tower_list()  # type: ignore[attr-defined]
        pairs = zip(first.encoder.parameters(), second.encoder.parameters(), strict=True)
        return float(sum((a - b).detach().pow(2).sum() for a, b in pairs))

    assert distance(1.0) < 0.5 * distance(0.0)
