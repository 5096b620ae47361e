"""The trainer: every architecture × task kind, events, reproducibility, scheduling, stopping."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from mtl.config import ExperimentConfig, TrainConfig
from mtl.data.prepare import prepare
from mtl.data.tasks import TaskSpec
from mtl.models import ARCHITECTURES
from mtl.train.callbacks import Callback, History, StepEnd
from mtl.train.checkpoint import load_checkpoint, save_checkpoint
from mtl.train.losses import TaskLoss
from mtl.train.schedule import learning_rate
from mtl.train.trainer import Trainer, select_device

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL_MODEL = {"hidden": [16, 16], "channels": [8, 8], "experts": 2}
TASKS_BY_KIND = {
    "binary": {"name": "bin", "target": "bin", "kind": "binary"},
    "multiclass": {"name": "cls", "target": "cls", "kind": "multiclass"},
    "regression": {"name": "reg", "target": "reg", "kind": "regression"},
    "regression-k": {"name": "multi", "target": ["r0", "r1", "r2"], "kind": "regression"},
}


def make_table(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """Learnable targets of every kind from 5 numeric features and a categorical one."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    group = rng.choice(["g1", "g2", "g3"], size=n)
    shift = np.select([group == "g1", group == "g2"], [1.0, -1.0], 0.0)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])
    frame["group"] = group
    frame["bin"] = np.where(x[:, 0] + x[:, 1] + 0.5 * shift > 0, "yes", "no")
    frame["cls"] = np.digitize(x[:, 2] - x[:, 3], [-0.6, 0.6])  # 0, 1, 2
    frame["reg"] = 50.0 + 10.0 * (x[:, 0] - x[:, 4]) + 5.0 * shift
    for j in range(3):
        frame[f"r{j}"] = x[:, j] * x[:, j + 1] + 0.3 * rng.normal(size=n)
    return frame


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("trainer") / "table.csv"
    make_table().to_csv(path, index=False)
    return str(path)


def make_config(path: str, tasks: list[dict[str, Any]], **sections: Any) -> ExperimentConfig:
    data: dict[str, Any] = {
        "name": "test",
        "data": {"dataset": "csv", "path": path},
        "tasks": tasks,
        "model": dict(SMALL_MODEL),
        "loss": {"weighting": "equal"},
        "train": {"epochs": 3, "batch_size": 32, "lr": 0.01, "log_every": 1, "seed": 0},
    }
    for key, value in sections.items():
        data[key] = {**data[key], **value} if isinstance(data.get(key), dict) else value
    return ExperimentConfig.from_dict(data)


def fit(config: ExperimentConfig, *callbacks: Callback) -> tuple[Any, History]:
    history = History()
    result = Trainer(config, callbacks=[history, *callbacks]).fit()
    return result, history


def epoch_value(history: History, epoch: int, task: str, split: str, metric: str) -> float | None:
    [row] = [
        r for r in history.epochs[epoch].rows if r[3] == task and r[4] == split and r[5] == metric
    ]
    return row[6]


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "duration_s"}


# ---- every architecture × every task kind ----------------------------------------------


@pytest.mark.parametrize("kind", list(TASKS_BY_KIND))
@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_architecture_trains_task_kind(table_csv: str, sharing: str, kind: str) -> None:
    partner = TASKS_BY_KIND["regression" if kind != "regression" else "binary"]
    tasks = [TASKS_BY_KIND[kind], partner]
    config = make_config(table_csv, tasks, model={"sharing": sharing})
    result, history = fit(config)
    names = [t["name"] for t in tasks]

    assert result.status == "finished"
    assert history.start is not None and history.end is not None
    assert history.start.epochs == 3 and history.start.n_parameters > 0
    assert history.start.rows == {"train": 112, "val": 24, "test": 24}
    steps_per_epoch = math.ceil(112 / 32)
    assert history.start.steps_per_epoch == steps_per_epoch
    assert len(history.steps) == 3 * steps_per_epoch  # log_every = 1
    assert [e.epoch for e in history.epochs] == [0, 1, 2]
    assert history.end.status == "finished" and history.end.error is None
    for event in history.steps:
        assert set(event.losses) == set(names) == set(event.weights)
        assert all(math.isfinite(v) for v in event.losses.values())
    for epoch in range(3):
        for name in names:
            for split in ("train", "val"):
                assert math.isfinite(epoch_value(history, epoch, name, split, "loss"))
    # it learns: the summed training loss falls from the first to the last epoch
    first = sum(epoch_value(history, 0, n, "train", "loss") for n in names)
    last = sum(epoch_value(history, 2, n, "train", "loss") for n in names)
    assert last < first
    test = result.summary["test"]
    expected = (
        {"mse", "rmse", "mae", "r2"}
        if kind.startswith("regression")
        else {"accuracy", "f1", "auc_roc"}
    )
    assert expected <= set(test[names[0]])
    assert history.end.summary == result.summary


