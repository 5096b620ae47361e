"""``python -m mtl …``: list datasets and presets, run experiments, manage recorded runs.

User errors (a bad config, bad data, an unknown run) print one line starting with
``error:`` on stderr and exit with code 2; no traceback. A run that diverges exits 3.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from mtl.config import ExperimentConfig
from mtl.config_docs import config_reference
from mtl.data import DATASETS
from mtl.data.catalog import describe
from mtl.errors import (  # re-exported: commands raise mtl.cli.UserError
    EXIT_DIVERGED,
    EXIT_USER_ERROR,
    USER_ERRORS,
    UserError,
    error_line,
)
from mtl.metric_names import HIGHER_IS_BETTER
from mtl.models import ARCHITECTURES
from mtl.runs.status import RunStatus
from mtl.weighting import WEIGHTINGS


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as err:
        # ValueError covers ConfigError, DataError and the other user errors of mtl.errors.
        print(error_line(err), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---- commands --------------------------------------------------------------------


def cmd_datasets(args: argparse.Namespace) -> int:
    infos = [describe(name) for name in DATASETS.names()]
    if args.json:
        print(json.dumps([info.__dict__ for info in infos], indent=2, default=list))
        return 0
    for info in infos:
        rows = "any" if info.rows is None else f"{info.rows:,}"
        shape = f", images {'×'.join(map(str, info.image_shape))}" if info.image_shape else ""
        print(f"{info.name:<14} {info.description}")
        print(f"{'':<14} rows: {rows}; features: {len(info.features)}{shape}; targets: {', '.join(info.targets) or 'you choose'}")
        if info.suggested_tasks:
            tasks = ", ".join(f"{t['name']} ({t['kind']})" for t in info.suggested_tasks)
            print(f"{'':<14} suggested tasks: {tasks}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from mtl import presets

    items = [{"name": n, "description": presets.description(n)} for n in presets.names()]
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        for item in items:
            print(f"{item['name']:<22} {item['description']}")
    return 0


def cmd_registry(args: argparse.Namespace) -> int:
    registry = ARCHITECTURES if args.command == "architectures" else WEIGHTINGS
    entries = registry.entries()
    if args.json:
        print(json.dumps([{"name": e.name, "description": e.description, "reference": e.reference} for e in entries],
                         indent=2))
    else:
        for e in entries:
            print(f"{e.name:<14} {e.description}\n{'':<14} {e.reference}")
    return 0


def cmd_config_docs(args: argparse.Namespace) -> int:
    sys.stdout.write(config_reference())
    return 0


def load_config(args: argparse.Namespace) -> ExperimentConfig:
    """The config from a file or a preset, with ``--set`` overrides applied."""
    from mtl import presets

    if bool(args.config) == bool(args.preset):
        raise UserError("give a config file or --preset NAME (one of them); `python -m mtl presets` lists presets")
    config = presets.load(args.preset) if args.preset else ExperimentConfig.load(args.config)
    if args.set:
        config = config.with_overrides(dict(_parse_override(item) for item in args.set))
    return config


def _parse_override(item: str) -> tuple[str, Any]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise UserError(f"--set {item!r}: write it as dotted.key=value, e.g. --set train.epochs=5")
    try:
        parsed = yaml.safe_load(value) if value else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def cmd_run(args: argparse.Namespace) -> int:
    from mtl.data.prepare import prepare
    from mtl.runs.launcher import launch
    from mtl.runs.store import RunStore
    from mtl.train.trainer import preflight

    config = load_config(args)
    data = prepare(config)  # bad data fails here, before anything is recorded
    preflight(config, data)  # so do a missing CUDA device and a model too large to allocate
    for warning in data.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    store = RunStore(args.home)
    if args.detach:
        run_id = launch(config, store, args.max_running)
        print(json.dumps({"run_id": run_id, "status": store.get_run(run_id)["status"]}) if args.json else run_id)
        return 0
    return _run_foreground(args, config, data, store)


def _run_foreground(args: argparse.Namespace, config: ExperimentConfig, data: Any, store: Any) -> int:
    import os

    from mtl.runs.worker import execute
    from mtl.train.progress import ProgressBar

    run_id = store.create_run(config.name, config.to_dict(), status=RunStatus.RUNNING, pid=os.getpid())
    callbacks = [] if args.quiet else [ProgressBar()]
    result = execute(store, run_id, config, data, callbacks)
    summary = dict(result.summary, run_id=run_id, output=str(store.run_dir(run_id)))
    error = store.get_run(run_id)["error"]
    if args.json:
        print(json.dumps(_json_summary(summary, error)))
    else:
        print(summary_table(summary))
        print(f"\nrun {run_id} {result.status}; files in {summary['output']}")
    if result.status == RunStatus.DIVERGED:
        print(f"error: the run diverged: {error}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _json_summary(summary: dict[str, Any], error: str | None) -> dict[str, Any]:
    out = {k: summary[k] for k in ("run_id", "name", "status", "epochs", "best_epoch", "duration_s", "output")}
    out["error"] = error
    out["test"] = _clean(summary.get("test", {}))
    out["val"] = _clean(summary.get("val", {}))
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_table(summary: dict[str, Any], split: str = "test") -> str:
    """Per-task metrics of one split as an aligned text table."""
    import pandas as pd

    metrics = summary.get(split) or {}
    if not metrics:
        return f"(no {split} metrics)"
    frame = pd.DataFrame({task: {k: v for k, v in values.items() if k != "undefined"} for task, values in metrics.items()}).T
    frame.index.name = f"{split} metrics"
    return frame.to_string(float_format=lambda v: f"{v:.4g}", na_rep="—")


def cmd_runs(args: argparse.Namespace) -> int:
    from mtl.runs.launcher import dispatch
    from mtl.runs.store import RunStore

    store = RunStore(args.home)
    dispatch(store, args.max_running)
    runs = store.list_runs(args.status)
    if args.json:
        print(runs.to_json(orient="records"))
        return 0
    if runs.empty:
        print(f"no runs in {store.home}")
        return 0
    table = runs[["id", "name", "status", "created_at", "started_at", "ended_at"]].copy()
    for column in ("created_at",):
        table[column] = _fmt_time(table[column])
    table["duration"] = [_fmt_duration(s, e) for s, e in zip(runs["started_at"], runs["ended_at"], strict=True)]
    print(table.drop(columns=["started_at", "ended_at"]).to_string(index=False))
    return 0


def _fmt_time(values: Any) -> Any:
    import pandas as pd

    return pd.to_datetime(values, unit="s").dt.strftime("%Y-%m-%d %H:%M:%S")


def _fmt_duration(start: float | None, end: float | None) -> str:
    if start is None or (isinstance(start, float) and math.isnan(start)):
        return "—"
    if end is None or (isinstance(end, float) and math.isnan(end)):
        return RunStatus.RUNNING
    return f"{end - start:.1f} s"


def cmd_show(args: argparse.Namespace) -> int:
    from mtl.runs.launcher import dispatch
    from mtl.runs.store import RunStore

    store = RunStore(args.home)
    dispatch(store, args.max_running)
    run = store.get_run(args.run_id)
    best = best_metrics(store, args.run_id)
    if args.json:
        print(json.dumps(_clean(dict(run, best=best)), default=str))
        return 0
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
            print(f"  {task}: " + ", ".join(f"{m}={v['value']:.4g} ({v['epoch']})" for m, v in metrics.items()))
    if run["summary"]:
        print("\nfinal:\n" + summary_table(run["summary"]))
    return 0


def best_metrics(store: Any, run_id: str, split: str = "val") -> dict[str, dict[str, dict[str, float]]]:
    """Best value (and its epoch) of each task metric on a split, from the stored curves."""
    frame = store.metrics(run_id)
    frame = frame[(frame["split"] == split) & frame["value"].notna()]
    best: dict[str, dict[str, dict[str, float]]] = {}
    for (task, metric), group in frame.groupby(["task", "metric"], sort=True):
        row = group.loc[group["value"].idxmax() if HIGHER_IS_BETTER.get(metric, False) else group["value"].idxmin()]
        best.setdefault(str(task), {})[str(metric)] = {"value": float(row["value"]), "epoch": int(row["epoch"])}
    return best


def cmd_stop(args: argparse.Namespace) -> int:
    from mtl.runs.launcher import stop
    from mtl.runs.store import RunStore

    status = stop(RunStore(args.home), args.run_id, args.grace)
    print(f"run {args.run_id}: {status}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from mtl.runs.store import RunStore

    store = RunStore(args.home)
    status = store.get_run(args.run_id)["status"]
    if status in (RunStatus.RUNNING, RunStatus.QUEUED) and not args.force:
        raise UserError(f"run {args.run_id} is {status}; stop it first (`python -m mtl stop {args.run_id}`) or use --force")
    store.delete_run(args.run_id, force=args.force)
    print(f"deleted run {args.run_id}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from mtl.runs.store import RunStore

    RunStore(args.home).export_csv(args.run_id, args.csv, raw=args.raw_csv)
    print(f"wrote {args.csv}")
    return 0


# ---- parser ----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=None, help="run store folder (default $MTL_HOME or ./mtl-runs)")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")
    limit = argparse.ArgumentParser(add_help=False)
    limit.add_argument("--max-running", type=int, default=None,
                       help="concurrency limit for launched runs (default $MTL_MAX_RUNNING or 1)")

    parser = argparse.ArgumentParser(prog="python -m mtl", description="MTL Lab: multi-task learning experiments.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("datasets", parents=[as_json], help="list the dataset catalog")
    p.set_defaults(handler=cmd_datasets)
    p = sub.add_parser("presets", parents=[as_json], help="list one-click presets")
    p.set_defaults(handler=cmd_presets)
    for name, text in (("architectures", "list sharing architectures"), ("weightings", "list loss weightings")):
        p = sub.add_parser(name, parents=[as_json], help=text)
        p.set_defaults(handler=cmd_registry)
    p = sub.add_parser("config-docs", help="print the config reference (markdown)")
    p.set_defaults(handler=cmd_config_docs)

    p = sub.add_parser("run", parents=[common, as_json, limit], help="train from a config file or a preset")
    p.add_argument("config", nargs="?", help="YAML or JSON config file")
    p.add_argument("--preset", help="preset name instead of a config file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    p.add_argument("--detach", action="store_true", help="train in a background worker; print the run id")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("runs", parents=[common, as_json, limit], help="list recorded runs")
    p.add_argument("--status", help="only runs with this status")
    p.set_defaults(handler=cmd_runs)
    p = sub.add_parser("show", parents=[common, as_json, limit], help="a run's config, status and metrics")
    p.add_argument("run_id")
    p.set_defaults(handler=cmd_show)
    p = sub.add_parser("stop", parents=[common], help="stop a queued or running run")
    p.add_argument("run_id")
    p.add_argument("--grace", type=float, default=10.0, help="seconds to wait before terminating the worker")
    p.set_defaults(handler=cmd_stop)
    p = sub.add_parser("delete", parents=[common], help="delete a run and its files")
    p.add_argument("run_id")
    p.add_argument("--force", action="store_true", help="also delete a queued or running run")
    p.set_defaults(handler=cmd_delete)
    p = sub.add_parser("export", parents=[common], help="write a run's metrics (long form) as CSV")
    p.add_argument("run_id")
    p.add_argument("--csv", required=True, help="output file")
    p.add_argument("--raw-csv", action="store_true", help="keep cells that start with = + - @ as they are (no ' prefix)")
    p.set_defaults(handler=cmd_export)

    from mtl.commands import add_all

    add_all(sub, {"home": common, "json": as_json, "limit": limit})
    return parser


__all__ = ["UserError", "main"]
