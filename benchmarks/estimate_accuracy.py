"""How close ``python -m mtl estimate`` comes to the real training time.

For a few configs (a small table, a mid-size synthetic table, a larger one with a
gradient-level weighting), runs the estimate (about 20 timed steps) and then the full run
(``python -m mtl run --quiet --json``, early stopping off), each in its own process, and
prints side by side: the estimated training time (the estimate minus its preparation),
the run's measured training time (``duration_s``), their ratio, and how long the
estimate itself took. A ratio near 1.0 is the goal; the machine's load moves both.

    python benchmarks/estimate_accuracy.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "penguins 40 epochs": "name: b1\ndata: {dataset: penguins}\ntasks:\n"
    "  - {name: species, target: species, kind: multiclass}\n  - {name: mass, target: body_mass_g}\n"
    "train: {epochs: 40, batch_size: 32}\n",
    "synthetic 4k rows × 15 epochs": "name: b2\ndata: {dataset: synthetic, options: {samples: 4000, features: 32}}\n"
    "tasks:\n  - {name: y1, target: y1}\n  - {name: y2, target: y2}\n"
    "model: {hidden: [64, 32]}\ntrain: {epochs: 15, batch_size: 64}\n",
    "synthetic 10k rows × 5 epochs, pcgrad": "name: b3\ndata: {dataset: synthetic, options: {samples: 10000, features: 32}}\n"
    "tasks:\n  - {name: y1, target: y1}\n  - {name: y2, target: y2}\n"
    "model: {hidden: [128, 64]}\nloss: {weighting: pcgrad}\ntrain: {epochs: 5, batch_size: 64}\n",
}


def cli(*args: str, env: dict[str, str]) -> tuple[dict, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mtl", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), time.perf_counter() - start


def main() -> int:
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1")
    )
    print(
        f"{'config':<40} {'estimated s':>12} {'measured s':>11} {'ratio':>6} {'estimate took s':>16}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for label, text in CONFIGS.items():
            path = Path(folder) / "config.yaml"
            path.write_text(text, encoding="utf-8")
            estimate, took = cli("estimate", str(path), "--json", env=env)
            run, _ = cli(
                "run", str(path), "--quiet", "--json", "--home", str(Path(folder) / "home"), env=env
            )
            predicted = estimate["seconds"] - estimate["prepare_seconds"]
            measured = run["duration_s"]
            print(
                f"{label:<40} {predicted:>12.2f} {measured:>11.2f} {predicted / measured:>6.2f} {took:>16.1f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
