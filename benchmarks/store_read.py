"""How fast the dashboard can read runs from a big store.

Fills a run store with 1,000,000 metric rows across 100 runs (each run: steps x tasks x
splits x metrics, plus its loss weights), then times the two reads a live view makes:

(a) the incremental read of a live run: the ~50 rows appended since the last poll;
(b) the full read of one run's curves (all its 10,000 rows).

Targets: (a) <= 20 ms, (b) <= 200 ms (median over the repetitions). Exit status 1 if a
target is missed.

    python benchmarks/store_read.py                  # in a temporary folder
    python benchmarks/store_read.py --home /tmp/big  # keep the filled store
    python benchmarks/store_read.py --interleave     # runs written in turns, as when
                                                     # several train at once
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mtl.runs.store import RunStore  # noqa: E402

RUNS = 100
STEPS = 500
TASKS = ("price", "category")
SPLITS = ("train", "val")
METRICS = ("loss", "accuracy", "f1", "mae", "r2")
ROWS_PER_RUN = STEPS * len(TASKS) * len(SPLITS) * len(METRICS)  # 10,000
NEW_ROWS = 50  # rows appended between two polls of a live run

INCREMENTAL_TARGET_MS = 20.0
FULL_TARGET_MS = 200.0


def metric_rows(steps: range, t0: float) -> list[tuple]:
    """Realistic rows: every logged step has a value per task x split x metric."""
    rows = []
    for step in steps:
        wall = t0 + 0.05 * step
        for task in TASKS:
            for split in SPLITS:
                for i, metric in enumerate(METRICS):
                    value = 1.0 / (1 + step) + 0.01 * i
                    rows.append((step, step // 50, wall, task, split, metric, value, None))
    return rows


def fill(store: RunStore, interleave: bool) -> list[str]:
    """Create the runs and write their rows with executemany, one transaction per batch."""
    run_ids = [store.create_run(f"bench-{i:03d}", {"seed": i}) for i in range(RUNS)]
    t0 = time.time()
    chunks = 10 if interleave else 1  # interleave: each run in 10 turns, round-robin
    per_chunk = STEPS // chunks
    for chunk in range(chunks):
        steps = range(chunk * per_chunk, (chunk + 1) * per_chunk)
        for run_id in run_ids:
            store.add_metrics(run_id, metric_rows(steps, t0))
            store.add_weights(run_id, [(s, s // 50, t0, t, 1.0) for s in steps for t in TASKS])
    return run_ids


def median_ms(samples: list[float]) -> float:
    return 1000.0 * statistics.median(samples)


def verdict(value_ms: float, target_ms: float) -> str:
    return "PASS" if value_ms <= target_ms else "FAIL"


def bench(home: Path, repeat: int, interleave: bool) -> bool:
    store = RunStore(home)
    if not store.list_runs().empty:
        raise SystemExit(f"{home} already holds runs; give an empty or new --home")

    start = time.perf_counter()
    run_ids = fill(store, interleave)
    fill_s = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in home.glob("store.sqlite*")) / 1e6
    layout = "interleaved, 10 turns per run" if interleave else "one transaction per run"
    print(
        f"store_read: {RUNS * ROWS_PER_RUN:,} metric rows in {RUNS} runs "
        f"({STEPS} steps x {len(TASKS)} tasks x {len(SPLITS)} splits x {len(METRICS)} "
        f"metrics; {layout}); filled in {fill_s:.1f} s, {size_mb:.0f} MB"
    )

    reader = RunStore(home)  # a separate store object, as the dashboard would have
    live = run_ids[RUNS // 2]
    store.set_status(live, "running")
    last_id = int(reader.metrics(live)["id"].max())
    step = STEPS
    incremental = []
    for _ in range(repeat):
        new = metric_rows(range(step, step + 3), time.time())[:NEW_ROWS]
        step += 3
        store.add_metrics(live, new)
        t = time.perf_counter()
        frame = reader.metrics(live, after_id=last_id)
        incremental.append(time.perf_counter() - t)
        assert len(frame) == NEW_ROWS, len(frame)
        last_id = int(frame["id"].iloc[-1])

    full = []
    curves = run_ids[RUNS // 3]
    for _ in range(repeat):
        t = time.perf_counter()
        frame = reader.metrics(curves)
        full.append(time.perf_counter() - t)
        assert len(frame) == ROWS_PER_RUN, len(frame)

    cold = RunStore(home)  # first read on a brand-new connection
    t = time.perf_counter()
    cold.metrics(run_ids[-1])
    cold_ms = 1000 * (time.perf_counter() - t)

    inc_ms, full_ms = median_ms(incremental), median_ms(full)
    print(
        f"(a) incremental read, {NEW_ROWS} new rows of a live run, median of {repeat}: "
        f"{inc_ms:7.2f} ms  (target <= {INCREMENTAL_TARGET_MS:.0f} ms)  "
        f"{verdict(inc_ms, INCREMENTAL_TARGET_MS)}"
    )
    print(
        f"(b) full read of one run's curves, {ROWS_PER_RUN:,} rows, median of {repeat}: "
        f"{full_ms:7.2f} ms  (target <= {FULL_TARGET_MS:.0f} ms)  "
        f"{verdict(full_ms, FULL_TARGET_MS)}"
    )
    print(f"    (first full read on a new connection: {cold_ms:.2f} ms)")
    return inc_ms <= INCREMENTAL_TARGET_MS and full_ms <= FULL_TARGET_MS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="fill this (empty) folder and keep it")
    parser.add_argument("--repeat", type=int, default=30, help="repetitions (>= 20)")
    parser.add_argument("--interleave", action="store_true", help="write runs in turns")
    args = parser.parse_args(argv)
    if args.repeat < 20:
        parser.error(f"--repeat must be >= 20, found {args.repeat}")
    if args.home is not None:
        ok = bench(args.home, args.repeat, args.interleave)
    else:
        with tempfile.TemporaryDirectory(prefix="mtl-store-bench-") as tmp:
            ok = bench(Path(tmp), args.repeat, args.interleave)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
