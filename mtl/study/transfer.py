"""The data-efficiency study: single-task vs multi-task vs transfer, per share of target labels.

For each fraction of the target task's *training* labels (the other tasks keep all of
theirs) and each seed, three ordinary runs are queued through the scheduler:

- ``single``: the target alone;
- ``mtl``: every task of the config, the others as auxiliaries;
- ``transfer``: the target alone, initialised (``model.init_from``) from a run pretrained on
  the other tasks with that seed (one pretraining run per seed, shared by every fraction).

A study is a sweep: its record is ``<home>/sweeps/<id>.json`` (settings ``method`` and
``fraction``, the pretraining runs listed as the sweep's ``baselines``), every run carries the
tag ``sweep:<id>``, so the Sweeps page, ``python -m mtl sweeps`` and
:func:`mtl.study.sweeps.stop.stop_sweep` treat it like any other. :func:`study_results` reads the
target's test metric back from the store and :func:`summarize` gives mean ± std per method and
fraction, the cost, and flags negative transfer. Torch-free (the dashboard imports it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mtl.config import ExperimentConfig
from mtl.errors import SweepError
from mtl.metric_names import HEADLINE_METRICS, HIGHER_IS_BETTER
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import launch, max_running_limit
from mtl.runs.store import RunStore
from mtl.study.sweeps.launch import check_data
from mtl.study.sweeps.records import (
    get_sweep,
    new_sweep_id,
    read_records,
    sweep_tag,
    write_record,
)

__all__ = [
    "DEFAULT_FRACTIONS",
    "DEFAULT_SEEDS",
    "KIND",
    "METHODS",
    "MIN_VERDICT_SEEDS",
    "launch_transfer_study",
    "parse_fractions",
    "study_configs",
    "study_results",
    "summarize",
    "transfer_studies",
]

KIND = "transfer"
METHODS: tuple[str, ...] = ("single", "mtl", "transfer")
DEFAULT_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0)
DEFAULT_SEEDS = 3
MIN_VERDICT_SEEDS = 2
"""Finished seeds per point (for a method and for single-task) before a difference is judged
against the seed spread; with fewer the study shows the numbers and makes no claim."""
MAX_SEEDS = 20
STUDY_TAG = "transfer-study"


def parse_fractions(text: str) -> tuple[float, ...]:
    """``"0.05,0.1,25%"`` → ``(0.05, 0.1, 0.25)``, sorted and unique.

    Raises:
        SweepError: a value is not a number in (0, 1] (percentages in (0, 100]).
    """
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = float(part[:-1]) / 100 if part.endswith("%") else float(part)
        except ValueError:
            raise SweepError(f"shares of the target's labels: {part!r} is not a number") from None
        if not 0 < value <= 1 or math.isnan(value):
            raise SweepError(
                f"shares of the target's labels: {part!r} is outside (0, 1]; "
                "give shares like 0.05 or 5%"
            )
        values.append(value)
    if not values:
        raise SweepError("give at least one share of the target's labels, e.g. 0.05,0.25,1")
    return tuple(sorted(set(values)))


def _check(config: ExperimentConfig, target: str, fractions: Sequence[float], seeds: int) -> None:
    names = [t.name for t in config.tasks]
    if target not in names:
        raise SweepError(
            f"target task {target!r} is not a task of the config; choose one of: {', '.join(names)}"
        )
    if len(names) < 2:
        raise SweepError(
            "a transfer study needs at least two tasks: the target and one to learn from"
        )
    if not 1 <= seeds <= MAX_SEEDS:
        raise SweepError(f"seeds per point: {seeds} must be between 1 and {MAX_SEEDS}")
    if config.model.init_from is not None:
        raise SweepError("the study's config must not set model.init_from (the study sets it)")
    parse_fractions(",".join(str(f) for f in fractions))


def _variant(
    config: ExperimentConfig,
    name: str,
    tasks: list[str],
    seed: int,
    fraction: float | None,
    target: str,
) -> ExperimentConfig:
    data = config.to_dict()
    data["name"] = name
    data["tasks"] = [
        t | ({"label_fraction": fraction} if t["name"] == target and fraction is not None else {})
        for t in data["tasks"]
        if t["name"] in tasks
    ]
    data["train"]["seed"] = seed
    if data["data"].get("stratify") not in tasks:
        data["data"]["stratify"] = None
    return ExperimentConfig.from_dict(data)


def study_configs(
    config: ExperimentConfig, target: str, fractions: Sequence[float], seeds: int
) -> tuple[list[tuple[int, ExperimentConfig]], list[tuple[str, float, int, ExperimentConfig]]]:
    """The pretraining configs (seed, config) and the grid (method, fraction, seed, config).

    The ``transfer`` configs have no ``model.init_from`` yet: it is the id of the seed's
    pretraining run, known once that run is queued (:func:`launch_transfer_study`).
    """
    _check(config, target, fractions, seeds)
    base = config.train.seed
    others = [t.name for t in config.tasks if t.name != target]
    every = [t.name for t in config.tasks]
    pretrain = [
        (
            base + s,
            _variant(
                config,
                f"{config.name} · pretrain on {', '.join(others)} · seed {base + s}",
                others,
                base + s,
                None,
                target,
            ),
        )
        for s in range(seeds)
    ]
    grid = []
    for fraction in fractions:
        for s in range(seeds):
            seed = base + s
            label = f"{fraction:.0%} of {target} · seed {seed}"
            grid.append(
                (
                    "single",
                    fraction,
                    seed,
                    _variant(config, f"single · {label}", [target], seed, fraction, target),
                )
            )
            grid.append(
                (
                    "mtl",
                    fraction,
                    seed,
                    _variant(config, f"mtl · {label}", every, seed, fraction, target),
                )
            )
            grid.append(
                (
                    "transfer",
                    fraction,
                    seed,
                    _variant(config, f"transfer · {label}", [target], seed, fraction, target),
                )
            )
    return pretrain, grid


def launch_transfer_study(
    store: RunStore,
    config: ExperimentConfig,
    target: str,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: int = DEFAULT_SEEDS,
    max_running: int | None = None,
    *,
    warm: bool = False,
    validate_data: bool = True,
    ray: RayOptions | None = None,
) -> str:
    """Validate, record, then queue the study's runs (pretraining first); return its id.

    With ``ray``, every run trains on that Ray cluster (see :mod:`mtl.runs.ray_executor`).

    Raises:
        SweepError: a bad target, fraction or seed count, or data that cannot be prepared
            (nothing is recorded or queued).
        ValueError: ``max_running`` is below 1 (nothing is recorded).
    """
    pretrain, grid = study_configs(config, target, fractions, seeds)
    max_running_limit(max_running)  # a bad limit records nothing
    if validate_data:
        check_data([config])
    study_id = new_sweep_id(store)
    record: dict[str, Any] = {
        "id": study_id,
        "kind": KIND,
        "name": f"{config.name}: transfer study on {target}",
        "target": target,
        "created_at": time.time(),
        "spec": {
            "seeds": [seed for seed, _ in pretrain],
            "fractions": list(fractions),
            "target": target,
        },
        "base_config": config.to_dict(),
        "settings": ["method", "fraction"],
        "runs": [],
        "baselines": [],
    }
    write_record(store, record)
    tags = (sweep_tag(study_id), STUDY_TAG)
    try:
        source: dict[int, str] = {}
        for seed, cfg in pretrain:
            source[seed] = launch(cfg, store, max_running, tags=tags, warm=warm, ray=ray)
            record["baselines"].append({"id": source[seed], "role": "pretrain", "seed": seed})
        for method, fraction, seed, cfg in grid:
            if method == "transfer":
                cfg = cfg.with_overrides({"model.init_from": source[seed]})
            run_id = launch(cfg, store, max_running, tags=tags, warm=warm, ray=ray)
            record["runs"].append(
                {"id": run_id, "settings": {"method": method, "fraction": fraction}, "seed": seed}
            )
    finally:
        write_record(store, record)
    return study_id


def transfer_studies(store: RunStore) -> list[dict[str, Any]]:
    """The records of every transfer study in the store, newest first."""
    return [r for r in read_records(store) if r.get("kind") == KIND]


def target_metric(record: dict[str, Any]) -> str:
    """The metric the study compares: the headline metric of the target's kind (R², accuracy)."""
    tasks = record.get("base_config", {}).get("tasks", [])
    kind = next((t.get("kind") for t in tasks if t.get("name") == record.get("target")), None)
    return HEADLINE_METRICS.get(kind or "", "loss")


