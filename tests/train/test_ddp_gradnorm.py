"""Data-parallel GradNorm: 2 gloo ranks train exactly like 1 process with the same global batch.

GradNorm's weights follow the per-task gradient norms on the last shared layer; each rank
holds only its share of those gradients, so the ranks sum them (one all-reduce of T × |W|
values per step) before taking the norms. Rank 1 is spawned, rank 0 is this process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from test_ddp import STEPS, make_config, make_frame, max_difference

from mtl.config import ExperimentConfig
from mtl.data.prepare import prepare
from mtl.train.callbacks import History
from mtl.train.distributed import launch
from mtl.train.trainer import Trainer
from mtl.weighting.strategies.gradnorm import GradNorm

pytestmark = pytest.mark.usefixtures("one_thread", "float64")


@pytest.fixture
def float64() -> Iterator[None]:
    """Train in float64, so that the only differences left are summation orders."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


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
