"""``python -m mtl sweep SWEEP.yaml`` and ``python -m mtl sweeps [SWEEP_ID]``.

``sweep`` validates the whole grid, queues it, and (unless ``--detach``) waits with a
progress line until every run has ended, then prints the mean ± std over seeds per
setting and the Pareto-optimal settings for two task metrics. Ctrl-C while waiting
leaves the runs queued or running. ``sweeps`` lists the sweeps of a store, or shows one.

With ``search: random | tpe | nsga2`` (or ``--search``), an Optuna driver process asks for
``--trials`` settings one by one instead; the summary is then the trials, the best trial (or
the Pareto front of several objectives) and the hyperparameter importance.
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
from mtl.runs.scheduler import dispatch
from mtl.runs.status import RunStatus
from mtl.runs.store import STATUSES, TERMINAL_STATUSES, RunStore
from mtl.study.sweeps import (
    DELTA_COLUMN,
    HEADLINE_METRICS,
    aggregate,
    default_pareto_metrics,
    delta_support,
    get_sweep,
    higher_is_better,
    is_done,
    launch_sweep,
    load_spec,
    metric_columns,
    metric_label,
    objective_column,
    pareto_front,
    progress,
    search_summary,
    sweep_runs,
    sweeps,
    trial_table,
)
from mtl.study.sweeps.spec import PRUNERS, SEARCHES, SweepError, SweepSpec

POLL_S = 0.5
# The order of the counts in the progress line: what is moving first, then how runs ended.
_PROGRESS_ORDER = (
    RunStatus.RUNNING,
    RunStatus.QUEUED,
    RunStatus.FINISHED,
    RunStatus.FAILED,
    RunStatus.DIVERGED,
    RunStatus.STOPPED,
    RunStatus.INTERRUPTED,
)


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add ``sweep`` and ``sweeps`` to the ``python -m mtl`` parser."""
    shared = [parents["home"], parents["json"], parents["limit"]]
    p = sub.add_parser(
        "sweep", parents=shared, help="queue a grid of runs from a sweep file and summarise it"
    )
    p.add_argument("spec", metavar="SWEEP.yaml", help="sweep spec (see docs/sweeps.md)")
    p.add_argument(
        "--detach", action="store_true", help="queue the runs and return; print the sweep id"
    )
    p.add_argument(
        "--baselines",
        action="store_true",
        help="also queue the missing single-task baselines, so Δm can be shown",
    )
    p.add_argument(
        "--search",
        choices=SEARCHES,
        help="override the spec's search: grid (every combination) or an Optuna search",
    )
    p.add_argument("--trials", type=int, help="override the number of trials a search asks for")
    p.add_argument(
        "--seeds",
        metavar="N",
        help="train each setting (a search: each trial) on seeds 0 … N-1; a search's trial "
        "value is the mean over them",
    )
    p.add_argument(
        "--pruning", choices=PRUNERS, help="override the search's pruning of hopeless trials"
    )
    add_executor_args(p)
    p.set_defaults(handler=cmd_sweep)

    p = sub.add_parser("sweeps", parents=shared, help="list sweeps, or show one sweep's results")
    p.add_argument(
        "sweep_id", nargs="?", help="show this sweep: progress, mean ± std per setting, Pareto set"
    )
    p.add_argument(
        "--wait", action="store_true", help="with SWEEP_ID: wait until its runs have ended"
    )
    p.set_defaults(handler=cmd_sweeps)


# ---- sweep -----------------------------------------------------------------------


def cmd_sweep(args: argparse.Namespace) -> int:
    seeds = _seed_count(args.seeds)  # a bad flag is named before the file is read
    spec = _with_flags(load_spec(args.spec), args, seeds)
    ray = ray_options(args)  # an unreachable cluster fails here, before anything is queued
    store = RunStore(args.home)
    sweep_id = launch_sweep(
        store, spec, args.max_running, baselines=args.baselines, ray=ray
    )  # validates first
    if args.detach:
        counts = progress(store, sweep_id)
        if args.json:
            print(json.dumps({"sweep_id": sweep_id, "name": spec.name, "progress": counts}))
        else:
            print(sweep_id)
        return 0
    if not args.json:
        counts = progress(store, sweep_id)
        extra = (
            f" (+ {counts['baselines_pending']} baselines)" if counts["baselines_pending"] else ""
        )
        print(
            f"sweep {sweep_id} ({spec.name}): {spec.size} runs{extra} queued in {store.home}",
            file=sys.stderr,
        )
    return _wait_and_report(args, store, sweep_id)


