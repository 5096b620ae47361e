"""Data-parallel GradNorm, ``model.init_from`` and the diagnostics: 2 gloo ranks as 1 process.

GradNorm's weights follow the per-task gradient norms on the last shared layer; each rank
holds only its share of those gradients, so the ranks sum them (one all-reduce of T × |W|
values per step) before taking the norms. With ``model.init_from``, rank 0 reads the source
run's checkpoint and the other ranks receive the copied layers. The diagnostics measure the
Jacobian of the global losses (summed over the ranks), which a gradient-level strategy then
aggregates without a second exchange. Rank 1 is spawned, rank 0 is this process.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from test_ddp import STEPS, make_config, make_frame, max_difference

from mtl.config import ExperimentConfig
from mtl.data.prepare import prepare
from mtl.runs.lineage import source_checkpoint
from mtl.runs.store import RunStore
from mtl.runs.worker import execute
from mtl.train.callbacks import Callback, History, MetricRow
from mtl.train.diagnostics import DiagnosticsEnd
from mtl.train.distributed import DistributedTrainer, launch
from mtl.train.rank_norm import normalise_over_ranks
from mtl.train.trainer import Trainer, TrainResult
from mtl.weighting.strategies.gradnorm import GradNorm

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ddp_gradnorm") / "table.csv"
    make_frame().to_csv(path, index=False)
    return path


def gradnorm_config(path: Path, workers: int, late: bool) -> ExperimentConfig:
    """The equality harness's config with GradNorm; ``late``: task ``c`` joins at epoch 1."""
    config = make_config(path, "gradnorm", workers).to_dict()
    if late:
        config["tasks"][2]["start_epoch"] = 1
    return ExperimentConfig.from_dict(config)


@pytest.mark.parametrize("late", [False, True], ids=["all-tasks", "late-task"])
@pytest.mark.usefixtures("float64")
def test_gradnorm_with_two_ranks_updates_like_one_process(table: Path, late: bool) -> None:
    one = gradnorm_config(table, 1, late)
    data = prepare(one)  # 106 training rows: 53 per rank, the last batch of 6 split 3 / 3
    single_events = History()
    single_trainer = Trainer(one, data, [single_events])
    single = single_trainer.fit()
    parallel_events = History()
    trainer = launch(gradnorm_config(table, 2, late), data, [parallel_events], dtype=torch.float64)
    parallel = trainer.fit()
    assert single.status == parallel.status == "finished"
    assert single.summary["steps"] == parallel.summary["steps"] == STEPS
    assert max_difference(single.model, parallel.model) < 1e-5
    # GradNorm's own learned weights, and the weights it trained with at every reported step
    one_weights, two_weights = single_trainer.strategy, trainer.strategy
    assert isinstance(one_weights, GradNorm) and isinstance(two_weights, GradNorm)
    learned = one_weights.task_weights.detach()
    assert float((learned - 1.0).abs().max()) > 1e-3  # GradNorm moved them off 1
    assert torch.allclose(two_weights.task_weights.detach(), learned, rtol=0, atol=1e-8)
    assert two_weights.initial_losses == pytest.approx(one_weights.initial_losses, rel=1e-9)
    assert len(single_events.steps) == len(parallel_events.steps) == STEPS // 10
    for a, b in zip(single_events.steps, parallel_events.steps, strict=True):
        assert b.weights == pytest.approx(a.weights, rel=1e-6)
    # the norms' traffic: the active tasks' gradients on the last shared layer, every step
    # (the trunk's last Linear, hidden [16, 8]: 8 × 16), float64; 5 steps per epoch, and
    # the late task is not differentiated in epoch 0
    assert two_weights._layer is not None and [p.shape for p in two_weights._layer] == [(8, 16)]
    rows = 5 * 2 + 15 * 3 if late else STEPS * 3
    assert trainer.group.sent["gradnorm"] == rows * (8 * 16) * 8


