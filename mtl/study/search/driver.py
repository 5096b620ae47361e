"""The ask-and-tell loop of a search: Optuna proposes, the launcher trains, the store answers.

Each trial is an ordinary run (queued through :func:`mtl.runs.scheduler.launch`, tagged
``sweep:<sweep_id>``, on the local executor or a Ray cluster); the driver only reads the store.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from mtl.config import ExperimentConfig
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import dispatch, launch, stop
from mtl.runs.status import TERMINAL, RunStatus
from mtl.runs.store import RunStore
from mtl.study.search.space import choice_value, distributions, make_study
from mtl.study.sweeps.records import get_sweep, sweep_tag, write_record
from mtl.study.sweeps.spec import SweepError, SweepSpec, search_config

__all__ = ["importance", "run_search"]

POLL_S = 0.25
STOP_GRACE_S = 10.0
"""Seconds a pruned run gets to stop at its next step before :func:`~mtl.runs.scheduler.stop`
ends its process."""


@dataclass
class _Run:
    """One run of a trial (one seed): its record entry, the rows read so far, its objective's
    validation value per epoch."""

    entry: dict[str, Any]
    after_id: int = 0
    values: dict[int, float] = field(default_factory=dict)


@dataclass
class _Live:
    """A trial in flight: its Optuna trial, its runs (one per seed), the epochs reported."""

    trial: optuna.Trial
    runs: list[_Run]
    reported: set[int] = field(default_factory=set)
    stop_asked: float | None = None  # monotonic time the pruner asked the runs to stop


def run_search(
    store: RunStore,
    sweep_id: str,
    *,
    poll_s: float = POLL_S,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Drive search ``sweep_id`` (recorded by :func:`mtl.study.sweeps.launch_search`) to its
    end and return its final record.

    A trial is one run per seed of the spec (``seeds``), all with the trial's settings; its
    value is the mean over those runs of each objective's final validation value. Keeps up to
    ``max_running`` runs in flight (at least one trial: ``max_running // len(seeds)`` trials).
    While a trial runs, the mean over its runs of the (single) objective's validation value is
    reported to the pruner for each epoch every run has reached; when the pruner says so the
    trial's runs are asked to stop (:meth:`~mtl.runs.store.RunStore.request_stop`, without
    waiting, so other trials go on) and those that have not within :data:`STOP_GRACE_S` are
    stopped by :func:`mtl.runs.scheduler.stop`; they end ``stopped`` and are marked ``pruned``
    in the record. When every run of a trial has ended, Optuna is told the trial's value
    (every run ``finished`` with a value), that it was pruned, or that it failed (any other
    end, or a missing value); the record's ``search.told`` lists what it was told. A sampled
    combination the config refuses (each choice and range end was checked alone at launch) is
    told as failed, uses up its trial and is listed in the record's ``search.skipped`` with the
    reason. At the end the hyperparameter importance (:func:`importance`) goes into the
    record. Any error marks the search ``failed`` with the message and is raised again.
    """
    record = get_sweep(store, sweep_id)
    search = record["search"]
    search["driver_pid"] = os.getpid()
    write_record(store, record)
    try:
        _loop(store, record, poll_s, on_progress)
    except BaseException as err:
        search["state"] = "failed" if isinstance(err, Exception) else "interrupted"
        search["error"] = str(err) or type(err).__name__
        write_record(store, record)
        raise
    return record