@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_architecture_trains_on_images(sharing: str) -> None:
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "digits"},
            "tasks": [
                {"name": "digit", "target": "digit", "kind": "multiclass"},
                {"name": "parity", "target": "parity", "kind": "binary"},
            ],
            "model": {"sharing": sharing, **SMALL_MODEL},
            "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
        }
    )
    result, history = fit(config)
    assert result.data.input_shape == (1, 8, 8)
    assert result.status == "finished"
    assert (
        result.summary["test"]["digit"]["accuracy"] > 0.3
    )  # well above chance (0.1) after two epochs


def test_image_augmentation_changes_training_but_not_evaluation_inputs() -> None:
    def run(augment: bool) -> tuple[Any, History]:
        config = ExperimentConfig.from_dict(
            {
                "data": {"dataset": "digits", "augment": augment},
                "tasks": [{"name": "digit", "target": "digit", "kind": "multiclass"}],
                "model": SMALL_MODEL,
                "train": {"epochs": 2, "batch_size": 64, "lr": 0.01},
            }
        )
        return fit(config)

    (plain, h_plain), (shifted, h_shifted) = run(False), run(True)
    assert shifted.status == "finished"
    np.testing.assert_array_equal(plain.data.test.x, shifted.data.test.x)
    assert [s.losses for s in h_plain.steps] != [s.losses for s in h_shifted.steps]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_optimizers(table_csv: str, optimizer: str) -> None:
    config = make_config(
        table_csv,
        [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]],
        train={
            "optimizer": optimizer,
            "weight_decay": 1e-3,
            "grad_clip": 1.0,
            "epochs": 4,
            "lr": 0.05,
        },
        model={"dropout": 0.1, "batch_norm": True},
    )
    result, history = fit(config)
    assert result.status == "finished"
    assert result.summary["test"]["reg"]["r2"] > 0.0


def test_batch_norm_with_a_last_batch_of_one_row(table_csv: str) -> None:
    # 112 training rows in batches of 37: the last batch has one row, which batch norm cannot train on
    config = make_config(
        table_csv,
        [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]],
        model={"batch_norm": True},
        train={"batch_size": 37},
    )
    result, history = fit(config)
    assert result.status == "finished"
    assert all(math.isfinite(epoch_value(history, e, "bin", "train", "loss")) for e in range(3))
    assert epoch_value(history, 2, "bin", "train", "accuracy") is not None


def test_missing_labels_train_the_other_task(tmp_path: Path) -> None:
    table = make_table(200)
    table.loc[::3, "bin"] = None  # a third of the rows have no binary label
    table.loc[1::4, "reg"] = np.nan
    path = tmp_path / "gaps.csv"
    table.to_csv(path, index=False)
    config = make_config(
        str(path), [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]], train={"epochs": 8}
    )
    result, _ = fit(config)
    assert result.status == "finished"
    assert result.summary["test"]["bin"]["accuracy"] >= 0.75
    assert result.summary["test"]["reg"]["r2"] >= 0.5


@pytest.mark.parametrize("weighting", ["equal", "mgda"])
def test_a_batch_without_a_tasks_labels_does_not_train_it(tmp_path: Path, weighting: str) -> None:
    table = make_table(200)
    table.loc[::3, "bin"] = None
    path = tmp_path / "gaps.csv"
    table.to_csv(path, index=False)
    config = make_config(
        str(path),
        [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]],
        loss={"weighting": weighting},
    )
    trainer = Trainer(config)
    unlabelled = np.flatnonzero(trainer.data.train.mask["bin"] == 0)[:8]
    assert len(unlabelled) == 8
    _, weights, _ = trainer._train_step(
        trainer._tensors["train"], torch.from_numpy(unlabelled), None
    )
    assert weights[0] == 0.0 and weights[1] > 0.0  # bin, reg
    head = trainer.model.task_parameters("bin")
    assert all(p.grad is None or not p.grad.any() for p in head)
    assert any(p.grad is not None and p.grad.any() for p in trainer.model.task_parameters("reg"))


