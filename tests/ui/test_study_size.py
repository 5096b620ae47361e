"""A study's size before it starts: the counts the launch queues, the duration arithmetic."""

from __future__ import annotations

import pytest

from mtl import presets
from mtl.errors import SweepError
from mtl.study.verdict import VerdictOptions
from mtl.ui.study_size import run_seconds, size_text, transfer_run_count, verdict_run_count


def test_counts_are_what_the_launch_queues() -> None:
    config = presets.load("synthetic-related")
    # one pretraining run per seed, then 3 methods per share and seed
    assert transfer_run_count(config, "y1", (0.5, 1.0), 2) == (2 * 2 * 3, 2)
    assert transfer_run_count(config, "y1", (0.05, 0.1, 0.25, 0.5, 1.0), 3) == (5 * 3 * 3, 3)
    options = VerdictOptions(
        seeds=(0, 1, 2), budget=1, methods=("pcgrad", "uncertainty"), weights=1
    )
    # equal is added: 3 methods × 1 setting × 3 seeds, 1 weight vector × 3 seeds; 1 × 3 baselines
    assert verdict_run_count(config, options) == (3 * 1 * 3 + 1 * 3, 1 * 3)
    with pytest.raises(SweepError):
        transfer_run_count(config, "nope", (0.5,), 1)
    with pytest.raises(SweepError):
        verdict_run_count(config, VerdictOptions(seeds=(0,)))


def test_duration_text() -> None:
    estimate = {
        "prepare_seconds": 3.0,
        "steps_per_epoch": 6,
        "step_seconds": 0.01,
        "epoch_overhead_seconds": 0.005,
    }
    assert run_seconds(estimate, 10) == pytest.approx(3.0 + 10 * (6 * 0.01 + 0.005))
    # the estimate's process lived 9 s: 3 s preparing, 20 × 0.01 s timed, the rest starting
    started = {**estimate, "timed_steps": 20, "wall_seconds": 9.0}
    assert run_seconds(started, 10) == pytest.approx(9.0 - 3.2 + 3.0 + 10 * 0.065)
    assert size_text(48, 0, 10.0, 2) == (
        "This starts 48 runs (about 4 min 00 s at this machine's speed, 2 at a time)."
    )
    assert size_text(12, 3, 20.0, 1, early_stopping=True) == (
        "This starts 12 runs and 3 single-task baselines (at most about 5 min 00 s at this "
        "machine's speed, 1 at a time)."
    )
    assert size_text(5, 0, None, 1) == "This starts 5 runs (measuring this machine's speed…)."
    assert size_text(6, 1, None, 1, extra_name="pretraining run").startswith(
        "This starts 6 runs and 1 pretraining run ("
    )
    assert "no duration estimate: bad data" in size_text(5, 0, None, 1, problem="bad data")
