"""Single-task baselines: the config, finding and reusing one, Δm on synthetic-related, the CLI."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from conftest import run_cli
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.runs.store import TERMINAL_STATUSES, RunStore
from mtl.study.baseline import (
    BASELINE_TAG,
    active_baseline,
    baseline_config,
    ensure_baseline,
    find_baseline,
    run_delta,
)

# synthetic-related (two regression tasks sharing a latent, p = 0.9), small enough for seconds
SMALL = {"train.epochs": 10, "data.options.samples": 400}


def small_config(**overrides: object) -> ExperimentConfig:
    return presets.load("synthetic-related").with_overrides({**SMALL, **overrides})


def train(store: RunStore, config: ExperimentConfig) -> str:
    """Train a run in this process (as `python -m mtl run` does in the foreground)."""
    from mtl.runs.worker import execute

    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    assert execute(store, run_id, config).status == "finished"
    return run_id


def fake_run(
    store: RunStore, config: ExperimentConfig, status: str = "finished", name: str | None = None
) -> str:
    """A run record with this config and status, without training."""
    run_id = store.create_run(
        name or config.name, config.to_dict(), status="running", pid=os.getpid()
    )
    if status != "running":
        store.set_status(run_id, status, summary={"test": {}})
    return run_id


def test_baseline_config_keeps_data_tasks_encoder_and_training_and_drops_sharing() -> None:
    config = small_config(
        **{
            "model.branch_depth": 1,
            "model.dropout": 0.1,
            "model.head_hidden": [8],
            "loss.weighting": "pcgrad",
            "tasks.y1.weight": 2.0,
            "tasks.y2.start_epoch": 3,
            "train.diagnostics_every": 5,
            "train.lr": 0.01,
            "train.weight_decay": 1e-4,
            "train.seed": 7,
        }
    )
    base = baseline_config(config)

    assert base.name == "synthetic-related · baseline"
    assert base.model.sharing == "independent"
    assert base.model.branch_depth is None
    for key in (
        "encoder",
        "hidden",
        "channels",
        "activation",
        "dropout",
        "batch_norm",
        "head_hidden",
    ):
        assert getattr(base.model, key) == getattr(config.model, key), key
    assert base.data == config.data
    assert base.loss.weighting == "equal" and base.loss.options == {}
    assert [(t.name, t.target, t.kind, t.loss, t.weight, t.start_epoch) for t in base.tasks] == [
        ("y1", "y1", "regression", "auto", 1.0, 0),
        ("y2", "y2", "regression", "auto", 1.0, 0),
    ]
    assert base.train.diagnostics_every is None
    assert base.train.model_dump(exclude={"diagnostics_every"}) == config.train.model_dump(
        exclude={"diagnostics_every"}
    )
    assert baseline_config(base) == base  # a baseline is its own baseline

    # sharing mode and loss weighting do not change the baseline: one serves them all
    variants = [
        small_config(),
        small_config(**{"model.sharing": "soft", "model.soft_lambda": 0.1}),
        small_config(
            **{"model.sharing": "mmoe", "model.experts": 2, "loss.weighting": "uncertainty"}
        ),
        small_config(**{"loss.weighting": "manual", "tasks.y2.weight": 0.5, "name": "other"}),
    ]
    bases = [baseline_config(v).model_dump(exclude={"name"}) for v in variants]
    assert all(b == bases[0] for b in bases)
    # ... while the data, the encoder and the training settings do
    assert baseline_config(small_config(**{"train.seed": 1})) != baseline_config(small_config())
    assert baseline_config(small_config(**{"model.hidden": [16]})) != baseline_config(
        small_config()
    )


def test_find_baseline_needs_a_finished_match_and_ignores_the_name(home: Path) -> None:
    store = RunStore(home)
    config = small_config()
    target = baseline_config(config)
    assert find_baseline(store, config) is None

    fake_run(store, baseline_config(small_config(**{"train.seed": 3})))  # another seed: no match
    fake_run(store, small_config())  # the multi-task run itself: not independent
    failed = fake_run(store, target, "failed")
    running = fake_run(store, target, "running")
    assert find_baseline(store, config) is None
    assert active_baseline(store, config) == (running, "running")
    assert failed != running

    older = fake_run(
        store, target.with_overrides({"train.log_every": 3}), name="my own single-task run"
    )
    assert find_baseline(store, config) == older  # name and log_every do not matter
    time.sleep(0.01)
    newer = fake_run(store, target)
    assert find_baseline(store, config) == newer  # the newest finished match wins
    assert find_baseline(store, target) == newer  # a baseline's baseline is itself


def test_baseline_and_mtl_on_synthetic_related_delta_m_sign_agrees(home: Path) -> None:
    store = RunStore(home)
    run_id = train(store, small_config())

    first = ensure_baseline(store, run_id)
    assert not first.reused and first.status == "finished"
    assert store.get_run(first.run_id)["tags"] == [BASELINE_TAG]
    assert store.get_run(first.run_id)["name"] == "synthetic-related · baseline"
    count = len(store.list_runs())

    second = ensure_baseline(store, run_id)  # reuses the finished one: trains nothing
    assert second.reused and second.run_id == first.run_id
    assert len(store.list_runs()) == count
    assert find_baseline(store, small_config()) == first.run_id

    delta = run_delta(store, run_id)
    assert delta is not None and delta.baseline_id == first.run_id and delta.split == "test"
    mtl = store.get_run(run_id)["summary"]["test"]
    single = store.get_run(first.run_id)["summary"]["test"]
    # each task's change, by hand: rmse and mae are lower-is-better
    for task in ("y1", "y2"):
        changes = [
            -(mtl[task][m] - single[task][m]) / abs(single[task][m]) * 100 for m in ("rmse", "mae")
        ]
        assert delta.task(task).change == pytest.approx(sum(changes) / 2)
        # the task's sign agrees with its metrics whenever they agree with each other
        if all(c > 0 for c in changes) or all(c < 0 for c in changes):
            assert (delta.task(task).change > 0) == (changes[0] > 0)
    task_changes = [delta.task(t).change for t in ("y1", "y2")]
    assert delta.value == pytest.approx(sum(task_changes) / 2)
    # whether sharing helps is a claim over seeds, not one run's sign: tests/study/test_verdict.py


def test_cli_trains_then_reuses_and_prints_delta_m(home: Path) -> None:
    store = RunStore(home)
    run_id = train(store, small_config(**{"train.epochs": 4}))

    trained = run_cli("baseline", run_id, "--json", home=home)
    assert trained.returncode == 0, trained.stderr
    out = json.loads(trained.stdout)
    assert out["baseline"]["reused"] is False and out["baseline"]["status"] == "finished"
    assert out["delta_m"]["baseline_id"] == out["baseline"]["run_id"]
    assert [t["task"] for t in out["delta_m"]["tasks"]] == ["y1", "y2"]
    expected = run_delta(store, run_id)
    assert out["delta_m"]["delta_m"] == pytest.approx(expected.value)

    again = run_cli("baseline", run_id, home=home)
    assert again.returncode == 0, again.stderr
    assert f"baseline {out['baseline']['run_id']}  (reused, finished)" in again.stdout
    assert f"Δm = {expected.value:+.2f}% on the test split" in again.stdout
    assert "y1: " in again.stdout and "rmse" in again.stdout
    assert len(store.list_runs()) == 2

    missing = run_cli("baseline", "no-such-run", home=home)
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("error: no run 'no-such-run'")
    assert len(missing.stderr.strip().splitlines()) == 1


def test_cli_detach_launches_a_worker_then_reuses_it(home: Path) -> None:
    store = RunStore(home)
    config = small_config(**{"train.epochs": 3, "train.seed": 5, "loss.weighting": "uncertainty"})
    run_id = fake_run(store, config, "running")  # the multi-task run need not have finished

    # --max-running 2: the fake run above holds one slot
    launched = run_cli("baseline", run_id, "--detach", "--json", "--max-running", "2", home=home)
    assert launched.returncode == 0, launched.stderr
    out = json.loads(launched.stdout)
    baseline_id = out["baseline"]["run_id"]
    assert out["baseline"]["reused"] is False and out["baseline"]["status"] in ("queued", "running")
    assert out["delta_m"] is None and "when it has finished" in out["note"]

    # a second call while it trains reuses it instead of launching another
    assert ensure_baseline(store, run_id, detach=True).run_id == baseline_id
    deadline = time.monotonic() + 60
    while store.get_run(baseline_id)["status"] not in TERMINAL_STATUSES:
        assert time.monotonic() < deadline, "the detached baseline did not finish in 60 s"
        time.sleep(0.2)
    assert store.get_run(baseline_id)["status"] == "finished"

    out = ensure_baseline(store, run_id)  # the reuse path (the CLI's is tested above)
    assert (out.run_id, out.status, out.reused) == (baseline_id, "finished", True)
    with pytest.raises(ValueError, match=rf"run {run_id} \(\w+\) has no final test metrics"):
        run_delta(store, run_id)
    assert run_delta(store, baseline_id).value == 0.0  # a baseline against itself