def study_results(store: RunStore, study_id: str) -> pd.DataFrame:
    """One row per grid run: ``id, method, fraction, seed, status, value, cost_s``.

    ``value`` is the target's test metric (:func:`target_metric`; NaN until the run
    finishes); ``cost_s`` its training time, plus its pretraining run's for ``transfer``.
    ``frame.attrs`` holds ``metric``, ``target`` and ``pending`` (runs queued or running,
    pretraining included).
    """
    record = get_sweep(store, study_id)
    metric, target = target_metric(record), record.get("target")
    runs = {r["id"]: r for r in store.list_runs().to_dict("records")}
    pretrain = {b["seed"]: b["id"] for b in record.get("baselines", [])}

    def duration(run_id: str | None) -> float:
        run = runs.get(run_id or "")
        if not run or not run.get("ended_at") or not run.get("started_at"):
            return math.nan
        return float(run["ended_at"] - run["started_at"])

    rows = []
    for entry in record.get("runs", []):
        run = runs.get(entry["id"]) or {}
        test = ((run.get("summary") or {}).get("test") or {}).get(target) or {}
        value = test.get(metric)
        cost = duration(entry["id"])
        if entry["settings"]["method"] == "transfer":
            cost += duration(pretrain.get(entry["seed"]))
        rows.append(
            {
                "id": entry["id"],
                "method": entry["settings"]["method"],
                "fraction": float(entry["settings"]["fraction"]),
                "seed": entry["seed"],
                "status": run.get("status", "deleted"),
                "value": math.nan if value is None else float(value),
                "cost_s": cost,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["id", "method", "fraction", "seed", "status", "value", "cost_s"]
    )
    ids = [e["id"] for e in record.get("runs", [])] + list(pretrain.values())
    frame.attrs.update(
        metric=metric,
        target=target,
        pending=sum(runs.get(i, {}).get("status") in ("queued", "running") for i in ids),
    )
    return frame


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over seeds per method and fraction, the cost, and the comparison with single.

    The std is the sample standard deviation (``ddof=1``, as the sweeps' aggregate), NaN
    for a single seed. One seed has no spread to judge a difference against: a row or its
    single-task reference with fewer than :data:`MIN_VERDICT_SEEDS` finished seeds gets
    neither flag (``vs_single`` is still given).

    Returns:
        Columns ``method, fraction, n, mean, std, cost_s, vs_single, better, negative``:
        ``n`` finished seeds; ``vs_single`` the mean minus single's (sign: positive = better,
        whatever the metric's direction); ``better`` / ``negative`` whether that difference
        exceeds the seed spread (the larger of the two stds) in either direction: a method
        worse than single-task beyond the spread is negative transfer. ``attrs`` as given.
        The verdicts of :func:`mtl.viz.transfer.verdict` read only these flags.
    """
    higher = HIGHER_IS_BETTER.get(results.attrs.get("metric", "loss"), False)
    done = results.dropna(subset=["value"])
    columns = [
        "method",
        "fraction",
        "n",
        "mean",
        "std",
        "cost_s",
        "vs_single",
        "better",
        "negative",
    ]
    if done.empty:
        out = pd.DataFrame(columns=columns)
        out.attrs.update(results.attrs)
        return out
    grouped = done.groupby(["method", "fraction"], sort=False)
    out = grouped["value"].agg(n="count", mean="mean", std="std").reset_index()
    out["cost_s"] = grouped["cost_s"].mean().to_numpy()
    single = out[out.method == "single"].set_index("fraction")
    sign = 1.0 if higher else -1.0
    vs, better, negative = [], [], []
    for row in out.itertuples(index=False):
        if row.method == "single" or row.fraction not in single.index:
            vs.append(math.nan)
            better.append(False)
            negative.append(False)
            continue
        ref = single.loc[row.fraction]
        diff = sign * (row.mean - ref["mean"])
        vs.append(diff)
        if min(row.n, ref["n"]) < MIN_VERDICT_SEEDS:  # one seed: no spread to judge against
            better.append(False)
            negative.append(False)
            continue
        spread = max(row.std, ref["std"])
        better.append(bool(diff > spread))
        negative.append(bool(-diff > spread))
    out["vs_single"], out["better"], out["negative"] = vs, better, negative
    order = {m: i for i, m in enumerate(METHODS)}
    out = out.sort_values(
        ["method", "fraction"], key=lambda c: c.map(order) if c.name == "method" else c
    )
    out = out[columns].reset_index(drop=True)
    out.attrs.update(results.attrs)
    return out
