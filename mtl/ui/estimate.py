"""The Experiment page's duration estimate, run in a child process (the UI never imports torch).

:func:`run_estimate` writes the config to a temporary file and runs
``python -m mtl estimate CONFIG --json`` (see :mod:`mtl.study.timing`); :func:`rough_steps`
is the instant, measurement-free size check that tells the page when to warn.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from mtl.config import ExperimentConfig

TIMEOUT_S = 300.0
LONG_RUN_S = 10 * 60
"""A run estimated longer than this gets a warning before launch."""
MANY_STEPS = 10_000
"""Training steps (epochs × steps per epoch) above which the page suggests an estimate."""


class EstimateError(ValueError):
    """The estimate could not be made; the message is one line, ready to show."""


def run_estimate(config: ExperimentConfig, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The estimate's JSON (``seconds``, ``step_seconds``, ``steps_per_epoch``…) for ``config``.

    Raises :class:`EstimateError` with the command's one-line ``error:`` message (bad data,
    bad settings) or when it takes longer than ``timeout`` seconds.
    """
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="mtl-estimate-") as folder:
        path = Path(folder) / "config.yaml"
        path.write_text(config.to_yaml(), encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "mtl", "estimate", str(path), "--json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise EstimateError(
                f"the estimate took longer than {timeout:.0f} s; the run would be very long"
            ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        raise EstimateError(
            errors[-1] if errors else f"the estimate failed (exit code {done.returncode})"
        )
    return dict(json.loads(done.stdout))


def rough_steps(config: ExperimentConfig, rows: int) -> int:
    """Training steps of the whole run for a table of ``rows`` rows, before any timing."""
    train_rows = max(1, round(rows * (1 - config.data.val_fraction - config.data.test_fraction)))
    return config.train.epochs * math.ceil(train_rows / config.train.batch_size)
