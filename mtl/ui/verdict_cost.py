"""How big a verdict is before it starts: its runs and about how long they take (pure).

Evaluate's one-click verdict trains many runs; the page shows this first and asks to confirm.
The time is read from the run the verdict starts from (same data, tasks, encoder and epochs):
its own training time per epoch, times the epochs of a verdict run, times the rounds of
runs the concurrency limit allows. Early stopping can only make it shorter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mtl.config import ExperimentConfig
from mtl.study.estimate import format_duration
from mtl.study.verdict import VerdictOptions, plan

__all__ = ["VerdictCost", "seconds_per_epoch", "verdict_cost"]


@dataclass(frozen=True)
class VerdictCost:
    """The size of a verdict.

    Attributes:
        baselines: single-task baseline runs at most (one per setting and seed; a matching
            finished or active baseline is reused instead).
        runs: the method and static-weight runs.
        epochs: epochs of each run (at most: early stopping may end it sooner).
        at_once: runs that train at the same time (the concurrency limit).
        seconds: about how long all of them take, or ``None`` when the source run's time
            is unknown.
    """

    baselines: int
    runs: int
    epochs: int
    at_once: int
    seconds: float | None

    @property
    def total(self) -> int:
        """Every run the verdict may queue."""
        return self.baselines + self.runs

    def describe(self) -> str:
        """One plain sentence: the count, the epochs and the time."""
        size = (
            f"This verdict trains up to {self.total} runs ({self.baselines} single-task "
            f"baselines and {self.runs} multi-task runs) of {self.epochs} epochs each"
        )
        if self.seconds is None:
            return size + "."
        return (
            f"{size}: about {format_duration(self.seconds)} here, {self.at_once} at a time "
            "(from this run's own training time)."
        )


def seconds_per_epoch(run: Mapping[str, Any]) -> float | None:
    """A finished run's training time per epoch (``started_at`` to ``ended_at`` over the
    epochs of its summary), or ``None`` when one of them is missing."""
    started, ended = run.get("started_at"), run.get("ended_at")
    epochs = (run.get("summary") or {}).get("epochs")
    if started is None or ended is None or not epochs:
        return None
    return max(0.0, float(ended) - float(started)) / int(epochs)


def verdict_cost(
    base: ExperimentConfig, options: VerdictOptions, run: Mapping[str, Any], at_once: int
) -> VerdictCost:
    """What :func:`mtl.study.verdict.start_verdict` would queue for ``base`` and ``options``,
    and about how long it takes with ``at_once`` runs at a time, timed by ``run`` (the
    store's row of the run the verdict starts from).

    Raises:
        SweepError: a method does not apply to ``base`` (as the verdict itself would).
    """
    options = options.checked()
    runs = len(plan(base, options, "verdict"))
    baselines = options.budget * len(options.seeds)
    per_epoch = seconds_per_epoch(run)
    rounds = math.ceil((runs + baselines) / max(1, at_once))
    seconds = None if per_epoch is None else rounds * per_epoch * base.train.epochs
    return VerdictCost(baselines, runs, base.train.epochs, max(1, at_once), seconds)
