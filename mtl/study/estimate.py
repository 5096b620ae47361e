"""How long a run will take: the estimate's figures and their one-line text (torch-free).

:func:`mtl.study.timing.estimate` measures it (a few real training steps, in a process
that may load torch); the Experiment page shows it with :func:`describe` and
:func:`format_duration`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Estimate", "describe", "format_duration"]


@dataclass(frozen=True)
class Estimate:
    """The predicted duration of a run and the figures it comes from (JSON-friendly)."""

    seconds: float  # the whole run: preparation + every epoch
    prepare_seconds: float  # loading and preprocessing the data, building the model
    step_seconds: float  # mean duration of one training step
    epoch_overhead_seconds: float  # metrics + validation after each epoch
    steps_per_epoch: int
    epochs: int
    timed_steps: int
    rows: dict[str, int]
    early_stopping: bool  # the run may stop sooner than ``seconds`` says

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)


def describe(result: Estimate) -> str:
    """One line for people: ``about 3 min 20 s (30 epochs × 420 steps × 4.1 ms + …)``."""
    text = (
        f"about {format_duration(result.seconds)} ({result.epochs} epochs × {result.steps_per_epoch} steps "
        f"× {result.step_seconds * 1000:.3g} ms + {result.epoch_overhead_seconds:.2g} s of validation per epoch; "
        f"{result.timed_steps} steps timed)"
    )
    return text + ("; early stopping may end it sooner" if result.early_stopping else "")


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 20 s``, ``1 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
