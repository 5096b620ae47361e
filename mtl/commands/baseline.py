"""``python -m mtl baseline RUN``: the run's single-task baseline (reused or trained) and Δm."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from mtl.errors import EXIT_DIVERGED, EXIT_FAILED
from mtl.runs.status import ACTIVE, RunStatus
from mtl.runs.store import RunStore
from mtl.study.baseline import ensure_baseline, find_baseline, run_config, run_delta
from mtl.study.delta import FORMULA, DeltaM, describe_metrics


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the ``baseline`` subcommand."""
    p = sub.add_parser(
        "baseline",
        parents=[parents["home"], parents["json"], parents["limit"]],
        help="train (or reuse) a run's single-task baseline and print Δm",
        description="Reuse a finished run that matches RUN's single-task counterpart (the "
        "`independent` architecture with the same data, tasks, encoder and training settings) "
        "or train one, then print Δm and each task's relative change. See docs/delta_m.md.",
    )
    p.add_argument("run_id", metavar="RUN", help="the multi-task run")
    p.add_argument(
        "--detach",
        action="store_true",
        help="train the baseline in a background worker and return at once",
    )
    p.add_argument(
        "--split", choices=("test", "val"), default="test", help="metrics compared (default test)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_baseline)


def cmd_baseline(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    run = store.get_run(args.run_id)  # unknown run: one-line error before anything else
    callbacks: list[Any] = []
    if (
        not (args.detach or args.quiet)
        and find_baseline(store, run_config(store, args.run_id)) is None
    ):
        from mtl.train.progress import ProgressBar  # imports torch: only when training here

        callbacks.append(ProgressBar())
    baseline = ensure_baseline(
        store, args.run_id, detach=args.detach, max_running=args.max_running, callbacks=callbacks
    )
    how = "reused" if baseline.reused else ("launched" if args.detach else "trained")
    delta: DeltaM | None = None
    note: str | None = None
    if baseline.status != RunStatus.FINISHED:
        if baseline.status in ACTIVE:
            note = (
                f"baseline {baseline.run_id} is {baseline.status}; when it has finished, "
                f"`python -m mtl baseline {args.run_id}` prints Δm"
            )
        else:
            error = store.get_run(baseline.run_id)["error"]
            note = f"baseline {baseline.run_id} ended {baseline.status}" + (
                f": {error}" if error else ""
            )
    else:
        current = store.get_run(args.run_id)
        if (current["summary"] or {}).get(args.split):
            delta = run_delta(store, args.run_id, baseline.run_id, split=args.split)
        else:
            note = (
                f"run {args.run_id} is {current['status']}; Δm needs its final {args.split} metrics"
            )

    if args.json:
        print(
            json.dumps(
                {
                    "run_id": args.run_id,
                    "baseline": {
                        "run_id": baseline.run_id,
                        "status": baseline.status,
                        "reused": baseline.reused,
                    },
                    "delta_m": None if delta is None else delta.to_dict(),
                    "note": note,
                }
            )
        )
    else:
        print(f"run {args.run_id}  {run['name']}")
        print(f"baseline {baseline.run_id}  ({how}, {baseline.status})")
        if delta is not None:
            print()
            print(format_delta(delta))
        if note:
            print(f"\n{note}")
    if baseline.status == RunStatus.DIVERGED:
        print(
            f"error: the baseline diverged: {store.get_run(baseline.run_id)['error']}",
            file=sys.stderr,
        )
        return EXIT_DIVERGED
    if baseline.status not in (RunStatus.FINISHED, RunStatus.QUEUED, RunStatus.RUNNING):
        return EXIT_FAILED
    return 0


def format_delta(delta: DeltaM) -> str:
    """Δm, each task's change and its metrics, and the formula, as text lines."""
    lines = []
    if delta.value is None:
        lines.append(f"Δm undefined: {delta.excluded}")
    else:
        lines.append(
            f"Δm = {delta.value:+.2f}% on the {delta.split or 'test'} split "
            f"(the multi-task run is {delta.verdict} its single-task baseline)"
        )
    for task in delta.tasks:
        head = f"  {task.task}: " + ("left out" if task.change is None else f"{task.change:+.2f}%")
        parts = []
        for m in task.metrics:
            if m.change is None:
                parts.append(f"{m.metric} left out: {m.excluded}")
            else:
                parts.append(f"{m.metric} {m.baseline:.4g} → {m.model:.4g} ({m.change:+.2f}%)")
        detail = "; ".join(parts) if parts else (task.excluded or "")
        lines.append(f"{head}  [{detail}]" if detail else head)
    metrics = describe_metrics()
    lines.append(
        f"\n{FORMULA}\n(s = +1 higher-is-better, −1 lower-is-better; metrics {metrics}; "
        "a baseline value of 0 leaves that metric out; see docs/delta_m.md)"
    )
    return "\n".join(lines)
