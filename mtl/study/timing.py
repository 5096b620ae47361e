"""How long a run will take, measured before launch: time a few real training steps (torch).

:func:`estimate` prepares the config's data exactly as the worker will, trains the real
model for at least twenty steps and one second (after a few warm-up steps), and
extrapolates with the mean step time::

    seconds ≈ preparation + epochs × (steps per epoch × seconds per step + epoch overhead)

The epoch overhead (training metrics, the validation pass, keeping the best weights) is
taken from the epochs the timing run completed, or, when no epoch ended within the timed
steps (a large table), from one evaluation pass over the training and validation rows.
Early stopping may end a run sooner: the figure is for the full ``train.epochs``.
"""

from __future__ import annotations

import math
import statistics
import time
from itertools import pairwise
from typing import Any

from mtl.config import ExperimentConfig
from mtl.data.prepare import prepare
from mtl.study.estimate import Estimate
from mtl.train.callbacks import Callback
from mtl.train.trainer import Trainer

__all__ = ["MIN_TIMED_S", "TIMED_STEPS", "WARMUP_STEPS", "estimate"]

TIMED_STEPS = 20
"""Steps whose duration is measured (after :data:`WARMUP_STEPS`)."""
WARMUP_STEPS = 3
"""First steps left out of the timing (allocations, lazy initialisation)."""
MIN_TIMED_S = 1.0
"""Fast steps are timed for at least this long (up to 10 × :data:`TIMED_STEPS` steps), so
that a stall on a busy machine does not decide the estimate."""


def estimate(
    config: ExperimentConfig, steps: int = TIMED_STEPS, warmup: int = WARMUP_STEPS
) -> Estimate:
    """Time ``steps`` training steps of ``config`` on its real data and extrapolate.

    Raises :class:`mtl.data.catalog.DataError` / :class:`mtl.config.ConfigError` for bad
    data or settings, and :class:`ValueError` when the timing run diverges before any
    step could be timed.
    """
    start = time.perf_counter()
    timed = config.with_overrides({"train.log_every": 1})
    data = prepare(timed)
    clock = _Clock(steps + warmup, max_steps=10 * steps + warmup)
    trainer = Trainer(timed, data, callbacks=[clock])
    prepare_seconds = time.perf_counter() - start
    steps_per_epoch = math.ceil(len(data.train) / config.train.batch_size)
    trainer.fit()
    durations = clock.step_durations()[warmup:] or clock.step_durations()
    if not durations:
        raise ValueError(
            "the timing run ended before a training step could be timed (did it diverge?); "
            "check the learning rate and the data"
        )
    overhead = clock.epoch_overheads()
    if overhead:
        epoch_overhead = statistics.fmean(overhead)
    else:  # no epoch ended within the timed steps: one evaluation pass stands in for it
        t0 = time.perf_counter()
        for split in ("train", "val"):
            if len(data.split(split)):
                trainer.evaluate(split)
        epoch_overhead = time.perf_counter() - t0
    step_seconds = statistics.fmean(durations)  # the mean: stalls (GC, a busy machine) count too
    epochs = config.train.epochs
    total = prepare_seconds + epochs * (steps_per_epoch * step_seconds + epoch_overhead)
    return Estimate(
        seconds=round(total, 3),
        prepare_seconds=round(prepare_seconds, 3),
        step_seconds=round(step_seconds, 6),
        epoch_overhead_seconds=round(epoch_overhead, 4),
        steps_per_epoch=steps_per_epoch,
        epochs=epochs,
        timed_steps=len(durations),
        rows={name: len(data.split(name)) for name in ("train", "val", "test")},
        early_stopping=config.train.early_stopping is not None,
    )


class _Clock(Callback):
    """A training callback that notes when each step and each epoch ends, and stops the
    trainer after ``limit`` steps once :data:`MIN_TIMED_S` have passed (or after
    ``max_steps``); ``train.log_every`` is 1, so every step reports."""

    def __init__(self, limit: int, max_steps: int) -> None:
        self.limit = limit
        self.max_steps = max_steps
        self.events: list[tuple[str, float]] = []  # ("start" | "step" | "epoch", perf_counter)
        self.steps = 0

    def on_run_start(self, trainer: Any, event: Any) -> None:
        self.events.append(("start", time.perf_counter()))

    def on_step(self, trainer: Any, event: Any) -> None:
        now = time.perf_counter()
        self.events.append(("step", now))
        self.steps += 1
        long_enough = now - self.events[0][1] >= MIN_TIMED_S
        if (self.steps > self.limit and long_enough) or self.steps > self.max_steps:
            trainer.request_stop("timing done")

    def on_epoch_end(self, trainer: Any, event: Any) -> None:
        self.events.append(("epoch", time.perf_counter()))

    def step_durations(self) -> list[float]:
        """Durations of steps that followed another step within the same epoch."""
        return [t - s for (a, s), (b, t) in pairwise(self.events) if a == b == "step"]

    def epoch_overheads(self) -> list[float]:
        """Time from an epoch's last step to its end event (metrics, validation)."""
        return [t - s for (a, s), (b, t) in pairwise(self.events) if a == "step" and b == "epoch"]
