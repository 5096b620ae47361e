"""Training events and the callback interface the trainer reports through.

Events flow one way: trainer → callbacks → store → UI. Events are plain, JSON-friendly
dataclasses; a callback overrides only the hooks it needs (each does nothing by default).
Metric rows are tuples ``(step, epoch, wall_time, task, split, metric, value, reason)``,
the long form the run store keeps and the charts plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mtl.train.diagnostics import DiagnosticsEnd
    from mtl.train.trainer import Trainer

MetricRow = tuple[int, int, float, str, str, str, float | None, str | None]
"""(step, epoch, wall_time, task, split, metric, value, reason)"""


@dataclass(frozen=True)
class RunStart:
    """Training is about to start."""

    config: dict[str, Any]
    tasks: list[dict[str, Any]]
    n_parameters: int
    steps_per_epoch: int
    epochs: int
    rows: dict[str, int]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StepEnd:
    """Every ``train.log_every`` steps: the mean task losses since the last report."""

    step: int
    epoch: int
    wall_time: float
    losses: dict[str, float]
    weights: dict[str, float]
    lr: float


@dataclass(frozen=True)
class EpochEnd:
    """After each epoch: losses and metrics per task and split, in long form."""

    step: int
    epoch: int
    wall_time: float
    rows: list[MetricRow]
    monitor: float
    improved: bool


@dataclass(frozen=True)
class RunEnd:
    """Training ended (any status); ``summary`` holds the final per-task metrics."""

    status: str
    summary: dict[str, Any]
    error: str | None = None


class Callback:
    """Base class: override the hooks you need. ``trainer.request_stop()`` ends training."""

    def on_run_start(self, trainer: Trainer, event: RunStart) -> None:
        """Called once before the first step."""

    def on_step(self, trainer: Trainer, event: StepEnd) -> None:
        """Called every ``train.log_every`` steps."""

    def on_epoch_end(self, trainer: Trainer, event: EpochEnd) -> None:
        """Called after each epoch's evaluation."""

    def on_run_end(self, trainer: Trainer, event: RunEnd) -> None:
        """Called once when training ends, whatever the status."""

    def on_diagnostics(self, trainer: Trainer, event: DiagnosticsEnd) -> None:
        """Called every ``train.diagnostics_every`` steps with task-conflict rows (opt-in)."""


class History(Callback):
    """Keeps every event in memory as plain data (for tests, notebooks and the CLI)."""

    def __init__(self) -> None:
        self.start: RunStart | None = None
        self.steps: list[StepEnd] = []
        self.epochs: list[EpochEnd] = []
        self.end: RunEnd | None = None

    def on_run_start(self, trainer: Trainer, event: RunStart) -> None:
        self.start = event

    def on_step(self, trainer: Trainer, event: StepEnd) -> None:
        self.steps.append(event)

    def on_epoch_end(self, trainer: Trainer, event: EpochEnd) -> None:
        self.epochs.append(event)

    def on_run_end(self, trainer: Trainer, event: RunEnd) -> None:
        self.end = event

    def rows(self) -> list[MetricRow]:
        """All epoch metric rows."""
        return [row for epoch in self.epochs for row in epoch.rows]
