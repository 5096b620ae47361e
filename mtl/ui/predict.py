"""Predictions for the dashboard, made by the CLI in a subprocess: the Streamlit process
never loads a model (nor torch), and the UI shows exactly what ``python -m mtl predict``
writes for the same run and file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


class PredictError(ValueError):
    """The CLI refused the input; the message is its one-line explanation."""


def predict_upload(home: Path, run_id: str, csv: bytes, timeout_s: float = 300) -> tuple[pd.DataFrame, list[str]]:
    """Predict every task for an uploaded CSV with run ``run_id``; the table and the warnings."""
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "input.csv", Path(folder) / "predictions.csv"
        source.write_bytes(csv)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        done = subprocess.run(
            [sys.executable, "-m", "mtl", "predict", run_id, "--csv", str(source), "--out", str(target),
             "--home", str(home), "--json"],
            capture_output=True, text=True, env=env, timeout=timeout_s, stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
            raise PredictError(lines[-1].removeprefix("error: ") if lines else done.stderr.strip()[-500:])
        report = json.loads(done.stdout)
        table = pd.read_csv(target, dtype=str)  # labels stay as written ("0" stays "0")
    return table, list(report.get("warnings", []))