# ---- reproducibility -----------------------------------------------------------------


def test_same_config_and_seed_give_the_same_numbers(table_csv: str) -> None:
    tasks = [TASKS_BY_KIND["multiclass"], TASKS_BY_KIND["regression-k"]]
    config = make_config(table_csv, tasks, model={"sharing": "mmoe", "dropout": 0.2})
    first, h1 = fit(config)
    second, h2 = fit(config)
    assert comparable(first.summary) == comparable(second.summary)
    assert [s.losses for s in h1.steps] == [s.losses for s in h2.steps]
    other, _ = fit(config.with_overrides({"train.seed": 1}))
    assert comparable(other.summary) != comparable(first.summary)
    assert other.summary["test"]["cls"]["loss"] != first.summary["test"]["cls"]["loss"]


# ---- task scheduling -----------------------------------------------------------------


def test_task_with_start_epoch_has_zero_weight_before_it(table_csv: str) -> None:
    tasks = [
        TASKS_BY_KIND["binary"],
        {**TASKS_BY_KIND["regression"], "start_epoch": 2, "weight": 2.5},
    ]
    config = make_config(table_csv, tasks, loss={"weighting": "manual"}, train={"epochs": 4})
    result, history = fit(config)
    before = [s for s in history.steps if s.epoch < 2]
    after = [s for s in history.steps if s.epoch >= 2]
    assert before and after
    assert all(s.weights["reg"] == 0.0 for s in before)
    assert all(s.weights["reg"] == pytest.approx(2.5) for s in after)
    assert all(s.weights["bin"] == pytest.approx(1.0) for s in history.steps)
    # the late task's loss is still reported while it waits
    assert all(math.isfinite(s.losses["reg"]) for s in before)


def test_late_task_does_not_move_its_head_before_it_starts(table_csv: str) -> None:
    tasks = [TASKS_BY_KIND["binary"], {**TASKS_BY_KIND["regression"], "start_epoch": 2}]
    config = make_config(table_csv, tasks, model={"sharing": "independent"}, train={"epochs": 3})

    class Snapshot(Callback):
        def __init__(self) -> None:
            self.params: dict[int, list[torch.Tensor]] = {}

        def on_run_start(self, trainer, event) -> None:
            self.params[-1] = [p.detach().clone() for p in trainer.model.task_parameters("reg")]

        def on_epoch_end(self, trainer, event) -> None:
            self.params[event.epoch] = [
                p.detach().clone() for p in trainer.model.task_parameters("reg")
            ]

    snap = Snapshot()
    fit(config, snap)
    for before, at_1 in zip(snap.params[-1], snap.params[1], strict=True):
        assert torch.equal(before, at_1)
    assert any(not torch.equal(a, b) for a, b in zip(snap.params[1], snap.params[2], strict=True))


# ---- early stopping ------------------------------------------------------------------


def test_early_stopping_stops_and_restores_best(table_csv: str) -> None:
    tasks = [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]]
    config = make_config(
        table_csv,
        tasks,
        model={"hidden": [64, 64]},
        train={"epochs": 200, "lr": 0.02, "early_stopping": 3},
    )
    result, history = fit(config)
    summary = result.summary
    assert result.status == "finished"
    assert summary["epochs"] < 200
    best = summary["best_epoch"]
    assert best == summary["epochs"] - 1 - 3  # stopped after 3 epochs without a better val loss
    assert history.epochs[best].improved
    assert not any(e.improved for e in history.epochs[best + 1 :])
    monitors = [e.monitor for e in history.epochs]
    assert monitors[best] == min(monitors)
    assert monitors[-1] > monitors[best]
    # the returned model is the best epoch's: its validation losses are the recorded ones
    for name in ("bin", "reg"):
        assert summary["val"][name]["loss"] == pytest.approx(
            epoch_value(history, best, name, "val", "loss"), rel=1e-6
        )
    assert sum(summary["val"][n]["loss"] for n in ("bin", "reg")) == pytest.approx(
        monitors[best], rel=1e-6
    )


# ---- divergence and stopping ---------------------------------------------------------


