"""Transfer learning (``model.init_from``): weights copied from a finished run of the store,
freezing, the learning-rate factor, the one-line mismatch errors, lineage and label fractions."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from conftest import assert_user_error, config_error, run_cli
from mtl.config import ConfigError, ExperimentConfig
from mtl.data.prepare import prepare
from mtl.runs.lineage import source_checkpoint
from mtl.runs.store import RunStore
from mtl.runs.worker import execute

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = {"dataset": "synthetic", "options": {"p": 0.9, "samples": 1200, "features": 16}}


def config(tasks: list[str], **changes: Any) -> ExperimentConfig:
    model = {"hidden": [32, 16], **changes.pop("model", {})}
    train = {"epochs": 1, "batch_size": 64, "lr": 0.003, **changes.pop("train", {})}
    tasks_cfg = [{"name": t, "target": t, "kind": "regression"} for t in tasks]
    return ExperimentConfig.from_dict(
        {
            "name": changes.pop("name", "t"),
            "data": DATA,
            "tasks": tasks_cfg,
            "model": model,
            "train": train,
            **changes,
        }
    )


def train(store: RunStore, cfg: ExperimentConfig) -> str:
    run_id = store.create_run(cfg.name, cfg.to_dict(), status="running")
    execute(store, run_id, cfg)
    return run_id


def val_losses(store: RunStore, run_id: str, task: str) -> list[float]:
    m = store.metrics(run_id)
    rows = m[(m.split == "val") & (m.metric == "loss") & (m.task == task)].sort_values("epoch")
    return rows["value"].tolist()


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunStore, str]:
    """A store with one finished run trained on y2 (task correlation 0.9 with y1)."""
    store = RunStore(tmp_path_factory.mktemp("home"))
    return store, train(store, config(["y2"], name="source", train={"epochs": 12}))


def test_transfer_reaches_in_one_epoch_what_scratch_needs_several_for(
    source: tuple[RunStore, str],
) -> None:
    store, src = source
    few = {"data": DATA}  # y1 with 10 % of its training labels: little to learn from alone
    tasks = [{"name": "y1", "target": "y1", "kind": "regression", "label_fraction": 0.1}]
    base = config(["y1"], **few).to_dict() | {"tasks": tasks}
    transfer = ExperimentConfig.from_dict(
        base | {"name": "transfer", "model": base["model"] | {"init_from": src}}
    )
    scratch = ExperimentConfig.from_dict(
        base | {"name": "scratch", "train": base["train"] | {"epochs": 8}}
    )
    transferred = val_losses(store, train(store, transfer), "y1")
    from_scratch = val_losses(store, train(store, scratch), "y1")
    assert len(transferred) == 1 and len(from_scratch) == 8
    reached = [epoch for epoch, loss in enumerate(from_scratch) if loss <= transferred[0]]
    # scratch needs at least 4 epochs (or never gets there within 8) for transfer's first epoch
    assert not reached or reached[0] >= 3, (transferred, from_scratch)


def test_lineage_is_a_store_column_and_the_checkpoint_comes_from_the_store(
    source: tuple[RunStore, str],
) -> None:
    store, src = source
    cfg = config(["y1"], name="child", model={"init_from": src, "init_layers": "encoder"})
    child = train(store, cfg)
    assert store.get_run(child)["parent"] == src
    assert store.get_run(src)["parent"] is None
    runs = store.list_runs().set_index("id")
    assert runs.loc[child, "parent"] == src
    assert source_checkpoint(store, src) == store.home / "runs" / src / "checkpoint.pt"


def test_freezing_for_good_keeps_the_copied_encoder_and_trains_the_head(
    source: tuple[RunStore, str],
) -> None:
    from mtl.train.checkpoint import load_checkpoint
    from mtl.train.trainer import Trainer

    store, src = source
    path = source_checkpoint(store, src)
    before = load_checkpoint(path).model.trunk.state_dict()
    cfg = config(["y1"], model={"init_from": src, "freeze_epochs": "all"})
    trainer = Trainer(cfg, init_checkpoint=path)
    head0 = [p.detach().clone() for p in trainer.model.towers[0].parameters()]
    trainer.fit()
    for name, value in trainer.model.trunk.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert any(
        not torch.equal(a, b)
        for a, b in zip(head0, trainer.model.towers[0].parameters(), strict=True)
    )


def test_lr_factor_gives_the_copied_layers_their_own_learning_rate(
    source: tuple[RunStore, str],
) -> None:
    from mtl.train.trainer import Trainer

    store, src = source
    cfg = config(["y1"], model={"init_from": src, "init_lr_factor": 0.1})
    trainer = Trainer(cfg, init_checkpoint=source_checkpoint(store, src))
    trainer.fit()
    lrs = sorted(group["lr"] for group in trainer.optimizer.param_groups)
    assert lrs == pytest.approx([0.0003, 0.003])
    slow = trainer.optimizer.param_groups[1]["params"]
    assert {id(p) for p in slow} == {id(p) for p in trainer.model.trunk.parameters()}


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"model": {"hidden": [32]}}, ["shared encoder has 4 parameter tensors", "has 2"]),
        (
            {"model": {"hidden": [32, 8]}},
            ["encoder layer trunk.1.0.weight is (16, 32)", "but (8, 32) here"],
        ),
        ({"model": {"init_layers": "all"}}, ["has tasks y2; none matches this run's (y1)"]),
        (
            {"data": DATA | {"options": DATA["options"] | {"features": 12}}},
            ["trunk.0.0.weight is (32, 16)", "(32, 12) here"],
        ),
    ],
)
def test_mismatches_are_one_line_naming_what_differs(
    source: tuple[RunStore, str], changes: dict[str, Any], fragments: list[str]
) -> None:
    from mtl.train.trainer import Trainer

    store, src = source
    model = {"init_from": src, **changes.pop("model", {})}
    cfg = config(["y1"], model=model, **changes)
    with pytest.raises(ConfigError) as info:
        Trainer(cfg, init_checkpoint=source_checkpoint(store, src))
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_the_cli_refuses_an_unknown_or_unfinished_source_before_recording(
    home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(config(["y1"], model={"init_from": "20260101-000000-abcd"}).to_yaml())
    assert_user_error(run_cli("run", str(path), home=home), "no run '20260101-000000-abcd'")
    store = RunStore(home)
    queued = store.create_run("q", config(["y2"]).to_dict())
    path.write_text(config(["y1"], model={"init_from": queued}).to_yaml())
    assert_user_error(run_cli("run", str(path), home=home), f"run {queued} is queued, not finished")
    assert len(store.list_runs()) == 1  # nothing recorded


def test_config_refuses_paths_and_transfer_settings_without_a_source() -> None:
    base = config(["y1"]).to_dict()
    assert "is not a run id" in config_error(base | {"model": {"init_from": "../../etc"}})
    assert "set model.init_from too" in config_error(base | {"model": {"freeze_epochs": 3}})
    frozen = base | {"model": {"init_from": "a", "freeze_epochs": "all"}}
    assert "fixes the shared layers that loss.weighting 'pcgrad'" in config_error(
        frozen | {"loss": {"weighting": "pcgrad"}}
    )
    assert "train.diagnostics_every" in config_error(
        frozen | {"train": base["train"] | {"diagnostics_every": 5}}
    )
    assert "must be ≥ 0 or 'all'" in config_error(
        base | {"model": {"init_from": "a", "freeze_epochs": -1}}
    )


def test_label_fraction_masks_only_that_tasks_training_labels_seeded() -> None:
    tasks = [
        {"name": "y1", "target": "y1", "kind": "regression", "label_fraction": 0.25},
        {"name": "y2", "target": "y2", "kind": "regression"},
    ]
    cfg = ExperimentConfig.from_dict({"data": DATA, "tasks": tasks})
    data = prepare(cfg)
    n = len(data.train)
    assert data.train.mask["y1"].sum() == round(0.25 * n)
    assert data.train.mask["y2"].all() and data.val.mask["y1"].all() and data.test.mask["y1"].all()
    single = ExperimentConfig.from_dict({"data": DATA, "tasks": tasks[:1]})
    assert np.array_equal(prepare(single).train.mask["y1"], data.train.mask["y1"])  # same labels
    other_seed = cfg.with_overrides({"train.seed": 1})
    assert not np.array_equal(prepare(other_seed).train.mask["y1"], data.train.mask["y1"])


def test_label_fraction_fits_the_target_scaling_on_the_kept_labels_only() -> None:
    tasks = [{"name": "y1", "target": "y1", "kind": "regression", "label_fraction": 0.1}]
    cfg = ExperimentConfig.from_dict({"data": DATA, "tasks": tasks})
    data = prepare(cfg)
    spec = data.tasks[0]
    kept = data.train.mask["y1"]
    # the standardised labels the model sees: the kept ones have mean 0 and std 1 exactly
    y = data.train.y["y1"][kept, 0].astype(np.float64)
    assert abs(y.mean()) < 1e-5 and abs(y.std() - 1.0) < 1e-4
    everything = prepare(cfg.with_overrides({"tasks.0.label_fraction": 1.0})).tasks[0]
    assert spec.target_mean != everything.target_mean  # the left-out labels leaked nothing


def test_migration_fills_the_parent_of_runs_recorded_before_lineage(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    conn = sqlite3.connect(db)
    from mtl.runs.store_schema import MIGRATIONS

    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO runs (id, name, created_at, status, config) VALUES (?, ?, ?, ?, ?)",
        ("r1", "old", 1.0, "finished", '{"model": {"init_from": "r0"}}'),
    )
    conn.commit()
    conn.close()
    assert RunStore(tmp_path).get_run("r1")["parent"] == "r0"
