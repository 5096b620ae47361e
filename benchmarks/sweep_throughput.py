"""Sweep throughput, runs per minute: the local executor vs the Ray executor, side by side.

Starts a private one-node Ray cluster (127.0.0.1, a free port; stopped at the end by its own
session, see tests/ray_support.py), then runs the same sweep through the real CLI,
``python -m mtl sweep SPEC --max-running M --json``, once per executor per round, alternating
which goes first, each into a fresh store. Timed: from the command's start until it returns,
i.e. every run of the sweep has ended (validating and queueing included, and so is the
store's Ray driver: each sweep's fresh store starts its own, which connects and warms its
actors; the cluster's own start-up is not: a cluster is started once and serves many sweeps).
Before timing, one Ray run warms the cluster up (the first Ray worker of a cluster takes
seconds longer than the next ones). After each Ray sweep its driver is stopped, outside the
timing, so its idle warm actors do not hold the cluster's CPUs during the next sweep.

Target: Ray >= 0.8x local on this machine, where Ray can only add overhead (one driver process
per store, a warm Ray worker per concurrent run, rows and files shipped through Ray instead of
written in place). Exit status 1 if missed or if a run did not finish.

    python benchmarks/sweep_throughput.py                  # 6 runs of 60 epochs, 2 at a time
    python benchmarks/sweep_throughput.py --runs 8 --epochs 10   # tiny runs: start-up bound
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from ray_support import local_ray_cluster  # noqa: E402

from mtl.runs.ray_drivers import stop_drivers  # noqa: E402
from mtl.runs.store import RunStore  # noqa: E402

TARGET = 0.8


def sweep_spec(folder: Path, runs: int, epochs: int) -> Path:
    path = folder / "sweep.yaml"
    path.write_text(
        f"name: throughput\nbase: seed-example\noverrides: {{train.epochs: {epochs}}}\n"
        f"seeds: {list(range(runs))}\n",
        encoding="utf-8",
    )
    return path


def timed_sweep(
    spec: Path, home: Path, executor: str, max_running: int, env: dict[str, str]
) -> tuple[float, dict]:
    """Wall seconds of one sweep through the CLI, and its JSON report."""
    argv = [sys.executable, "-m", "mtl", "sweep", str(spec), "--json"]
    argv += ["--max-running", str(max_running), "--executor", executor]
    start = time.perf_counter()
    result = subprocess.run(
        argv, cwd=REPO, env=dict(env, MTL_HOME=str(home)), capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    stop_drivers(home)  # not timed: a store's driver outlives its sweep until it is idle
    if result.returncode != 0:
        raise SystemExit(f"{executor} sweep failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, json.loads(result.stdout)


def per_run_seconds(home: Path) -> tuple[float, float]:
    """Median seconds per run of the sweep in ``home``: training (the trainer's own
    ``duration_s``) and the rest (claimed → ended minus training: starting a process or
    handing the run to an actor, imports, data preparation, shipping, recording)."""
    runs = RunStore(home).list_runs()
    training = [s["duration_s"] for s in runs["summary"]]
    rest = [
        e - b - t for e, b, t in zip(runs["ended_at"], runs["started_at"], training, strict=True)
    ]
    return statistics.median(training), statistics.median(rest)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="runs per sweep (seeds)")
    parser.add_argument("--epochs", type=int, default=60, help="epochs per run (seed-example)")
    parser.add_argument("--max-running", type=int, default=2, help="runs at a time")
    parser.add_argument("--rounds", type=int, default=2, help="timed sweeps per executor")
    args = parser.parse_args()

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(OMP_NUM_THREADS="1", MTL_WARM_WORKER="0", MTL_SUPERVISOR="0")
    rates: dict[str, list[float]] = {"local": [], "ray": []}
    with (
        tempfile.TemporaryDirectory(prefix="mtl-throughput-") as tmp,
        local_ray_cluster(num_cpus=args.max_running) as address,
    ):
        folder = Path(tmp)
        env["RAY_ADDRESS"] = address
        spec = sweep_spec(folder, args.runs, args.epochs)
        (folder / "warm").mkdir()
        warm = sweep_spec(folder / "warm", 1, 1)
        timed_sweep(warm, folder / "warm-home", "ray", 1, env)  # the cluster's first driver
        for round_ in range(args.rounds):
            order = ("local", "ray") if round_ % 2 == 0 else ("ray", "local")
            for executor in order:
                seconds, report = timed_sweep(
                    spec, folder / f"{executor}-{round_}", executor, args.max_running, env
                )
                finished = report["progress"]["finished"]
                if finished != args.runs:
                    raise SystemExit(f"{executor}: {finished}/{args.runs} runs finished")
                rates[executor].append(args.runs / seconds * 60)
                training, rest = per_run_seconds(folder / f"{executor}-{round_}")
                print(
                    f"round {round_ + 1} {executor:>5}: {args.runs} runs in {seconds:6.1f} s "
                    f"= {rates[executor][-1]:5.2f} runs/min; per run (median) {training:4.1f} s "
                    f"training + {rest:4.1f} s the rest",
                    flush=True,
                )

    print()
    print(
        f"sweep throughput: seed-example, {args.epochs} epochs per run, {args.runs} runs, "
        f"{args.max_running} at a time, {args.rounds} rounds; one-node Ray cluster on 127.0.0.1 "
        f"({os.cpu_count()} cores, shared)"
    )
    print()
    print("| executor | median runs/min | min | max |")
    print("|----------|----------------:|----:|----:|")
    for name, values in rates.items():
        print(
            f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | {max(values):.2f} |"
        )
    ratio = statistics.median(rates["ray"]) / statistics.median(rates["local"])
    verdict = "ok" if ratio >= TARGET else "FAIL"
    print()
    print(f"ratio ray / local = {ratio:.2f} (target >= {TARGET}): {verdict}")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