def test_non_finite_loss_ends_diverged_naming_the_task(tmp_path: Path) -> None:
    table = make_table()
    table["huge"] = 1e25 * (1 + table["x0"].abs())  # squared error overflows float32
    path = tmp_path / "huge.csv"
    table.to_csv(path, index=False)
    tasks = [TASKS_BY_KIND["binary"], {"name": "huge", "target": "huge", "kind": "regression"}]
    config = make_config(str(path), tasks, data={"standardize_targets": False})
    result, history = fit(config)
    assert result.status == "diverged"
    assert history.end.status == "diverged"
    assert "task 'huge'" in history.end.error
    assert "inf" in history.end.error or "nan" in history.end.error
    assert "train.lr" in history.end.error  # says how to fix it
    assert "test" not in result.summary
    assert result.summary["status"] == "diverged"


class PoisonedTrainer(Trainer):
    """A real trainer whose loss of task ``task`` is NaN at training step ``at`` (0-based)."""

    def __init__(self, config: ExperimentConfig, *, at: int, task: int, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.at, self.task = at, task

    def _batch_losses(self, out: Any, split: Any, index: torch.Tensor) -> Any:
        losses, present = super()._batch_losses(out, split, index)
        if self.model.training and self.step == self.at:
            poison = torch.ones_like(losses)
            poison[self.task] = math.nan
            losses = losses * poison
        return losses, present


@pytest.mark.parametrize("weighting", ["equal", "upgrad", "mgda"])
def test_nan_between_reports_names_its_task_and_step(table_csv: str, weighting: str) -> None:
    """Losses are checked once per report window, yet the error names the first bad step
    (not the report's), and no report or epoch row carries a non-finite loss."""
    tasks = [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]]
    config = make_config(
        table_csv, tasks, loss={"weighting": weighting}, train={"epochs": 3, "log_every": 3}
    )
    history = History()
    result = PoisonedTrainer(config, at=5, task=1, callbacks=[history]).fit()
    assert result.status == "diverged"
    assert history.end is not None and history.end.status == "diverged"
    assert "task 'reg' loss became nan at step 5;" in str(history.end.error)
    assert [e.step for e in history.steps] == [3]  # the report at step 6 found the NaN
    assert len(history.epochs) == 1  # epoch 0 (steps 0-3) ended before it
    for event in history.steps:
        assert all(math.isfinite(v) for v in event.losses.values())
    assert all(r[6] is None or math.isfinite(r[6]) for e in history.epochs for r in e.rows)


def test_nan_in_the_last_steps_of_an_epoch_is_caught_at_its_end(table_csv: str) -> None:
    config = make_config(
        table_csv, [TASKS_BY_KIND["regression"]], train={"epochs": 2, "log_every": 100}
    )
    history = History()
    result = PoisonedTrainer(config, at=2, task=0, callbacks=[history]).fit()
    assert result.status == "diverged"
    assert "task 'reg' loss became nan at step 2;" in str(history.end.error)
    assert history.steps == [] and history.epochs == []  # nothing non-finite was reported


class InterruptedTrainer(PoisonedTrainer):
    """A poisoned trainer interrupted from the keyboard when training step ``stop_at`` starts."""

    stop_at = 7

    def _train_step(self, split: Any, index: torch.Tensor, active: Any) -> Any:
        if self.step == self.stop_at:
            raise KeyboardInterrupt
        return super()._train_step(split, index, active)


@pytest.mark.parametrize(("poison_at", "status"), [(5, "diverged"), (99, "stopped")])
def test_keyboard_interrupt_checks_the_unreported_steps(
    table_csv: str, poison_at: int, status: str
) -> None:
    config = make_config(
        table_csv, [TASKS_BY_KIND["regression"]], train={"epochs": 5, "log_every": 100}
    )
    history = History()
    result = InterruptedTrainer(config, at=poison_at, task=0, callbacks=[history]).fit()
    assert result.status == status and history.end is not None
    if status == "diverged":  # a NaN step after the last check: no checkpoint of NaN weights
        assert "task 'reg' loss became nan at step 5;" in str(history.end.error)
    else:
        assert history.end.error == "interrupted from the keyboard"


