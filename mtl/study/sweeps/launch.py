"""Launching a sweep: validate the whole grid (and its data), record it, then queue every run
through the launcher, each tagged ``sweep:<sweep_id>`` (and, if asked, the single-task
baselines Δm needs).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

from mtl.config import ExperimentConfig
from mtl.errors import SweepError
from mtl.runs.processes import spawn_module
from mtl.runs.ray_executor import with_ray_tag
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import launch, max_running_limit
from mtl.runs.store import RunStore
from mtl.study.baseline import BASELINE_TAG, baseline_config, ensure_baseline
from mtl.study.sweeps.records import new_sweep_id, record_path, sweep_tag, write_record
from mtl.study.sweeps.results import delta_support
from mtl.study.sweeps.spec import (
    SweepSpec,
    base_config,
    canonical,
    check_search,
    expand_points,
    search_objectives,
)

__all__ = ["DRIVER_MODULE", "check_data", "launch_search", "launch_sweep", "start_driver"]

DRIVER_MODULE = "mtl.study.search"
"""The search driver, started as its own process (``python -m mtl.study.search``): Optuna is
loaded there, never in the CLI's start-up nor in the dashboard."""


def check_data(configs: Iterable[ExperimentConfig]) -> None:
    """Prepare the data of each distinct (data, tasks) pair once, so bad data fails before queuing.

    Raises:
        SweepError: naming the data settings that fail and why.
    """
    from mtl.data.prepare import prepare  # scikit-learn: kept off the Sweeps page until it launches

    seen: set[str] = set()
    for config in configs:
        key = canonical(
            [config.data.model_dump(mode="json"), [t.model_dump(mode="json") for t in config.tasks]]
        )
        if key in seen:
            continue
        seen.add(key)
        try:
            prepare(config)
        except ValueError as err:
            raise SweepError(f"run {config.name!r}: the data cannot be prepared: {err}") from None


def launch_sweep(
    store: RunStore,
    spec: SweepSpec,
    max_running: int | None = None,
    *,
    warm: bool = False,
    validate_data: bool = True,
    baselines: bool = False,
    ray: RayOptions | None = None,
) -> str:
    """Validate the whole grid, then queue every run through the launcher; return the sweep id.

    Every run is tagged ``sweep:<sweep_id>``; the sweep is recorded in
    ``<home>/sweeps/<sweep_id>.json`` before the first run is queued (and again with every
    run id at the end). Runs start while slots are free (``max_running``, default
    ``$MTL_MAX_RUNNING`` or 1); each worker starts the next queued run when it ends.

    Args:
        store: the run store.
        spec: the sweep.
        max_running: concurrency limit passed to the launcher.
        warm: hand runs to the dashboard's warm spare worker (see :func:`mtl.runs.scheduler.dispatch`).
        validate_data: prepare each distinct dataset once first (:func:`check_data`).
        baselines: also queue the single-task baseline of every distinct setting (one
            per seed and data/training setting; sharing and weighting share one) unless a
            matching one is finished or on its way (:func:`mtl.study.baseline.ensure_baseline`),
            so :func:`sweep_runs` can fill Δm. They are queued before the grid, tagged
            ``baseline`` (and ``sweep:<id>`` when new), and listed in the record.
        ray: train the grid's runs and the new baselines on this Ray cluster (see
            :mod:`mtl.runs.ray_executor`).

    Raises:
        SweepError: the spec is invalid (nothing was queued), or ``baselines`` is asked
            for without :mod:`mtl.study.baseline`.
    """
    if spec.search != "grid":
        return launch_search(store, spec, max_running, validate_data=validate_data, ray=ray)
    max_running_limit(max_running)  # a bad limit records nothing
    points = expand_points(spec)
    if validate_data:
        check_data(config for _, _, config in points)
    if baselines and (reason := delta_support()) is not None:
        raise SweepError(f"cannot queue baselines: {reason}")
    sweep_id = new_sweep_id(store)
    record: dict[str, Any] = {
        "id": sweep_id,
        "name": spec.name,
        "created_at": time.time(),
        "spec": spec.to_dict(),
        "base_config": base_config(spec).to_dict(),
        "settings": list(spec.grid),
        "runs": [],
        "baselines": [],
    }
    write_record(store, record)
    tags = (sweep_tag(sweep_id),)
    try:
        if baselines:
            configs = [config for _, _, config in points]
            record["baselines"] = _queue_baselines(store, configs, max_running, warm, tags[0], ray)
        for point, seed, config in points:
            run_id = launch(config, store, max_running, tags=tags, warm=warm, ray=ray)
            record["runs"].append({"id": run_id, "settings": point, "seed": seed})
    finally:
        write_record(store, record)
    return sweep_id


