"""Pruning: the same Optuna search with and without median pruning, side by side.

Runs one search spec twice through the real CLI (``python -m mtl sweep SPEC --json``), each
into a fresh store: once with ``pruning: none``, once with ``pruning: median``. Both use the
same sampler seed, trial budget and concurrency. Reports, from each store: the training steps
every trial took (summed from the runs' summaries, or their last metric row for a stopped
run), the trials pruned, the best validation objective, and the wall time; then the ratios.

Target: the pruned search takes <= 0.8x the steps of the unpruned one, with a best result
within 0.03 of it (the objective is a validation accuracy). Exit status 1 if missed.

    python benchmarks/pruning.py                        # TPE, 12 trials of 12 epochs, 2 at a time
    python benchmarks/pruning.py --trials 8 --epochs 8  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEP_RATIO = 0.8
BEST_GAP = 0.03


def spec_text(trials: int, epochs: int, pruning: str, search: str) -> str:
    """A search where many draws are hopeless: the learning rate spans five decades. Batches
    of 8 make an epoch long enough (about 90 steps) for a stop to land mid-run, as it would
    on real data; with epochs of a few milliseconds a trial ends before any pruner can act."""
    return (
        f"name: pruning-{pruning}\nbase: seed-example\n"
        f"overrides: {{train.epochs: {epochs}, train.batch_size: 8}}\n"
        f"search: {search}\ntrials: {trials}\npruning: {pruning}\n"
        "ranges:\n  train.lr: {low: 1.0e-6, high: 0.05, log: true}\n"
        "  model.dropout: {low: 0.0, high: 0.5}\n"
    )


def run_search(folder: Path, text: str, max_running: int) -> dict[str, object]:
    spec = folder / "search.yaml"
    spec.write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(REPO), MTL_HOME=str(folder / "home"), OMP_NUM_THREADS="1")
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtl",
            "sweep",
            str(spec),
            "--max-running",
            str(max_running),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"the search failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    search = json.loads(result.stdout)["search"]
    column = f"val {search['objectives'][0]}"
    return {
        "steps": search["steps"],
        "pruned": search["pruned"],
        "best": search["best"][column] if search["best"] else float("nan"),
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--max-running", type=int, default=2)
    parser.add_argument("--search", choices=("random", "tpe"), default="tpe")
    args = parser.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="mtl-pruning-") as tmp:
        for pruning in ("none", "median"):
            folder = Path(tmp) / pruning
            folder.mkdir()
            text = spec_text(args.trials, args.epochs, pruning, args.search)
            rows[pruning] = run_search(folder, text, args.max_running)
    off, on = rows["none"], rows["median"]
    print(
        f"{args.search} search, {args.trials} trials x {args.epochs} epochs, "
        f"{args.max_running} at a time (seed-example, batches of 8, lr 1e-6..0.05 log, dropout 0..0.5)"
    )
    print(f"{'':18}{'no pruning':>12}{'median pruning':>16}")
    print(f"{'training steps':18}{off['steps']:>12.0f}{on['steps']:>16.0f}")
    print(f"{'trials pruned':18}{off['pruned']:>12}{on['pruned']:>16}")
    print(f"{'best val accuracy':18}{off['best']:>12.4f}{on['best']:>16.4f}")
    print(f"{'wall time (s)':18}{off['seconds']:>12.1f}{on['seconds']:>16.1f}")
    ratio = on["steps"] / off["steps"]
    gap = off["best"] - on["best"]
    print(
        f"steps ratio (pruned / unpruned): {ratio:.2f} (target <= {STEP_RATIO}); "
        f"best gap: {gap:+.4f} (target <= {BEST_GAP})"
    )
    return 0 if ratio <= STEP_RATIO and gap <= BEST_GAP else 1


if __name__ == "__main__":
    raise SystemExit(main())