def test_request_stop_from_a_callback(table_csv: str) -> None:
    class StopAfter(Callback):
        def on_step(self, trainer: Trainer, event: StepEnd) -> None:
            if event.step == 2:
                trainer.request_stop("user pressed stop")

    config = make_config(
        table_csv, [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]], train={"epochs": 10}
    )
    result, history = fit(config, StopAfter())
    assert result.status == "stopped"
    assert history.end.status == "stopped"
    assert result.summary["steps"] == 2
    assert history.epochs == []  # stopped inside the first epoch
    assert "test" in result.summary  # a stopped run still reports metrics


def test_request_stop_at_epoch_end(table_csv: str) -> None:
    class StopAtEpoch(Callback):
        def on_epoch_end(self, trainer: Trainer, event) -> None:
            if event.epoch == 1:
                trainer.request_stop()

    config = make_config(
        table_csv, [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]], train={"epochs": 10}
    )
    result, history = fit(config, StopAtEpoch())
    assert result.status == "stopped"
    assert len(history.epochs) == 2


def test_failure_is_reported_then_raised(table_csv: str) -> None:
    class Boom(Callback):
        def on_step(self, trainer: Trainer, event: StepEnd) -> None:
            raise RuntimeError("sink broke")

    history = History()
    config = make_config(table_csv, [TASKS_BY_KIND["binary"]])
    with pytest.raises(RuntimeError, match="sink broke"):
        Trainer(config, callbacks=[history, Boom()]).fit()
    assert history.end is not None and history.end.status == "failed"
    assert "sink broke" in history.end.error


# ---- learning-rate schedules ---------------------------------------------------------


def train_cfg(**values: Any) -> TrainConfig:
    return TrainConfig(**{"epochs": 10, "lr": 0.1, **values})


def test_constant_schedule() -> None:
    cfg = train_cfg()
    assert {learning_rate(cfg, s, 5) for s in range(50)} == {0.1}


def test_warmup_is_linear_then_full_rate() -> None:
    cfg = train_cfg(warmup_epochs=2)
    spe = 5
    warm = [learning_rate(cfg, s, spe) for s in range(10)]
    assert warm == pytest.approx([0.1 * (s + 1) / 10 for s in range(10)])
    assert learning_rate(cfg, 10, spe) == pytest.approx(0.1)
    assert learning_rate(cfg, 49, spe) == pytest.approx(0.1)


