"""How big a study is before it starts: its run count at once, its duration once measured.

The count comes from the same functions the launch uses (:func:`mtl.study.transfer.study_configs`,
:func:`mtl.study.verdict.plan`), so it cannot drift from what Start queues. The duration is
the estimate of one run (:class:`mtl.ui.estimate.EstimateJob`: a child process times a few
real steps, the dashboard never imports torch) times the runs, divided by how many run at
once. The estimate is taken once per data and model setup, at a fixed number of epochs, and
scaled to the epochs asked for, so changing the seeds, shares or epochs needs no new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from mtl.config import ExperimentConfig
from mtl.runs.scheduler import default_max_running
from mtl.study.estimate import format_duration
from mtl.study.transfer import study_configs
from mtl.study.verdict import VerdictOptions, plan, trial_settings
from mtl.ui.estimate import EstimateError, EstimateJob
from mtl.viz.labels import markdown_text

__all__ = [
    "TIMED_EPOCHS",
    "run_seconds",
    "show_study_size",
    "size_text",
    "transfer_run_count",
    "verdict_run_count",
]

TIMED_EPOCHS = 100
"""Epochs of the config the estimate times (enough steps to time on a small table); the
result is scaled to the study's epochs by :func:`run_seconds`."""


def transfer_run_count(
    config: ExperimentConfig, target: str, fractions: Sequence[float], seeds: int
) -> tuple[int, int]:
    """``(runs, pretraining runs)`` a transfer study queues: the grid (counted apart, as the
    page's progress line counts it) and one pretraining run per seed.

    Raises:
        SweepError: the same bad target or seed count the launch refuses.
    """
    pretrain, grid = study_configs(config, target, fractions, seeds)
    return len(grid), len(pretrain)


def verdict_run_count(config: ExperimentConfig, options: VerdictOptions) -> tuple[int, int]:
    """``(runs, baselines)`` a verdict queues: every method and front run over the seeds,
    and one single-task baseline per setting and seed (fewer when some are reused).

    Raises:
        SweepError: the same bad options the launch refuses.
    """
    checked = options.checked()
    runs = plan(config, checked, "size")
    settings = trial_settings(config, checked.budget, checked.search_seed)
    return len(runs), len(settings) * len(checked.seeds)


def run_seconds(estimate: Mapping[str, Any], epochs: int) -> float:
    """One run's seconds at ``epochs`` from an estimate's JSON (taken at any epoch count).

    With ``wall_seconds`` (:meth:`EstimateJob.poll`), the part of the estimate's own process
    that was neither preparation nor timed steps (starting Python, importing torch) is added:
    each run's worker pays it too, unless a warm spare took it (then the figure is high).
    """
    per_epoch = (
        estimate["steps_per_epoch"] * estimate["step_seconds"] + estimate["epoch_overhead_seconds"]
    )
    timed = estimate["prepare_seconds"] + estimate.get("timed_steps", 0) * estimate["step_seconds"]
    start = max(0.0, estimate.get("wall_seconds", timed) - timed)
    return float(start + estimate["prepare_seconds"] + epochs * per_epoch)


def size_text(
    runs: int,
    extra: int,
    seconds_per_run: float | None,
    at_once: int,
    *,
    extra_name: str = "single-task baseline",
    early_stopping: bool = False,
    problem: str | None = None,
) -> str:
    """``This starts 45 runs and 3 pretraining runs (about 9 min 36 s at this machine's speed,
    1 at a time).``

    Args:
        runs: the study's runs; ``extra``: the runs it needs first, named apart as
            ``extra_name`` (singular; its baselines or pretraining runs).
        seconds_per_run: one run's estimated seconds; ``None`` while it is being measured.
        at_once: how many runs train at the same time.
        early_stopping: the runs may stop sooner (the figure is then an upper bound).
        problem: why there is no estimate (one line), if it failed.
    """
    count = f"{runs} runs" + (
        f" and {extra} {extra_name}{'s' if extra != 1 else ''}" if extra else ""
    )
    if problem is not None:
        return f"This starts {count} (no duration estimate: {problem})."
    if seconds_per_run is None:
        return f"This starts {count} (measuring this machine's speed…)."
    total = (runs + extra) * seconds_per_run / max(1, at_once)
    bound = "at most about" if early_stopping else "about"
    return (
        f"This starts {count} ({bound} {format_duration(total)} at this machine's speed, "
        f"{at_once} at a time)."
    )


def _job(key: str, config: ExperimentConfig) -> EstimateJob:
    """This session's estimate for ``config``'s data and model, started on first asking."""
    timed = config.with_overrides({"train.epochs": TIMED_EPOCHS, "train.early_stopping": None})
    digest = hashlib.sha256(timed.to_yaml().encode()).hexdigest()[:16]
    jobs: dict[str, EstimateJob] = st.session_state.setdefault(f"{key}.estimates", {})
    if digest not in jobs:
        jobs[digest] = EstimateJob(timed)
    return jobs[digest]


def show_study_size(
    key: str, config: ExperimentConfig, runs: int, extra: int, extra_name: str
) -> None:
    """A caption under a study's form: the run count now, the duration once measured (the
    caption refreshes itself every second until then, and polls nothing after)."""
    job = _job(key, config)
    epochs = config.train.epochs
    early = config.train.early_stopping is not None

    def text() -> tuple[str, bool]:
        """The caption, and whether the estimate is still running."""
        try:
            estimate = job.poll()
        except EstimateError as err:
            return size_text(
                runs, extra, None, at_once, extra_name=extra_name, problem=str(err)
            ), False
        seconds = None if estimate is None else run_seconds(estimate, epochs)
        shown = size_text(
            runs, extra, seconds, at_once, extra_name=extra_name, early_stopping=early
        )
        return shown, seconds is None

    at_once = default_max_running()
    first, pending = text()

    @st.fragment(run_every=1.0 if pending else None)
    def caption() -> None:
        shown, still = text() if pending else (first, False)
        st.caption(markdown_text(shown))
        if pending and not still:  # measured: one full run, and the page stops polling
            st.rerun()

    caption()
