"""``python -m mtl study transfer CONFIG --target TASK`` and ``python -m mtl study stop STUDY_ID``.

``study transfer`` queues the data-efficiency study (:mod:`mtl.study.transfer`) through the
run store and its workers, then (unless ``--detach``) waits with a progress line and prints,
per method and label fraction, the target's test metric (mean ± std over seeds), the cost,
and the negative-transfer flags. Ctrl-C while waiting leaves the runs going; ``study stop``
stops every run of the study.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import pandas as pd

from mtl.commands._executor import add_executor_args, ray_options
from mtl.commands._study import study_commands
from mtl.commands.run import load_config
from mtl.runs.scheduler import dispatch
from mtl.runs.store import RunStore
from mtl.study.sweeps import get_sweep
from mtl.study.sweeps.stop import stop_sweep
from mtl.study.transfer import (
    DEFAULT_FRACTIONS,
    DEFAULT_SEEDS,
    KIND,
    MIN_VERDICT_SEEDS,
    launch_transfer_study,
    parse_fractions,
    study_results,
    summarize,
)
from mtl.viz.labels import metric_label
from mtl.viz.transfer import verdict

POLL_S = 0.5


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the ``transfer`` and ``stop`` subcommands of ``study``."""
    shared = [parents["home"], parents["json"], parents["limit"]]
    kinds = study_commands(sub)
    p = kinds.add_parser(
        "transfer",
        parents=shared,
        help="single vs multi-task vs transfer on a target task, per share of its labels",
    )
    p.add_argument("config", nargs="?", help="YAML or JSON config file (with every task)")
    p.add_argument("--preset", help="preset name instead of a config file")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)"
    )
    p.add_argument("--target", required=True, help="the task whose labels are made scarce")
    p.add_argument(
        "--fractions",
        default=",".join(f"{f:g}" for f in DEFAULT_FRACTIONS),
        help="shares of the target's training labels, e.g. 0.05,0.25,1 or 5%%,25%%,100%% "
        "(default %(default)s)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"seeds per point (default %(default)s; ≥ {MIN_VERDICT_SEEDS} for a verdict: one seed "
        "has no spread to judge a difference against)",
    )
    p.add_argument(
        "--detach", action="store_true", help="queue the runs and return; print the study id"
    )
    add_executor_args(p)
    p.set_defaults(handler=cmd_transfer)
    p = kinds.add_parser("stop", parents=shared, help="stop every queued or running run of a study")
    p.add_argument("study_id", help="the study (or sweep) id")
    p.set_defaults(handler=cmd_stop)


def cmd_transfer(args: argparse.Namespace) -> int:
    config = load_config(args)
    fractions = parse_fractions(args.fractions)
    ray = ray_options(args)
    store = RunStore(args.home)
    study_id = launch_transfer_study(
        store, config, args.target, fractions, args.seeds, args.max_running, ray=ray
    )
    if args.detach:
        print(json.dumps({"study_id": study_id}) if args.json else study_id)
        return 0
    print(f"study {study_id}: queued in {store.home}", file=sys.stderr)
    try:
        _wait(store, study_id, args.max_running)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the study's runs keep going; `python -m mtl study stop {study_id}` stops them",
            file=sys.stderr,
        )
        return 130
    summary = summarize(study_results(store, study_id))
    if args.json:
        print(json.dumps(study_json(study_id, summary)))
    else:
        print(study_text(summary))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    record = get_sweep(store, args.study_id, what="study or sweep")
    ended = stop_sweep(store, args.study_id)
    if args.json:
        print(
            json.dumps({"study_id": record["id"], "stopped": {k: str(v) for k, v in ended.items()}})
        )
    else:
        print(f"{len(ended)} runs of {record['id']} stopped")
    return 0


def _wait(store: RunStore, study_id: str, max_running: int | None) -> None:
    """Poll the store (and advance the queue) until no run of the study is queued or running."""
    last = ""
    while True:
        dispatch(store, max_running)
        results = study_results(store, study_id)
        pending = results.attrs["pending"]
        line = f"study: {int(results['value'].notna().sum())}/{len(results)} finished, {pending} pending"
        if line != last:
            print(line, file=sys.stderr, flush=True)
            last = line
        if not pending:
            return
        time.sleep(POLL_S)


def _number(value: Any) -> float | None:
    return (
        None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
    )


def study_json(study_id: str, summary: pd.DataFrame) -> dict[str, Any]:
    """The ``--json`` object: ``results`` has one entry per method and fraction."""
    metric = summary.attrs.get("metric")
    return {
        "study_id": study_id,
        "kind": KIND,
        "target": summary.attrs.get("target"),
        "results": [
            {
                "method": row.method,
                "fraction": float(row.fraction),
                "metric": metric,
                "mean": _number(row.mean),
                "std": _number(row.std),
                "n": int(row.n),
                "cost_s": _number(row.cost_s),
                "vs_single": _number(row.vs_single),
                "negative_transfer": bool(row.negative),
            }
            for row in summary.itertuples(index=False)
        ],
        "verdicts": {m: verdict(summary, m) for m in ("mtl", "transfer")},
    }


def study_text(summary: pd.DataFrame) -> str:
    """The table the command prints: mean ± std per method and fraction, cost, flags, verdicts."""
    metric = metric_label(summary.attrs.get("metric", "loss"))
    lines = [f"{summary.attrs.get('target')}: test {metric}, mean ± std over seeds"]
    lines.append(f"{'method':<10}{'labels':>8}{'mean ± std':>20}{'cost (s)':>10}  vs single")
    single_n = summary[summary.method == "single"].set_index("fraction")["n"]
    for row in summary.itertuples(index=False):
        judged = min(row.n, single_n.get(row.fraction, 0)) >= MIN_VERDICT_SEEDS
        flag = (
            ""
            if row.method == "single"
            else "better"
            if row.better
            else "NEGATIVE TRANSFER"
            if row.negative
            else "within spread"
            if judged
            else "no spread (1 seed)"
        )
        lines.append(
            f"{row.method:<10}{row.fraction:>8.0%}{f'{row.mean:.4f} ± {row.std:.4f}':>20}"
            f"{row.cost_s:>10.1f}  {flag}"
        )
    lines += [f"{m}: {verdict(summary, m)}" for m in ("mtl", "transfer")]
    return "\n".join(lines)