def _seed_count(text: str | None) -> int | None:
    """``--seeds N`` as a whole number ≥ 1 (``None`` when not given)."""
    if text is None:
        return None
    try:
        count = int(text)
    except ValueError:
        raise SweepError(f"--seeds takes a whole number of seeds ≥ 1, found {text!r}") from None
    if count < 1:
        raise SweepError(f"--seeds takes a whole number of seeds ≥ 1, found {count}")
    return count


def _with_flags(spec: SweepSpec, args: argparse.Namespace, seeds: int | None) -> SweepSpec:
    """The spec with ``--search``, ``--trials``, ``--pruning`` and ``--seeds`` (seeds 0 … N-1)
    applied (validated again)."""
    changes = {
        key: value
        for key, value in (
            ("search", args.search),
            ("trials", args.trials),
            ("pruning", args.pruning),
            ("seeds", None if seeds is None else list(range(seeds))),
        )
        if value is not None
    }
    return SweepSpec.from_dict({**spec.to_dict(), **changes}) if changes else spec


def _wait_and_report(args: argparse.Namespace, store: Any, sweep_id: str) -> int:
    try:
        _wait(store, sweep_id, args.max_running)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: the sweep's runs keep going in the background (queued or running); "
            f"`python -m mtl sweeps {sweep_id} --wait` waits again, `python -m mtl stop RUN` stops a run",
            file=sys.stderr,
        )
        return 130
    return _report(args, store, sweep_id)


def _wait(store: Any, sweep_id: str, max_running: int | None) -> None:
    """Poll the store (and advance the queue) until no run of the sweep is queued or running."""
    tty = sys.stderr.isatty()
    last = ""
    while True:
        dispatch(store, max_running)  # marks dead workers, starts queued runs if slots are free
        counts = progress(store, sweep_id)
        line = _progress_line(counts)
        if line != last:
            print(
                ("\r" + line + " " * max(0, len(last) - len(line))) if tty else line,
                end="" if tty else "\n",
                file=sys.stderr,
                flush=True,
            )
            last = line
        if is_done(counts):
            if tty:
                print(file=sys.stderr)
            return
        time.sleep(POLL_S)


def _progress_line(counts: dict[str, int]) -> str:
    parts = [f"{counts['done']}/{counts['total']} done"]
    parts += [f"{counts[s]} {s}" for s in _PROGRESS_ORDER if counts.get(s)]
    if counts.get("baselines_pending"):
        parts.append(f"{counts['baselines_pending']} baselines pending")
    return "sweep: " + ", ".join(parts)


# ---- report ------------------------------------------------------------------------


def sweep_report(store: Any, sweep_id: str) -> dict[str, Any]:
    """Everything the summary shows, as plain data: runs, aggregate, Pareto set, progress."""
    record = get_sweep(store, sweep_id)
    settings = list(record.get("settings", []))
    runs = sweep_runs(store, sweep_id)
    table = aggregate(runs, settings)
    pareto: dict[str, Any] | None = None
    metrics = default_pareto_metrics(runs)
    if metrics and not table.empty:
        a, b = metrics
        ha, hb = higher_is_better(a), higher_is_better(b)
        mask = pareto_front(table, f"{a} mean", f"{b} mean", ha, hb)
        pareto = {"metrics": [a, b], "higher_is_better": [ha, hb], "rows": table[mask]}
    note = delta_support()
    if note is None and runs[DELTA_COLUMN].isna().all():
        note = (
            "no finished single-task baseline (`independent`, same data, tasks and training settings) "
            "matches these runs; `python -m mtl sweep SWEEP.yaml --baselines` queues them"
        )
    return {
        "sweep_id": sweep_id,
        "name": record.get("name"),
        "settings": settings,
        "progress": progress(store, sweep_id),
        "runs": runs,
        "aggregate": table,
        "pareto": pareto,
        "delta_m_note": note,
        "tasks": runs.attrs.get("tasks", []),
        "search": search_summary(store, sweep_id) if record.get("search") else None,
    }


