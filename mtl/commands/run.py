"""``python -m mtl run``: train from a config file or a preset, in this process or detached.

Torch and scikit-learn are imported when the command runs, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import yaml

from mtl import presets
from mtl.commands._executor import add_executor_args, ray_options
from mtl.config import ExperimentConfig
from mtl.errors import EXIT_DIVERGED, EXIT_FAILED, EXIT_OK, UserError
from mtl.runs.lineage import source_checkpoint
from mtl.runs.scheduler import dispatch, launch
from mtl.runs.status import TERMINAL, RunStatus
from mtl.runs.store import RunStore
from mtl.runs.worker import execute
from mtl.study.loss_scale import initial_losses, scale_warning


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add ``run``."""
    p = sub.add_parser(
        "run",
        parents=[parents["home"], parents["json"], parents["limit"]],
        help="train from a config file or a preset",
    )
    add_config_args(p)
    p.add_argument(
        "--detach", action="store_true", help="train in a background worker; print the run id"
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="train with N data-parallel processes (sets train.workers; docs/scale.md)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_executor_args(p)
    p.set_defaults(handler=cmd_run)


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """Add the experiment config arguments :func:`load_config` reads: ``CONFIG`` (a file) or
    ``--preset NAME``, and ``--set KEY=VALUE`` overrides."""
    parser.add_argument("config", nargs="?", help="YAML or JSON config file")
    parser.add_argument("--preset", help="preset name instead of a config file")
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)"
    )


def load_config(args: argparse.Namespace) -> ExperimentConfig:
    """The config from a file or a preset, with ``--set`` overrides applied (and ``--workers``
    for the commands that have it)."""
    if bool(args.config) == bool(args.preset):
        raise UserError(
            "give a config file or --preset NAME (one of them); `python -m mtl presets` lists presets"
        )
    config = presets.load(args.preset) if args.preset else ExperimentConfig.load(args.config)
    overrides = dict(_parse_override(item) for item in args.set or [])
    workers = getattr(args, "workers", None)  # `run` has --workers; the studies do not
    if workers is not None:
        overrides["train.workers"] = workers
    if overrides:
        config = config.with_overrides(overrides)
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
    from mtl.data.prepare import prepare  # scikit-learn: only when the command runs
    from mtl.train.trainer import preflight  # torch: only when the command runs

    config = load_config(args)
    ray = ray_options(args)  # an unreachable cluster fails here, before anything is recorded
    data = prepare(config)  # bad data fails here, before anything is recorded
    store = RunStore(args.home)
    source = config.model.init_from
    checkpoint = None if source is None else source_checkpoint(store, source)
    # so do a missing CUDA device, a model too large to allocate and a source that does not fit
    preflight(config, data, checkpoint)
    for warning in data.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if (scale := scale_warning(initial_losses(data, config.loss.huber_delta))) is not None:
        print(f"warning: {scale}", file=sys.stderr)
    store = RunStore(args.home)
    if ray is not None and not args.detach:  # trains on the cluster; wait for it here
        run_id = launch(config, store, args.max_running, ray=ray)
        if not args.quiet:
            print(
                f"run {run_id} queued on Ray ({ray.address or 'a local instance'})", file=sys.stderr
            )
        return _wait_for_run(args, store, run_id, lambda: dispatch(store, args.max_running))
    if args.detach:
        run_id = launch(config, store, args.max_running, ray=ray)
        print(
            json.dumps({"run_id": run_id, "status": store.get_run(run_id)["status"]})
            if args.json
            else run_id
        )
        return EXIT_OK
    return _run_foreground(args, config, data, store)


def _run_foreground(
    args: argparse.Namespace, config: ExperimentConfig, data: Any, store: Any
) -> int:
    from mtl.train.progress import ProgressBar  # torch: only when training in this process

    run_id = store.create_run(
        config.name, config.to_dict(), status=RunStatus.RUNNING, pid=os.getpid()
    )
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
    return EXIT_OK


def _wait_for_run(
    args: argparse.Namespace, store: Any, run_id: str, advance: Callable[[], object]
) -> int:
    """Wait until the launched run ``run_id`` ends, calling ``advance`` (the scheduler's
    dispatch: it marks a dead driver's run, starts queued runs) meanwhile; print its summary."""
    while (run := store.get_run(run_id))["status"] not in TERMINAL:
        advance()
        time.sleep(0.5)
    summary = dict(run["summary"] or {}, run_id=run_id, output=str(store.run_dir(run_id)))
    summary.update(status=run["status"], name=run["name"])
    if args.json:
        summary.setdefault("epochs", None)
        summary.setdefault("best_epoch", None)
        summary.setdefault("duration_s", None)
        print(json.dumps(_json_summary(summary, run["error"])))
    else:
        print(summary_table(summary))
        print(f"\nrun {run_id} {run['status']}; files in {summary['output']}")
    if run["status"] == RunStatus.DIVERGED:
        print(f"error: the run diverged: {run['error']}", file=sys.stderr)
        return EXIT_DIVERGED
    return EXIT_OK if run["status"] == RunStatus.FINISHED else EXIT_FAILED


def _json_summary(summary: dict[str, Any], error: str | None) -> dict[str, Any]:
    out = {
        k: summary[k]
        for k in ("run_id", "name", "status", "epochs", "best_epoch", "duration_s", "output")
    }
    out["error"] = error
    out["test"] = clean(summary.get("test", {}))
    out["val"] = clean(summary.get("val", {}))
    return out


def clean(value: Any) -> Any:
    """``value`` with NaN and infinite floats replaced by ``None`` (for JSON)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def summary_table(summary: dict[str, Any], split: str = "test") -> str:
    """Per-task metrics of one split as an aligned text table."""
    metrics = summary.get(split) or {}
    if not metrics:
        return f"(no {split} metrics)"
    frame = pd.DataFrame(
        {
            task: {k: v for k, v in values.items() if k != "undefined"}
            for task, values in metrics.items()
        }
    ).T
    frame.index.name = f"{split} metrics"
    return frame.to_string(float_format=lambda v: f"{v:.4g}", na_rep="—")
