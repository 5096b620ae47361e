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


def predict_upload(
    home: Path, run_id: str, csv: bytes, timeout_s: float = 300, filename: str = "the uploaded file"
) -> tuple[pd.DataFrame, list[str]]:
    """Predict every task for an uploaded CSV with run ``run_id``; the table and the warnings.

    An upload named ``*.zip`` is a zipped image folder for a model trained on images
    (``predict --images``: extracted safely by the CLI, ``labels.csv`` optional).
    ``filename`` is the name the user uploaded, used in messages instead of the server's
    temporary path."""
    images = str(filename).lower().endswith(".zip")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / ("input.zip" if images else "input.csv")
        target = Path(folder) / "predictions.csv"
        source.write_bytes(csv)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mtl",
                "predict",
                run_id,
                "--images" if images else "--csv",
                str(source),
                "--out",
                str(target),
                "--home",
                str(home),
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error: ")]
            message = lines[-1].removeprefix("error: ") if lines else done.stderr.strip()[-500:]
            raise PredictError(_without_paths(message, folder, filename))
        report = json.loads(done.stdout)
        table = pd.read_csv(target, dtype=str)  # labels stay as written ("0" stays "0")
    return table, [_without_paths(str(w), folder, filename) for w in report.get("warnings", [])]


def _without_paths(message: str, folder: str, filename: str) -> str:
    """The CLI's message with the user's file name instead of the server's temporary path
    (where the server kept the upload is no business of theirs)."""
    for path, name in (
        (Path(folder) / "input.csv", filename),
        (Path(folder) / "input.zip", filename),
        (Path(folder), "a temporary folder"),
    ):
        message = message.replace(str(path), name)
    return message
