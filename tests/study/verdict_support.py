"""A verdict whose runs are written straight into the store with chosen metrics (no training),
so its numbers can be checked against a hand computation and its page drawn quickly."""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from mtl import presets
from mtl.runs.store import RunStore
from mtl.study.verdict import VerdictOptions, start_verdict

# per role and seed: (rmse, mae) of both tasks; step seconds
BASELINE = {0: (1.0, 0.8), 1: (1.2, 0.9), 2: (1.1, 1.0)}


def fake_verdict(
    store: RunStore,
    metrics: Callable[[dict, int], tuple[float, float]],
    step_s: Callable[[dict], float],
    options: VerdictOptions | None = None,
    baseline: Callable[[int, int], tuple[float, float]] | None = None,
) -> str:
    """Queue a verdict on synthetic-related, then finish every run with ``metrics(settings,
    seed)`` as both tasks' (rmse, mae) (baselines: :data:`BASELINE`) and ``step_s(settings)``
    seconds per step over 100 steps; ``baseline(trial, seed)`` overrides the baselines'."""
    options = options or VerdictOptions(
        seeds=(0, 1, 2), budget=2, methods=("equal", "pcgrad"), weights=2
    )
    base = presets.load("synthetic-related")
    verdict_id = start_verdict(store, base, options, start=False, validate_data=False)
    record = (store.home / "sweeps" / f"{verdict_id}.json").read_text()
    data = json.loads(record)
    entries = [
        ({"role": "baseline", "trial": b["trial"]}, b["seed"], b["id"]) for b in data["baselines"]
    ]
    entries += [(r["settings"], r["seed"], r["id"]) for r in data["runs"]]
    for settings, seed, run_id in entries:
        if settings["role"] != "baseline":
            rmse, mae = metrics(settings, seed)
        elif baseline is not None:
            rmse, mae = baseline(settings["trial"], seed)
        else:
            rmse, mae = BASELINE[seed]
        split = {t: {"rmse": rmse, "mae": mae, "r2": 1 - rmse / 2} for t in ("y1", "y2")}
        seconds = step_s(settings) * 100
        store.claim_next(1000)  # queued → running, as a worker would
        store.set_pid(run_id, os.getpid())
        store.set_status(
            run_id,
            "finished",
            summary={"steps": 100, "duration_s": seconds, "val": split, "test": split},
        )
    return verdict_id