def test_step_schedule() -> None:
    cfg = train_cfg(schedule="step", step_size=3, gamma=0.5)
    spe = 4
    for step in range(40):
        epoch = step // spe
        assert learning_rate(cfg, step, spe) == pytest.approx(0.1 * 0.5 ** (epoch // 3))
    warm = train_cfg(schedule="step", step_size=3, gamma=0.5, warmup_epochs=2)
    assert learning_rate(warm, 2 * spe, spe) == pytest.approx(0.1)  # first epoch after warm-up
    assert learning_rate(warm, 5 * spe, spe) == pytest.approx(0.05)  # 3 epochs after warm-up


def test_cosine_schedule() -> None:
    cfg = train_cfg(schedule="cosine", epochs=20)
    spe = 10
    total = 200
    assert learning_rate(cfg, 0, spe) == pytest.approx(0.1)
    assert learning_rate(cfg, total // 2, spe) == pytest.approx(0.05)
    assert learning_rate(cfg, total // 4, spe) == pytest.approx(0.05 * (1 + math.cos(math.pi / 4)))
    assert learning_rate(cfg, total - 1, spe) < 1e-3 * 0.1  # ends ≈ 0
    rates = [learning_rate(cfg, s, spe) for s in range(total)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_cosine_after_warmup_starts_at_peak() -> None:
    cfg = train_cfg(schedule="cosine", epochs=12, warmup_epochs=2)
    spe = 5
    assert learning_rate(cfg, 9, spe) == pytest.approx(0.1)
    assert learning_rate(cfg, 10, spe) == pytest.approx(0.1)
    assert learning_rate(cfg, 10 + 25, spe) == pytest.approx(0.05)
    assert learning_rate(cfg, 59, spe) < 1e-3 * 0.1


def test_plateau_scale() -> None:
    cfg = train_cfg(schedule="plateau")
    assert learning_rate(cfg, 17, 5, plateau_scale=0.25) == pytest.approx(0.025)


def test_trainer_follows_the_schedule(table_csv: str) -> None:
    config = make_config(
        table_csv,
        [TASKS_BY_KIND["binary"]],
        train={"epochs": 6, "schedule": "cosine", "warmup_epochs": 2, "lr": 0.05},
    )
    _, history = fit(config)
    spe = history.start.steps_per_epoch
    for event in history.steps:
        assert event.lr == pytest.approx(learning_rate(config.train, event.step - 1, spe))
        param_lr = event.lr
        assert param_lr > 0


def test_plateau_lowers_rate_only_after_stalled_epochs(table_csv: str) -> None:
    config = make_config(
        table_csv,
        [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]],
        train={
            "epochs": 30,
            "schedule": "plateau",
            "plateau_patience": 2,
            "gamma": 0.5,
            "lr": 0.05,
        },
    )
    _, history = fit(config)
    rates = {}
    for event in history.steps:
        rates.setdefault(event.epoch, event.lr)
    assert rates[0] == pytest.approx(0.05)
    drops = [e for e in range(1, 30) if rates[e] < rates[e - 1]]
    assert drops, "the validation loss never stalled for 2 epochs in 30"
    for epoch in drops:
        assert rates[epoch] == pytest.approx(rates[epoch - 1] * 0.5)
        assert not history.epochs[epoch - 1].improved and not history.epochs[epoch - 2].improved


# ---- checkpoints ---------------------------------------------------------------------


def test_checkpoint_round_trip_gives_identical_outputs(table_csv: str, tmp_path: Path) -> None:
    tasks = [TASKS_BY_KIND["multiclass"], TASKS_BY_KIND["regression-k"]]
    config = make_config(table_csv, tasks, model={"sharing": "cross-stitch", "batch_norm": True})
    result, _ = fit(config)
    path = save_checkpoint(tmp_path / "run", result.model, config, result.data, epoch=2)
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert payload["config"] == config.to_dict()
    loaded = load_checkpoint(path)
    assert loaded.config == config
    assert loaded.tasks == result.data.tasks
    assert loaded.extra == {"epoch": 2}
    x = torch.from_numpy(result.data.test.x)
    result.model.eval()
    with torch.no_grad():
        expected = result.model(x)
        got = loaded.model(x)
    for name in ("cls", "multi"):
        assert torch.equal(expected[name], got[name])


# ---- losses --------------------------------------------------------------------------


def binary_spec(class_weights: list[float] | None = None) -> TaskSpec:
    return TaskSpec(
        "b", "binary", ["b"], 1, "bce", 1.0, 0, classes=["0", "1"], class_weights=class_weights
    )


def multiclass_spec(class_weights: list[float] | None = None) -> TaskSpec:
    return TaskSpec(
        "m",
        "multiclass",
        ["m"],
        3,
        "ce",
        1.0,
        0,
        classes=["a", "b", "c"],
        class_weights=class_weights,
    )


def test_binary_class_weights_change_the_loss() -> None:
    logits = torch.tensor([[0.3], [-1.2], [2.0], [0.1], [-0.4]])
    y = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    mask = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0])
    plain, count = TaskLoss(binary_spec(), 1.0, torch.device("cpu"))(logits, y, mask)
    weighted, _ = TaskLoss(binary_spec([0.5, 2.0]), 1.0, torch.device("cpu"))(logits, y, mask)
    assert int(count) == 4
    z, t = logits.reshape(-1).numpy()[:4].astype(float), y.numpy()[:4]
    sig = 1 / (1 + np.exp(-z))
    expected_plain = float(np.mean(-(t * np.log(sig) + (1 - t) * np.log(1 - sig))))
    expected_weighted = float(
        np.mean(-(4.0 * t * np.log(sig) + (1 - t) * np.log(1 - sig)))
    )  # pos_weight 2/0.5
    assert float(plain) == pytest.approx(expected_plain, rel=1e-5)
    assert float(weighted) == pytest.approx(expected_weighted, rel=1e-5)
    assert float(weighted) != pytest.approx(float(plain))


def test_multiclass_class_weights_change_the_loss() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-1.0, 3.0, 0.0], [0.0, 0.0, 1.0]])
    y = torch.tensor([0, 2, 1, 2])
    mask = torch.ones(4)
    weights = [1.0, 3.0, 0.5]
    plain, _ = TaskLoss(multiclass_spec(), 1.0, torch.device("cpu"))(logits, y, mask)
    weighted, _ = TaskLoss(multiclass_spec(weights), 1.0, torch.device("cpu"))(logits, y, mask)
    z = logits.numpy().astype(float)
    nll = -(z[np.arange(4), y.numpy()] - np.log(np.exp(z).sum(axis=1)))
    w = np.array(weights)[y.numpy()]
    assert float(plain) == pytest.approx(float(nll.mean()), rel=1e-5)
    assert float(weighted) == pytest.approx(float((w * nll).sum() / w.sum()), rel=1e-5)


