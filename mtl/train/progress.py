"""A terminal progress bar (tqdm, on stderr) with the per-task losses."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm

from mtl.train.callbacks import Callback, EpochEnd, RunEnd, RunStart, StepEnd
from mtl.train.trainer import Trainer


class ProgressBar(Callback):
    """Shows steps done out of the planned total, the epoch and each task's loss."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar: tqdm | None = None
        self._shown = 0

    def on_run_start(self, trainer: Trainer, event: RunStart) -> None:
        # disable=None: no bar when stderr is not a terminal (logs, CI).
        self.bar = tqdm(
            total=event.steps_per_epoch * event.epochs,
            file=self.stream,
            unit="step",
            dynamic_ncols=True,
            leave=True,
            disable=None,
        )

    def on_step(self, trainer: Trainer, event: StepEnd) -> None:
        if self.bar is None:
            return
        self.bar.update(event.step - self._shown)
        self._shown = event.step
        losses = " ".join(f"{name}={value:.3g}" for name, value in event.losses.items())
        self.bar.set_description(f"epoch {event.epoch + 1}", refresh=False)
        self.bar.set_postfix_str(losses)

    def on_epoch_end(self, trainer: Trainer, event: EpochEnd) -> None:
        if self.bar is not None:
            self.bar.update(event.step - self._shown)
            self._shown = event.step

    def on_run_end(self, trainer: Trainer, event: RunEnd) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