def _queue_baselines(
    store: RunStore,
    configs: Sequence[ExperimentConfig],
    max_running: int | None,
    warm: bool,
    tag: str,
    ray: RayOptions | None = None,
) -> list[dict[str, Any]]:
    """Make sure each distinct single-task baseline of ``configs`` is finished or on its way."""
    reason = delta_support()
    if reason is not None:
        raise SweepError(f"cannot queue baselines: {reason}")

    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for config in configs:
        target = baseline_config(config).to_dict()
        target.pop("name", None)
        key = canonical(target)
        if key in seen:
            continue
        seen.add(key)
        found = ensure_baseline(
            store, config, detach=True, max_running=max_running, warm=warm, ray=ray
        )
        if not found.reused:
            new_tags = (BASELINE_TAG, tag)
            store.set_tags(found.run_id, list(new_tags if ray is None else with_ray_tag(new_tags)))
        if not any(b["id"] == found.run_id for b in out):
            out.append({"id": found.run_id, "reused": found.reused})
    return out


def launch_search(
    store: RunStore,
    spec: SweepSpec,
    max_running: int | None = None,
    *,
    validate_data: bool = True,
    ray: RayOptions | None = None,
    start: bool = True,
) -> str:
    """Validate a search (``spec.search`` is ``random``, ``tpe`` or ``nsga2``), record it and
    start its driver process; return the sweep id.

    The driver (:mod:`mtl.study.search`) asks Optuna for each trial's settings, launches it as
    an ordinary run (tagged ``sweep:<sweep_id>``) through :func:`mtl.runs.scheduler.launch`,
    keeps ``max_running`` trials in flight, reports the epoch metrics to the pruner, stops the
    hopeless trials, and tells Optuna each final validation value. The record's ``search``
    entry holds its state (``running``, ``done``, ``failed``), the objectives and, at the end,
    the hyperparameter importance.

    Args:
        start: start the driver now (``False``: the caller runs
            :func:`mtl.study.search.run_search` itself, e.g. in its own process).

    Raises:
        SweepError: the spec is invalid or its data cannot be prepared (nothing was recorded).
    """
    limit = max_running_limit(max_running)
    base = check_search(spec)
    if validate_data:
        check_data([base])
    objectives = search_objectives(spec, base)
    sweep_id = new_sweep_id(store)
    record: dict[str, Any] = {
        "id": sweep_id,
        "kind": "search",
        "name": spec.name,
        "created_at": time.time(),
        "spec": spec.to_dict(),
        "base_config": base.to_dict(),
        "settings": [*spec.grid, *spec.ranges],
        "runs": [],
        "baselines": [],
        "search": {
            "method": spec.search,
            "trials": spec.n_trials,
            "seeds": list(spec.seeds),  # a trial is one run per seed
            "objectives": [name for name, _ in objectives],
            "higher_is_better": [higher for _, higher in objectives],
            "pruning": spec.pruning,
            "max_running": limit,
            "ray": None if ray is None else asdict(ray),
            "state": "running",
            "error": None,
            "driver_pid": None,
            "importance": None,
        },
    }
    write_record(store, record)
    if start:
        start_driver(store, sweep_id)
    return sweep_id


def start_driver(store: RunStore, sweep_id: str, *, tuning: bool = False) -> int:
    """Start the Optuna driver of a recorded search (or, with ``tuning``, of a verdict's TPE
    tuning) as its own process, logging to ``<home>/sweeps/<sweep_id>.log``; return its pid.

    The driver records its own pid when it starts (a second writer here could race it).
    """
    return spawn_module(
        DRIVER_MODULE,
        ["--home", str(store.home), *(["--tuning"] if tuning else []), sweep_id],
        log=record_path(store, sweep_id).with_suffix(".log"),
        name=f"mtl-search-{sweep_id}",
    )