def _report(args: argparse.Namespace, store: Any, sweep_id: str) -> int:
    report = sweep_report(store, sweep_id)
    counts = report["progress"]
    if args.json:
        print(json.dumps(_json_report(report)))
    else:
        print(_text_report(report))
    search = report["search"]
    if search is not None and search["state"] != "done":
        why = f": {search['error']}" if search["error"] else ""
        print(
            f"warning: the search ended {search['state']}{why} after {counts['total'] - counts['pending']} "
            f"of its trials; its log is in {store.home / 'sweeps' / (sweep_id + '.log')}",
            file=sys.stderr,
        )
        return 1
    pruned = 0 if search is None else search["pruned_runs"]
    unfinished = counts["done"] - counts[RunStatus.FINISHED] - pruned
    if unfinished:
        print(
            f"warning: {unfinished} of {counts['total']} runs did not finish; "
            f"`python -m mtl sweeps {sweep_id}` lists them with their errors",
            file=sys.stderr,
        )
        return 1
    return 0


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_search(search: dict[str, Any]) -> dict[str, Any]:
    trials: pd.DataFrame = search["trials"]
    return {
        "state": search["state"],
        "error": search["error"],
        "method": search["method"],
        "pruning": search["pruning"],
        "objectives": search["objectives"],
        "higher_is_better": search["higher_is_better"],
        "trials": _records(trials),
        "best": None if search["best"] is None else _records(trials.loc[[search["best"]]])[0],
        "front": None if search["front"] is None else _records(trials[search["front"]]),
        "importance": search["importance"],
        "importance_note": search["importance_note"],
        "pruned": search["pruned"],
        "steps": search["steps"],
        "skipped": search["skipped"],
    }


def _json_report(report: dict[str, Any]) -> dict[str, Any]:
    head = {key: report[key] for key in ("sweep_id", "name", "settings", "progress")}
    head["runs"] = _records(report["runs"])
    if report["search"] is not None:
        return {**head, "search": _json_search(report["search"])}
    pareto = report["pareto"]
    return {
        **head,
        "aggregate": _records(report["aggregate"]),
        "pareto": None
        if pareto is None
        else {
            "metrics": pareto["metrics"],
            "higher_is_better": pareto["higher_is_better"],
            "settings": _records(pareto["rows"][report["settings"]]),
            "rows": _records(pareto["rows"]),
        },
        "delta_m_note": report["delta_m_note"],
    }


def _shown_metrics(report: dict[str, Any]) -> list[str]:
    """The headline metric of each task, plus Δm when it has values."""
    columns = metric_columns(report["runs"])
    shown = []
    for task, kind in report["tasks"]:
        headline = metric_label(task, HEADLINE_METRICS.get(kind or "", ""))
        mine = [c for c in columns if c.rsplit("/", 1)[0] == task]
        if headline in mine:
            shown.append(headline)
        elif mine:
            shown.append(next((c for c in mine if not c.endswith("/loss")), mine[0]))
    if report["runs"][DELTA_COLUMN].notna().any():
        shown.append(DELTA_COLUMN)
    return shown


def _pm(mean: Any, std: Any) -> str:
    if mean is None or pd.isna(mean):
        return "—"
    return f"{mean:.4g} ± {'—' if pd.isna(std) else f'{std:.2g}'}"