@pytest.fixture(scope="module")
def source(table: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[RunStore, str]:
    """A store with one finished run (float32, 2 epochs) on the same table."""
    store = RunStore(tmp_path_factory.mktemp("home"))
    config = make_config(table, "equal", 1, epochs=2)
    run_id = store.create_run("source", config.to_dict(), status="running")
    assert execute(store, run_id, config).status == "finished"
    return store, run_id


def from_source(table: Path, run_id: str, workers: int, **train: Any) -> ExperimentConfig:
    """The harness's config started from run ``run_id``'s encoder: the copied layers at
    0.3 × the learning rate, frozen for the first epoch."""
    config = make_config(table, "uncertainty", workers, **train).to_dict()
    config["model"].update(init_from=run_id, init_lr_factor=0.3, freeze_epochs=1)
    return ExperimentConfig.from_dict(config)


@pytest.mark.usefixtures("float64")
def test_init_from_with_two_ranks_starts_every_rank_from_the_source_run(
    table: Path, source: tuple[RunStore, str]
) -> None:
    store, run_id = source
    checkpoint = source_checkpoint(store, run_id)
    one = from_source(table, run_id, 1)
    data = prepare(one)
    single_trainer = Trainer(one, data, init_checkpoint=checkpoint)
    scratch = Trainer(make_config(table, "uncertainty", 1), data).model
    shared = single_trainer.model.shared_parameters()  # hard sharing: the encoder
    assert {id(p) for p in single_trainer.transferred} == {id(p) for p in shared}
    assert max_difference(scratch, single_trainer.model) > 1e-2  # the source's weights differ
    single = single_trainer.fit()
    trainer = launch(
        from_source(table, run_id, 2), data, dtype=torch.float64, init_checkpoint=checkpoint
    )
    assert isinstance(trainer, DistributedTrainer)
    # rank 0 copied the same layers; rank 1 received them (names and values, float64)
    assert [p.shape for p in trainer.transferred] == [p.shape for p in single_trainer.transferred]
    values = sum(p.numel() for p in trainer.transferred)
    assert 8 * values < trainer.group.sent["init"] < 8 * values + 1000  # + the pickled names
    parallel = trainer.fit()
    assert single.status == parallel.status == "finished"
    assert single.summary["steps"] == parallel.summary["steps"] == STEPS
    assert max_difference(single.model, parallel.model) < 1e-5


def test_a_two_worker_run_from_a_finished_run_records_like_one_worker(
    table: Path, source: tuple[RunStore, str]
) -> None:
    """Through the worker (the store resolves ``init_from``, rank 0 reads the checkpoint)."""
    store, run_id = source
    results = {}
    for workers in (1, 2):
        config = from_source(table, run_id, workers, epochs=1)
        new = store.create_run(f"from-source-{workers}", config.to_dict(), status="running")
        results[workers] = execute(store, new, config)
    assert results[2].status == "finished"
    for task, values in results[1].summary["test"].items():  # float32: summation orders differ
        assert results[2].summary["test"][task] == pytest.approx(values, rel=1e-4, abs=1e-5), task


class DiagnosticRows(Callback):
    """Every diagnostics row, without its wall time."""

    def __init__(self) -> None:
        self.rows: list[MetricRow] = []

    def on_diagnostics(self, trainer: Trainer, event: DiagnosticsEnd) -> None:
        self.rows += [(*row[:2], 0.0, *row[3:]) for row in event.rows]


@pytest.mark.parametrize("weighting", ["equal", "upgrad"])
@pytest.mark.usefixtures("float64")
def test_diagnostics_with_two_ranks_record_the_one_process_rows(
    table: Path, weighting: str
) -> None:
    every = 4
    one = make_config(table, weighting, 1, diagnostics_every=every, affinity=True)
    data = prepare(one)
    single_rows = DiagnosticRows()
    single: TrainResult = Trainer(one, data, [single_rows]).fit()
    parallel_rows = DiagnosticRows()
    two = make_config(table, weighting, 2, diagnostics_every=every, affinity=True)
    trainer = launch(two, data, [parallel_rows], dtype=torch.float64)
    parallel = trainer.fit()
    assert single.status == parallel.status == "finished"
    assert max_difference(single.model, parallel.model) < 1e-5
    # T = 3: per measured step 3 norms, 3 cosines, 9 affinities and their 9 running means
    assert len(single_rows.rows) == (STEPS // every) * (3 + 3 + 9 + 9)
    assert [r[:6] for r in parallel_rows.rows] == [r[:6] for r in single_rows.rows]
    for a, b in zip(single_rows.rows, parallel_rows.rows, strict=True):
        assert b[6] == pytest.approx(a[6], rel=1e-6, abs=1e-12), a[:6]
        assert b[7] == a[7]
    assert any(r[5] == "cosine" and r[6] is not None and r[6] < 0.99 for r in single_rows.rows)
    # the bytes: the Jacobian on the shared parameters at each measured step; a gradient-level
    # strategy aggregates that one, so its own exchange happens only at the other steps
    shared = sum(p.numel() for p in trainer.model.shared_parameters())
    sent = trainer.group.sent
    assert sent["diagnostics"] == (STEPS // every) * 3 * shared * 8
    expected = (STEPS - STEPS // every) * 3 * shared * 8 if weighting == "upgrad" else 0
    assert sent["jacobian"] == expected


@pytest.mark.parametrize("weighting", ["gradnorm", "upgrad"])
@pytest.mark.usefixtures("float64")
def test_batch_norm_with_two_ranks_normalises_over_the_global_batch(
    table: Path, weighting: str
) -> None:
    def config(workers: int) -> ExperimentConfig:
        raw = make_config(table, weighting, workers).to_dict()
        raw["model"]["batch_norm"] = True
        return ExperimentConfig.from_dict(raw)

    one = config(1)
    data = prepare(one)
    single = Trainer(one, data).fit()
    trainer = launch(config(2), data, dtype=torch.float64)
    parallel = trainer.fit()
    assert single.status == parallel.status == "finished"
    assert max_difference(single.model, parallel.model) < 1e-5
    # the running statistics too (buffers), and the metrics evaluated with them
    one_state, two_state = single.model.state_dict(), parallel.model.state_dict()
    running = [k for k in one_state if k.endswith(("running_mean", "running_var"))]
    assert running  # the trunk's [16, 8] layers and the heads' [4] layers have batch norm
    for key in running:
        assert float((one_state[key] - two_state[key]).abs().max()) < 1e-8, key
        start = 0.0 if key.endswith("running_mean") else 1.0  # a fresh layer's statistics
        assert float((one_state[key] - start).abs().max()) > 1e-3, key
    tracked = [k for k in two_state if k.endswith("num_batches_tracked")]
    assert [int(two_state[k]) for k in tracked] == [STEPS] * len(running[::2])
    for task, values in single.summary["test"].items():
        assert parallel.summary["test"][task] == pytest.approx(values, rel=1e-6), task


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.usefixtures("float64")
def test_global_batch_norm_of_one_rank_is_torch_batch_norm_2d(momentum: float | None) -> None:
    """With one rank (a sum over ranks that is the identity), the layer is torch's own:
    outputs, input and parameter gradients, running statistics (4-D input: image models)."""
    torch.manual_seed(0)
    reference = torch.nn.BatchNorm2d(3, momentum=momentum)
    with torch.no_grad():
        reference.weight.uniform_(0.5, 1.5)
        reference.bias.uniform_(-0.5, 0.5)
    layer = copy.deepcopy(reference)
    sums: list[int] = []

    def reduce(tensor: torch.Tensor) -> torch.Tensor:
        sums.append(tensor.numel())
        return tensor

    assert normalise_over_ranks(torch.nn.Sequential(layer), reduce) == 1
    for _ in range(3):
        x = torch.randn(5, 3, 4, 4) * 2 + 1
        x_ref, x_new = x.clone().requires_grad_(), x.clone().requires_grad_()
        target = torch.randn(5, 3, 4, 4)
        out_ref, out_new = reference(x_ref), layer(x_new)
        assert torch.allclose(out_new, out_ref, atol=1e-10)
        ((out_ref * target).sum()).backward()
        ((out_new * target).sum()).backward()
        assert x_ref.grad is not None and x_new.grad is not None
        assert torch.allclose(x_new.grad, x_ref.grad, atol=1e-10)
    for new, ref in [(layer.weight, reference.weight), (layer.bias, reference.bias)]:
        assert new.grad is not None and ref.grad is not None
        assert torch.allclose(new.grad, ref.grad, atol=1e-10)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.allclose(getattr(layer, name), getattr(reference, name), atol=1e-12), name
    assert sums == [2 * 3 + 1, 2 * 3] * 3  # (Σx, Σx², n) forward, (Σ∂y, Σ∂y·x̂) backward
    layer.eval()  # evaluation: the running statistics, nothing exchanged
    x = torch.randn(2, 3, 4, 4)
    assert torch.allclose(layer(x), reference.eval()(x), atol=1e-12)
    assert len(sums) == 6
