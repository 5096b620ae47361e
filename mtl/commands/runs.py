"""``python -m mtl runs|show|stop|delete|export``: the recorded runs."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import pandas as pd
import yaml

from mtl.commands import add_force, add_raw_csv
from mtl.commands.run import clean, summary_table
from mtl.errors import EXIT_OK, UserError
from mtl.metric_names import HIGHER_IS_BETTER
from mtl.runs.output_file import check_output_path, protected_homes
from mtl.runs.scheduler import dispatch, stop
from mtl.runs.status import ACTIVE
from mtl.runs.store import RunStore


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the run-management commands."""
    p = sub.add_parser(
        "runs",
        parents=[parents["home"], parents["json"], parents["limit"]],
        help="list recorded runs",
    )
    p.add_argument("--status", help="only runs with this status")
    p.set_defaults(handler=cmd_runs)
    p = sub.add_parser(
        "show",
        parents=[parents["home"], parents["json"], parents["limit"]],
        help="a run's config, status and metrics",
    )
    p.add_argument("run_id")
    p.set_defaults(handler=cmd_show)
    p = sub.add_parser("stop", parents=[parents["home"]], help="stop a queued or running run")
    p.add_argument("run_id")
    p.add_argument(
        "--grace", type=float, default=10.0, help="seconds to wait before terminating the worker"
    )
    p.set_defaults(handler=cmd_stop)
    p = sub.add_parser("delete", parents=[parents["home"]], help="delete a run and its files")
    p.add_argument("run_id")
    p.add_argument("--force", action="store_true", help="also delete a queued or running run")
    p.set_defaults(handler=cmd_delete)
    p = sub.add_parser(
        "export", parents=[parents["home"]], help="write a run's metrics (long form) as CSV"
    )
    p.add_argument("run_id")
    p.add_argument("--csv", required=True, help="output file")
    add_raw_csv(p)
    add_force(p)
    p.set_defaults(handler=cmd_export)


def cmd_runs(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    dispatch(store, args.max_running)
    runs = store.list_runs(args.status)
    if args.json:
        print(runs.to_json(orient="records"))
        return EXIT_OK
    if runs.empty:
        print(f"no runs in {store.home}")
        return EXIT_OK
    table = runs[["id", "name", "status", "created_at", "started_at", "ended_at"]].copy()
    for column in ("created_at",):
        table[column] = _fmt_time(table[column])
    table["duration"] = [
        _fmt_duration(s, e) for s, e in zip(runs["started_at"], runs["ended_at"], strict=True)
    ]
    print(table.drop(columns=["started_at", "ended_at"]).to_string(index=False))
    return EXIT_OK


def _fmt_time(values: Any) -> Any:
    return pd.to_datetime(values, unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")


def _fmt_duration(start: float | None, end: float | None) -> str:
    if start is None or (isinstance(start, float) and math.isnan(start)):
        return "—"
    if end is None or (isinstance(end, float) and math.isnan(end)):
        return "running"  # no end yet
    return f"{end - start:.1f} s"


def cmd_show(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    dispatch(store, args.max_running)
    run = store.get_run(args.run_id)
    best = best_metrics(store, args.run_id)
    if args.json:
        print(json.dumps(clean(dict(run, best=best)), default=str))
        return EXIT_OK
    print(f"run {run['id']}  {run['name']}  status: {run['status']}")
    if run["error"]:
        print(f"error: {run['error']}")
    if run["tags"]:
        print(f"tags: {', '.join(run['tags'])}")
    if run["notes"]:
        print(f"notes: {run['notes']}")
    print("\nconfig:\n" + yaml.safe_dump(run["config"], sort_keys=False).rstrip())
    if best:
        print("\nbest validation values (epoch):")
        for task, metrics in best.items():
            print(
                f"  {task}: "
                + ", ".join(f"{m}={v['value']:.4g} ({v['epoch']})" for m, v in metrics.items())
            )
    if run["summary"]:
        print("\nfinal:\n" + summary_table(run["summary"]))
    return EXIT_OK


def best_metrics(
    store: Any, run_id: str, split: str = "val"
) -> dict[str, dict[str, dict[str, float]]]:
    """Best value (and its epoch) of each task metric on a split, from the stored curves."""
    frame = store.metrics(run_id)
    frame = frame[(frame["split"] == split) & frame["value"].notna()]
    best: dict[str, dict[str, dict[str, float]]] = {}
    for (task, metric), group in frame.groupby(["task", "metric"], sort=True):
        row = group.loc[
            group["value"].idxmax()
            if HIGHER_IS_BETTER.get(metric, False)
            else group["value"].idxmin()
        ]
        best.setdefault(str(task), {})[str(metric)] = {
            "value": float(row["value"]),
            "epoch": int(row["epoch"]),
        }
    return best


def cmd_stop(args: argparse.Namespace) -> int:
    status = stop(RunStore(args.home), args.run_id, args.grace)
    print(f"run {args.run_id}: {status}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    status = store.get_run(args.run_id)["status"]
    if status in ACTIVE and not args.force:
        raise UserError(
            f"run {args.run_id} is {status}; stop it first (`python -m mtl stop {args.run_id}`) or use --force"
        )
    store.delete_run(args.run_id, force=args.force)
    print(f"deleted run {args.run_id}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    out = check_output_path(
        args.csv,
        protected_homes(store.home),
        force=args.force,
        label="--csv",
        example="metrics.csv",
    )
    store.export_csv(args.run_id, out, raw=args.raw_csv)
    print(f"wrote {out}")
    return EXIT_OK
