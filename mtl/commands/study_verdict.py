"""``python -m mtl study verdict``: does multi-task learning help here, beyond seed noise?"""

from __future__ import annotations

import argparse
import json
import sys
import time

from mtl.commands._executor import add_executor_args, ray_options
from mtl.commands._study import study_commands
from mtl.commands.run import load_config
from mtl.errors import EXIT_OK, UserError
from mtl.runs.scheduler import dispatch
from mtl.runs.store import RunStore
from mtl.study.sweeps.results import is_done, progress
from mtl.study.verdict import (
    DEFAULT_METHODS,
    DEFAULT_SEEDS,
    MIN_SEEDS,
    VERDICT_SEARCHES,
    VerdictOptions,
    start_verdict,
    verdict_result,
)


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add ``study verdict``."""
    p = study_commands(sub).add_parser(
        "verdict",
        parents=[parents["home"], parents["json"], parents["limit"]],
        help="baselines, tuned equal weighting, a static-weight front and the picked methods "
        "over several seeds: does multi-task learning help, beyond seed noise?",
    )
    p.add_argument("config", nargs="?", help="YAML or JSON config file")
    p.add_argument("--preset", help="preset name instead of a config file")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)"
    )
    p.add_argument(
        "--budget", type=int, default=4, help="hyperparameter settings tried per method (4)"
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"seeds 0 … N-1 (N ≥ {MIN_SEEDS}; default {DEFAULT_SEEDS})",
    )
    p.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        metavar="NAME",
        help=f"weightings to compare (equal is always in; default {' '.join(DEFAULT_METHODS)})",
    )
    p.add_argument(
        "--weights", type=int, default=6, help="static weight vectors on the front (6; 0 = none)"
    )
    p.add_argument(
        "--search",
        choices=VERDICT_SEARCHES,
        default="random",
        help="how each method is tuned: the same random settings for all (random), or one "
        "Optuna TPE search per method (tpe); --budget settings either way",
    )
    p.add_argument("--detach", action="store_true", help="queue the runs and print the verdict id")
    add_executor_args(p)
    p.set_defaults(handler=cmd_verdict)


def cmd_verdict(args: argparse.Namespace) -> int:
    config = load_config(args)
    options = VerdictOptions(
        seeds=tuple(range(max(args.seeds, 0))),
        budget=args.budget,
        methods=tuple(args.methods),
        weights=args.weights,
        search=args.search,
    )
    ray = ray_options(args)
    store = RunStore(args.home)
    verdict_id = start_verdict(store, config, options, max_running=args.max_running, ray=ray)
    if args.detach:
        print(json.dumps({"verdict_id": verdict_id}) if args.json else verdict_id)
        return EXIT_OK
    shown = -1
    while not is_done(counts := progress(store, verdict_id)):
        total = counts["total"] + counts["baselines"]
        done = counts["done"] + counts["baselines"] - counts["baselines_pending"]
        if done != shown:
            print(f"verdict {verdict_id}: {done}/{total} runs done", file=sys.stderr)
            shown = done
        dispatch(store, args.max_running)
        time.sleep(0.5)
    result = verdict_result(store, verdict_id)
    if args.json:
        print(json.dumps(result))
        return EXIT_OK
    print(verdict_table(result))
    print()
    print("\n".join(result["verdict"]))
    return EXIT_OK


def verdict_table(result: dict) -> str:
    """One line per method: Δm and its interval, helps, the relative step time."""
    if not result["methods"]:
        raise UserError(f"verdict {result['id']}: no method finished a run on every seed")
    lines = [f"{'method':<14} {'Δm %':>8} {'95% interval':>20} {'helps':>6} {'cost':>6}"]
    for method, entry in result["methods"].items():
        d = entry["delta_m"]
        span = "—" if d["low"] is None else f"[{d['low']:+.2f}, {d['high']:+.2f}]"
        mean = "—" if d["mean"] is None else f"{d['mean']:+.2f}"
        cost = "—" if entry["relative_cost"] is None else f"{entry['relative_cost']:.2f}×"
        helps = {True: "yes", False: "no", None: "?"}[entry["helps"]]
        lines.append(f"{method:<14} {mean:>8} {span:>20} {helps:>6} {cost:>6}")
    return "\n".join(lines)
