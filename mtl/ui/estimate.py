"""The Experiment page's duration estimate, run in a child process (the UI never imports torch).

:func:`run_estimate` writes the config to a temporary file and runs
``python -m mtl estimate CONFIG --json`` (see :mod:`mtl.study.timing`); :class:`EstimateJob`
runs the same command without waiting for it (the study pages); :func:`rough_steps`
is the instant, measurement-free size check that tells the page when to warn.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
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


def _command(config: ExperimentConfig, folder: Path) -> tuple[list[str], dict[str, str]]:
    """The ``python -m mtl estimate`` command for ``config`` (written into ``folder``), and its
    environment (this checkout first on the path)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    path = folder / "config.yaml"
    path.write_text(config.to_yaml(), encoding="utf-8")
    return [sys.executable, "-m", "mtl", "estimate", str(path), "--json"], env


def _parsed(returncode: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The command's JSON, or :class:`EstimateError` with its one-line ``error:`` message."""
    if returncode != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        raise EstimateError(
            errors[-1] if errors else f"the estimate failed (exit code {returncode})"
        )
    return dict(json.loads(stdout))


def run_estimate(config: ExperimentConfig, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """The estimate's JSON (``seconds``, ``step_seconds``, ``steps_per_epoch``…) for ``config``.

    Raises :class:`EstimateError` with the command's one-line ``error:`` message (bad data,
    bad settings) or when it takes longer than ``timeout`` seconds.
    """
    with tempfile.TemporaryDirectory(prefix="mtl-estimate-") as folder:
        command, env = _command(config, Path(folder))
        try:
            done = subprocess.run(
                command,
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
    return _parsed(done.returncode, done.stdout, done.stderr)


class EstimateJob:
    """:func:`run_estimate` in the background: started at once, asked with :meth:`poll`, so a
    page can show the rest of itself while the child process times the steps."""

    def __init__(self, config: ExperimentConfig) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="mtl-estimate-")
        command, env = _command(config, Path(self._folder.name))
        self._process = subprocess.Popen(  # output is a few hundred bytes: no pipe can fill
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self._started = time.monotonic()
        self._result: dict[str, Any] | None = None
        self._error: str | None = None

    @property
    def pid(self) -> int:
        """The child process's id."""
        return self._process.pid

    def poll(self) -> dict[str, Any] | None:
        """The estimate's JSON once the child has ended, else ``None`` (it never waits).

        The JSON gains ``wall_seconds``: the child's whole life as seen from here, process
        start and imports included.

        Raises:
            EstimateError: the estimate failed (its one-line message), every time it is asked.
        """
        if self._result is None and self._error is None:
            if self._process.poll() is None:
                return None
            wall = time.monotonic() - self._started  # seen ended at most one poll late
            stdout, stderr = self._process.communicate()
            self._folder.cleanup()
            try:
                self._result = _parsed(self._process.returncode, stdout, stderr)
            except EstimateError as err:
                self._error = str(err)
            else:  # a process's start (interpreter, torch) costs every run too
                self._result["wall_seconds"] = round(wall, 3)
        if self._error is not None:
            raise EstimateError(self._error)
        return self._result


def rough_steps(config: ExperimentConfig, rows: int) -> int:
    """Training steps of the whole run for a table of ``rows`` rows, before any timing."""
    train_rows = max(1, round(rows * (1 - config.data.val_fraction - config.data.test_fraction)))
    return config.train.epochs * math.ceil(train_rows / config.train.batch_size)