def _search_text(report: dict[str, Any]) -> str:
    """A search's summary: the trials, the best trial or the front, the importance."""
    search = report["search"]
    trials: pd.DataFrame = search["trials"]
    counts = report["progress"]
    objectives = search["objectives"]
    arrows = ", ".join(
        f"{o} {'↑' if h else '↓'}"
        for o, h in zip(objectives, search["higher_is_better"], strict=True)
    )
    seeds = len(search["seeds"])
    finished = int((trials["status"] == RunStatus.FINISHED).sum())
    on = f" on {seeds} seeds each (values: mean ± std over them)" if seeds > 1 else ""
    lines = [
        f"{search['method']} search {report['sweep_id']} ({report['name']}): "
        f"{finished}/{counts['total'] // seeds} trials finished{on}, {search['pruned']} pruned, "
        f"{search['steps']:.0f} training steps; objective on the validation split: {arrows}"
    ]
    column = objective_column(objectives[0])
    view = trial_table(trials, report["settings"], tests=False).copy()
    view["pruned"] = view["pruned"].map({True: "yes", False: ""})
    shown = view.to_string(index=False, float_format=lambda v: f"{v:.4g}")
    lines += ["", shown if len(view) else "no trials yet"]
    if search["best"] is not None:
        row = trials.loc[search["best"]]
        settings = " ".join(
            f"{k}={row[k]:.4g}" if isinstance(row[k], float) else f"{k}={row[k]}"
            for k in report["settings"]
        )
        if seeds > 1:
            runs, value = ", ".join(row["ids"]), _pm(row[column], row[f"{column} std"])
        else:
            runs, value = row["id"], f"{row[column]:.4g}"
        lines += ["", f"best trial: #{row['trial']} ({runs}) {column} = {value}: {settings}"]
    if search["front"] is not None:
        front = view[search["front"].to_numpy()]
        lines += [
            "",
            f"Pareto front (non-dominated trials): {len(front)} of {len(view)}",
            front.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
        ]
    for objective, shares in search["importance"].items():
        text = ", ".join(f"{k} {v:.2f}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))
        lines += ["", f"hyperparameter importance for {objective}: {text}"]
    for skipped in search["skipped"]:
        lines += ["", f"trial #{skipped['trial']} not trained: {skipped['error']}"]
    if search["importance_note"]:
        lines += ["", f"importance: {search['importance_note']}"]
    return "\n".join(lines)


def _text_report(report: dict[str, Any]) -> str:
    if report["search"] is not None:
        return _search_text(report)
    table: pd.DataFrame = report["aggregate"]
    settings = report["settings"]
    counts = report["progress"]
    lines = [
        f"sweep {report['sweep_id']} ({report['name']}): {counts[RunStatus.FINISHED]}/{counts['total']} runs finished"
    ]
    if table.empty:
        lines.append("(no finished runs to summarise)")
        return "\n".join(lines)
    shown = _shown_metrics(report)
    view = table[[*settings, "runs"]].copy()
    for metric in shown:
        view[metric] = [
            _pm(m, s) for m, s in zip(table[f"{metric} mean"], table[f"{metric} std"], strict=True)
        ]
    view = view.rename(columns={DELTA_COLUMN: "Δm (%)"})
    lines += [
        "",
        "mean ± std over seeds (test split; `--json` has every metric):",
        view.to_string(index=False),
    ]
    pareto = report["pareto"]
    if pareto is not None:
        (a, b), (ha, hb) = pareto["metrics"], pareto["higher_is_better"]
        arrows = f"{a} {'↑' if ha else '↓'}, {b} {'↑' if hb else '↓'}"
        rows = pareto["rows"]
        lines += [
            "",
            f"Pareto-optimal settings on ({arrows}, means over seeds): {len(rows)} of {len(table)}",
        ]
        lines.append(
            rows[[*settings, f"{a} mean", f"{b} mean"]].to_string(
                index=False, float_format=lambda v: f"{v:.4g}"
            )
        )
    if report["delta_m_note"]:
        lines += ["", f"Δm: not shown; {report['delta_m_note']}"]
    return "\n".join(lines)


# ---- sweeps ------------------------------------------------------------------------


def cmd_sweeps(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    if args.sweep_id:
        if args.wait:
            return _wait_and_report(args, store, args.sweep_id)
        dispatch(store, args.max_running)
        return _show(args, store, args.sweep_id)
    if args.wait:
        raise ValueError("--wait needs a SWEEP_ID; `python -m mtl sweeps` lists them")
    dispatch(store, args.max_running)
    frame = sweeps(store)
    if args.json:
        print(json.dumps(_records(frame)))
        return 0
    if frame.empty:
        print(f"no sweeps in {store.home}")
        return 0
    view = pd.DataFrame(
        {
            "id": frame["id"],
            "name": frame["name"],
            "created": pd.to_datetime(frame["created_at"], unit="s").dt.strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "runs": frame["runs"],
            "progress": [
                _progress_line(_with_totals(row)).removeprefix("sweep: ")
                for row in frame.to_dict("records")
            ],
            "settings": [", ".join(s) for s in frame["settings"]],
        }
    )
    print(view.to_string(index=False))
    return 0


def _with_totals(row: dict[str, Any]) -> dict[str, int]:
    counts = {s: int(row[s]) for s in STATUSES}
    counts["total"] = int(row["runs"])
    counts["done"] = sum(counts[s] for s in TERMINAL_STATUSES)
    return counts


def _show(args: argparse.Namespace, store: Any, sweep_id: str) -> int:
    report = sweep_report(store, sweep_id)
    if args.json:
        print(json.dumps(_json_report(report)))
        return 0
    print(_text_report(report))
    runs: pd.DataFrame = report["runs"]
    if runs.empty:
        print("\nruns: none yet")
        return 0
    view = runs[["id", "status", *report["settings"], "seed"]].copy()
    errors = runs["error"].fillna("")
    if errors.any():
        view["error"] = errors.str.slice(0, 80)
    print("\nruns:\n" + view.to_string(index=False))
    return 0