def test_class_weights_change_the_training_loss(tmp_path: Path) -> None:
    table = make_table(200)
    table["rare"] = np.where(table["x0"] > 1.0, "yes", "no")  # about 16 % positives
    path = tmp_path / "rare.csv"
    table.to_csv(path, index=False)
    losses = []
    for weighted in (False, True):
        task = {"name": "rare", "target": "rare", "kind": "binary", "class_weights": weighted}
        config = make_config(str(path), [task, TASKS_BY_KIND["regression"]], train={"epochs": 1})
        _, history = fit(config)
        losses.append(
            history.steps[0].losses["rare"]
        )  # same model, same batch: only the weights differ
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)


def test_masked_rows_add_nothing_to_the_loss() -> None:
    loss_fn = TaskLoss(
        TaskSpec(
            "r", "regression", ["a", "b"], 2, "mse", 1.0, 0, target_mean=[0, 0], target_std=[1, 1]
        ),
        1.0,
        torch.device("cpu"),
    )
    out = torch.tensor([[1.0, 2.0], [0.0, 0.0], [5.0, 5.0]])
    y = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    loss, count = loss_fn(out, y, torch.tensor([1.0, 1.0, 0.0]))
    assert int(count) == 2
    assert float(loss) == pytest.approx(((1 + 4) / 2 + (1 + 1) / 2) / 2)


def test_huber_loss() -> None:
    spec = TaskSpec("r", "regression", ["a"], 1, "huber", 1.0, 0, target_mean=[0], target_std=[1])
    loss, _ = TaskLoss(spec, 1.0, torch.device("cpu"))(
        torch.tensor([[0.5], [3.0]]), torch.zeros(2, 1), torch.ones(2)
    )
    assert float(loss) == pytest.approx((0.5 * 0.25 + (3.0 - 0.5)) / 2)


class RecordingStrategy:
    """Wraps the trainer's strategy and records what each backward pass was given."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[list[float], list[float], float]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def backward(
        self, losses: torch.Tensor, active: torch.Tensor, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        weights = self.inner.backward(losses, active, extra)
        self.calls.append(
            (losses.tolist(), weights.tolist(), float(extra.detach()) if extra is not None else 0.0)
        )
        return weights


def test_l1_adds_the_weight_norm_to_the_total_loss(table_csv: str) -> None:
    totals, penalties = [], []
    for l1 in (0.0, 1e-3):
        config = make_config(
            table_csv,
            [TASKS_BY_KIND["binary"], TASKS_BY_KIND["regression"]],
            train={"epochs": 1, "l1": l1},
        )
        trainer = Trainer(config)
        norm = float(sum(p.detach().abs().sum() for p in trainer.model.parameters()))
        recorder = RecordingStrategy(trainer.strategy)
        trainer.strategy = recorder
        trainer.fit()
        losses, weights, extra = recorder.calls[0]
        totals.append(sum(w * v for w, v in zip(weights, losses, strict=True)) + extra)
        penalties.append((extra, l1 * norm))
    assert penalties[0][0] == 0.0
    assert penalties[1][0] == pytest.approx(penalties[1][1], rel=1e-5)
    assert totals[1] > totals[0]
    assert totals[1] - totals[0] == pytest.approx(penalties[1][1], rel=1e-4)


def test_l1_shrinks_the_weights(table_csv: str) -> None:
    norms = []
    for l1 in (0.0, 1e-2):
        config = make_config(table_csv, [TASKS_BY_KIND["binary"]], train={"epochs": 5, "l1": l1})
        result, _ = fit(config)
        norms.append(float(sum(p.detach().abs().sum() for p in result.model.parameters())))
    assert norms[1] < 0.8 * norms[0]


# ---- device --------------------------------------------------------------------------


def test_device_selection() -> None:
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_prepared_data_can_be_passed_in(table_csv: str) -> None:
    config = make_config(table_csv, [TASKS_BY_KIND["binary"]], train={"epochs": 1})
    data = prepare(config)
    result = Trainer(config, data=data).fit()
    assert result.data is data