def _loop(
    store: RunStore,
    record: dict[str, Any],
    poll_s: float,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    search = record["search"]
    spec = SweepSpec.from_dict(record["spec"])
    base = ExperimentConfig.from_dict(record["base_config"])
    limit = int(search["max_running"])
    ray = RayOptions(**search["ray"]) if search.get("ray") else None
    objectives: list[str] = search["objectives"]
    study = make_study(spec, search["higher_is_better"], limit)
    space = distributions(spec)
    prune = spec.pruning != "none"
    tag = sweep_tag(record["id"])
    slots = max(1, limit // len(spec.seeds))  # trials in flight: their runs fill the run limit
    live: list[_Live] = []
    asked = 0
    while asked < spec.n_trials or live:
        while asked < spec.n_trials and len(live) < slots:
            trial = study.ask(space)
            params = {k: choice_value(spec, k, v) for k, v in trial.params.items()}
            asked += 1
            try:  # e.g. pcgrad with independent: a combination of choices
                configs = [search_config(spec, base, params, trial.number, s) for s in spec.seeds]
            except SweepError as err:
                study.tell(trial, state=TrialState.FAIL)
                search.setdefault("skipped", []).append(
                    {"trial": trial.number, "settings": params, "error": str(err)}
                )
                write_record(store, record)
                continue
            runs = []
            for seed, config in zip(spec.seeds, configs, strict=True):
                entry = {
                    "id": launch(config, store, limit, tags=(tag,), ray=ray),
                    "settings": params,
                    "seed": seed,
                    "trial": trial.number,
                    "pruned": False,
                }
                record["runs"].append(entry)
                runs.append(_Run(entry))
            write_record(store, record)
            live.append(_Live(trial, runs))
        dispatch(store, limit)
        for state in list(live):
            statuses = _advance(store, state, objectives[0] if prune else None)
            if statuses is None:
                continue
            _end(study, store, record, state, statuses, objectives, prune)
            live.remove(state)
            if on_progress:
                on_progress(asked - len(live), spec.n_trials)
        if live:
            time.sleep(poll_s)
    search["importance"] = importance(study, objectives)
    search["state"] = "done"
    write_record(store, record)


def _advance(store: RunStore, state: _Live, objective: str | None) -> list[RunStatus] | None:
    """One look at a trial in flight: report its new epochs to the pruner (``objective``; None:
    no pruning) and stop its runs if the pruner says so. The statuses of its runs once every
    one has ended, else ``None``."""
    ids = [run.entry["id"] for run in state.runs]
    statuses = [RunStatus(store.get_run(i)["status"]) for i in ids]
    if state.stop_asked is None:
        running = RunStatus.RUNNING in statuses
        if objective is not None and running and _should_prune(store, state, objective):
            # the stop path, without waiting: the runs stop at their next step
            for run_id, status in zip(ids, statuses, strict=True):
                if status not in TERMINAL:
                    store.request_stop(run_id)
            state.stop_asked = time.monotonic()
    elif time.monotonic() - state.stop_asked > STOP_GRACE_S:
        statuses = [  # a run that did not stop by itself: end its process
            status if status in TERMINAL else stop(store, run_id)
            for run_id, status in zip(ids, statuses, strict=True)
        ]
    return statuses if all(s in TERMINAL for s in statuses) else None


def _end(
    study: optuna.Study,
    store: RunStore,
    record: dict[str, Any],
    state: _Live,
    statuses: Sequence[RunStatus],
    objectives: Sequence[str],
    prune: bool,
) -> None:
    """Mark the pruned runs of an ended trial and tell Optuna how the trial did."""
    pruned = state.stop_asked is not None and RunStatus.STOPPED in statuses
    for run, status in zip(state.runs, statuses, strict=True):
        run.entry["pruned"] = pruned and status == RunStatus.STOPPED  # some may have finished
    if prune and not pruned:
        _report(store, state, objectives[0])
    told = _tell(study, store, state, statuses, objectives, pruned)
    record["search"].setdefault("told", []).append(told)
    write_record(store, record)


def _should_prune(store: RunStore, state: _Live, objective: str) -> bool:
    """Report the trial's new mean validation values of ``objective``; ask the pruner."""
    return _report(store, state, objective) and state.trial.should_prune()


def _report(store: RunStore, state: _Live, objective: str) -> bool:
    """Report, for each epoch every run of the trial has reached and not reported yet, the
    mean over its runs of their validation values of ``objective``; whether there were any.
    A finished trial's are all reported before Optuna is told its value, so the pruner
    compares later trials with its whole curve, however fast it ran."""
    task, _, metric = objective.rpartition("/")
    for run in state.runs:
        rows = store.metrics(run.entry["id"], run.after_id)
        if rows.empty:
            continue
        run.after_id = int(rows["id"].max())
        mine = rows[(rows["split"] == "val") & (rows["task"] == task) & (rows["metric"] == metric)]
        for epoch, value in zip(mine["epoch"], mine["value"], strict=True):
            if math.isfinite(value):
                run.values[int(epoch)] = float(value)
    common = set.intersection(*(set(run.values) for run in state.runs)) - state.reported
    for step in sorted(common):
        state.trial.report(_mean([run.values[step] for run in state.runs]), step)
        state.reported.add(step)
    return bool(common)


def _mean(values: Sequence[float]) -> float:
    """The mean of ``values`` (one value: itself, exactly)."""
    return math.fsum(values) / len(values)


def _tell(
    study: optuna.Study,
    store: RunStore,
    state: _Live,
    statuses: Sequence[RunStatus],
    objectives: Sequence[str],
    pruned: bool,
) -> dict[str, Any]:
    """Tell Optuna an ended trial's outcome; return it as recorded (``trial``, ``state``:
    ``complete``, ``pruned`` or ``fail``, ``values``: each objective's mean over the runs)."""
    told: dict[str, Any] = {"trial": state.trial.number, "state": "pruned", "values": None}
    if pruned:
        study.tell(state.trial, state=TrialState.PRUNED)
        return told
    found = [
        objective_values(store.get_run(run.entry["id"]).get("summary"), objectives)
        for run in state.runs
    ]
    if any(s != RunStatus.FINISHED for s in statuses) or any(v is None for v in found):
        study.tell(state.trial, state=TrialState.FAIL)
        return {**told, "state": "fail"}
    means = [_mean([v[i] for v in found if v is not None]) for i in range(len(objectives))]
    study.tell(state.trial, means if len(means) > 1 else means[0])
    return {**told, "state": "complete", "values": means}


def objective_values(
    summary: Mapping[str, Any] | None, objectives: Sequence[str]
) -> list[float] | None:
    """The final validation value of each objective in a run's summary (``None`` if any is
    missing or not finite)."""
    val = (summary or {}).get("val") or {}
    out = []
    for objective in objectives:
        task, _, metric = objective.rpartition("/")
        value = (val.get(task) or {}).get(metric)
        if value is None or not math.isfinite(float(value)):
            return None
        out.append(float(value))
    return out


def _nth(i: int) -> Callable[[optuna.trial.FrozenTrial], float]:
    """The ``i``-th objective value of a trial (importance of one objective of several)."""
    return lambda trial: float(trial.values[i])


def importance(study: optuna.Study, objectives: Sequence[str]) -> dict[str, Any]:
    """Each objective's hyperparameter importance (Optuna's default evaluator, normalised to
    sum to 1), from the completed trials: ``{"values": {objective: {param: share}}, "note"}``.
    ``note`` says why there are none (fewer than two completed trials, or a single swept key
    that never varied)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < 2:
        return {"values": {}, "note": "fewer than two trials finished"}
    out: dict[str, dict[str, float]] = {}
    note = None
    for i, objective in enumerate(objectives):
        target = _nth(i) if len(objectives) > 1 else None
        try:
            shares = optuna.importance.get_param_importances(study, target=target)
        except (RuntimeError, ValueError) as err:  # e.g. every value the same
            note = f"importance unavailable: {err}"
            continue
        out[objective] = {k: float(v) for k, v in shares.items()}
    return {"values": out, "note": note}
