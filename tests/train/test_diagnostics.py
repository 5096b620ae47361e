"""Diagnostics: gradient norms, cosines and affinity, checked by hand; they do not change training."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from mtl.config import ExperimentConfig, ModelConfig
from mtl.data.tasks import TaskSpec
from mtl.models import ARCHITECTURES
from mtl.runs.recorder import StoreRecorder
from mtl.runs.store import RunStore
from mtl.train.callbacks import Callback, History
from mtl.train.diagnostics import SPLIT, Diagnostics, DiagnosticsEnd, pair_name
from mtl.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")

TASKS = ["a", "b", "c"]


class DiagnosticsHistory(History):
    """A History that also keeps the diagnostics events."""

    def __init__(self) -> None:
        super().__init__()
        self.diagnostics: list[DiagnosticsEnd] = []

    def on_diagnostics(self, trainer: Trainer, event: DiagnosticsEnd) -> None:
        self.diagnostics.append(event)


def specs() -> list[TaskSpec]:
    return [
        TaskSpec(
            name=n, kind="regression", targets=[n], out_dim=1, loss="mse", weight=1.0, start_epoch=0
        )
        for n in TASKS
    ]


def setup(seed: int = 0) -> tuple[Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    model = ARCHITECTURES.get("hard")(
        ModelConfig(hidden=[8, 6], dropout=0.2), (5,), {n: 1 for n in TASKS}
    )
    x = torch.randn(16, 5)
    y = torch.randn(16, 3) * torch.tensor([1.0, 3.0, 0.5])
    return model, x, y


def losses_of(outputs: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    return torch.stack(
        [((outputs[n].squeeze(1) - y[:, t]) ** 2).mean() for t, n in enumerate(TASKS)]
    )


def by_key(event: DiagnosticsEnd) -> dict[tuple[str, str], tuple[float | None, str | None]]:
    assert all(row[4] == SPLIT for row in event.rows)
    return {(row[3], row[5]): (row[6], row[7]) for row in event.rows}


def test_norms_cosines_and_affinity_match_a_direct_computation() -> None:
    model, x, y = setup()
    diagnostics = Diagnostics(model, specs(), every=1, affinity=True)
    model.train()
    losses = losses_of(model(x), y)
    lr = 0.1
    event = diagnostics.measure(
        losses, x, lambda out: losses_of(out, y), lr=lr, step=7, epoch=2, wall_time=1.5
    )
    rows = by_key(event)
    assert event.step == 7 and all(row[:3] == (7, 2, 1.5) for row in event.rows)
    assert model.training  # the affinity's eval-mode passes leave the mode as it was

    shared = model.shared_parameters()
    grads = [
        torch.cat(
            [g.reshape(-1) for g in torch.autograd.grad(losses[t], shared, retain_graph=True)]
        )
        for t in range(3)
    ]
    for t, name in enumerate(TASKS):
        assert rows[(name, "grad_norm")][0] == pytest.approx(float(grads[t].norm()), rel=1e-5)
    for a in range(3):
        for b in range(a + 1, 3):
            expected = float(grads[a] @ grads[b] / (grads[a].norm() * grads[b].norm()))
            assert rows[(pair_name(TASKS[a], TASKS[b]), "cosine")][0] == pytest.approx(
                expected, abs=1e-5
            )
    assert sum(1 for key in rows if key[1] == "cosine") == 3

    # Fifty et al. 2021: Z(i→j) = 1 − L_j(θ_s − lr·g_i) / L_j(θ_s), here in eval mode on the same batch
    with torch.no_grad():
        reference = copy.deepcopy(model).eval()
        before = losses_of(reference(x), y)
        for i, source in enumerate(TASKS):
            stepped = copy.deepcopy(reference)
            offset = 0
            for p in stepped.shared_parameters():
                p -= lr * grads[i][offset : offset + p.numel()].view_as(p)
                offset += p.numel()
            after = losses_of(stepped(x), y)
            for j, target in enumerate(TASKS):
                expected = float(1 - after[j] / before[j])
                assert rows[(pair_name(source, target), "affinity")][0] == pytest.approx(
                    expected, abs=1e-6
                )
                assert rows[(pair_name(source, target), "affinity_mean")][0] == pytest.approx(
                    expected, abs=1e-6
                )
    # a step on a task lowers its own loss
    assert all(rows[(pair_name(n, n), "affinity")][0] > 0 for n in TASKS)
    matrix = diagnostics.affinity_matrix()
    assert matrix[1][2] == rows[(pair_name("b", "c"), "affinity")][0]


def test_a_task_without_gradient_gives_undefined_values_with_a_reason() -> None:
    model, x, y = setup()
    diagnostics = Diagnostics(model, specs(), every=1, affinity=True)
    losses = losses_of(model(x), y)
    losses = torch.stack(
        [losses[0], losses[1], losses[2] * 0.0]
    )  # task c: a zero loss, no gradient
    event = diagnostics.measure(
        losses,
        x,
        lambda out: losses_of(out, y) * torch.tensor([1.0, 1.0, 0.0]),
        lr=0.1,
        step=1,
        epoch=0,
        wall_time=0.0,
    )
    rows = by_key(event)
    assert rows[("c", "grad_norm")] == (0.0, None)
    value, reason = rows[("a|c", "cosine")]
    assert value is None and "zero gradient" in reason
    assert rows[("c|a", "affinity")][0] is None
    value, reason = rows[("a|c", "affinity")]
    assert value is None and reason == "zero loss on this batch"
    assert rows[("a|b", "affinity")][0] is not None
    assert all(row[6] is None or math.isfinite(row[6]) for row in event.rows)


def test_the_running_mean_of_the_affinity() -> None:
    model, x, y = setup()
    diagnostics = Diagnostics(model, specs(), every=1, affinity=True)
    values = []
    for step in range(3):
        losses = losses_of(model(x * (1 + step)), y)
        event = diagnostics.measure(
            losses,
            x * (1 + step),
            lambda out, s=step: losses_of(out, y),
            lr=0.05,
            step=step + 1,
            epoch=0,
            wall_time=0.0,
        )
        rows = by_key(event)
        values.append(rows[("a|b", "affinity")][0])
        assert rows[("a|b", "affinity_mean")][0] == pytest.approx(float(np.mean(values)), abs=1e-9)


def test_a_model_without_shared_parameters_is_refused() -> None:
    model = ARCHITECTURES.get("independent")(ModelConfig(hidden=[4]), (5,), {n: 1 for n in TASKS})
    with pytest.raises(ValueError, match="shares none"):
        Diagnostics(model, specs(), every=5)


# ---- in training ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(150, 4))
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    frame["a"] = x[:, 0] + x[:, 1]
    frame["b"] = -x[:, 0] + 0.5 * x[:, 2]  # partly conflicting with a
    frame["c"] = np.where(x[:, 3] > 0, "yes", "no")
    path = tmp_path_factory.mktemp("diag") / "table.csv"
    frame.to_csv(path, index=False)
    return str(path)


def make_config(path: str, weighting: str = "equal", **train: Any) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": path},
            "tasks": [
                {"name": "a", "target": "a"},
                {"name": "b", "target": "b"},
                {"name": "c", "target": "c"},
            ],
            "model": {"hidden": [16, 8], "dropout": 0.1},
            "loss": {"weighting": weighting},
            "train": {"epochs": 3, "batch_size": 32, "lr": 0.01, "log_every": 2, **train},
        }
    )


def fit(config: ExperimentConfig) -> DiagnosticsHistory:
    history = DiagnosticsHistory()
    result = Trainer(config, callbacks=[history]).fit()
    assert result.status == "finished"
    return history


def test_diagnostics_are_reported_every_n_steps(table_csv: str) -> None:
    history = fit(make_config(table_csv, diagnostics_every=3, affinity=True))
    total_steps = history.steps[-1].step
    assert [e.step for e in history.diagnostics] == list(range(3, total_steps + 1, 3))
    for event in history.diagnostics:
        metrics = [row[5] for row in event.rows]
        assert metrics.count("grad_norm") == 3 and metrics.count("cosine") == 3
        assert metrics.count("affinity") == 9 and metrics.count("affinity_mean") == 9
        assert all(len(row) == 8 and row[4] == SPLIT for row in event.rows)
    assert fit(make_config(table_csv)).diagnostics == []


@pytest.mark.parametrize("weighting", ["equal", "uncertainty", "pcgrad", "mgda"])
def test_diagnostics_do_not_change_training(table_csv: str, weighting: str) -> None:
    plain = fit(make_config(table_csv, weighting))
    measured = fit(make_config(table_csv, weighting, diagnostics_every=2, affinity=True))
    assert measured.diagnostics
    for first, second in zip(plain.steps, measured.steps, strict=True):
        for name in ("a", "b", "c"):
            assert second.losses[name] == pytest.approx(first.losses[name], rel=1e-5, abs=1e-7)
            assert second.weights[name] == pytest.approx(first.weights[name], rel=1e-4, abs=1e-6)


class DiagnosticsRecorder(StoreRecorder):
    """The recorder with the three lines that send diagnostics rows to the store."""

    def on_diagnostics(self, trainer: Trainer, event: DiagnosticsEnd) -> None:
        with self._lock:
            self._metrics.extend(event.rows)


def test_rows_reach_the_store_through_the_recorder(table_csv: str, tmp_path: Path) -> None:
    store = RunStore(tmp_path / "home")
    config = make_config(table_csv, diagnostics_every=4, affinity=True)
    run_id = store.create_run("diag", config.to_dict(), status="running")
    Trainer(config, callbacks=[DiagnosticsRecorder(store, run_id)]).fit()
    frame = store.metrics(run_id)
    diag = frame[frame["split"] == SPLIT]
    assert set(diag["metric"]) == {"grad_norm", "cosine", "affinity", "affinity_mean"}
    assert set(diag[diag["metric"] == "cosine"]["task"]) == {"a|b", "a|c", "b|c"}
    assert (diag["step"] % 4 == 0).all()


class _Unused(Callback):
    """A callback without ``on_diagnostics``: the trainer skips it for that event."""


def test_callbacks_without_the_hook_are_skipped(table_csv: str) -> None:
    result = Trainer(make_config(table_csv, diagnostics_every=1), callbacks=[_Unused()]).fit()
    assert result.status == "finished"
