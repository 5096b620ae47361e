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
class _Live:
    """A trial in flight: its Optuna trial, the metric rows read so far, the epochs reported."""

    trial: optuna.Trial
    entry: dict[str, Any]
    after_id: int = 0
    reported: set[int] = field(default_factory=set)
    stop_asked: float | None = None  # monotonic time the pruner asked the run to stop


def run_search(
    store: RunStore,
    sweep_id: str,
    *,
    poll_s: float = POLL_S,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Drive search ``sweep_id`` (recorded by :func:`mtl.study.sweeps.launch_search`) to its
    end and return its final record.

    Keeps up to the search's ``max_running`` trials in flight. While a trial runs, its new
    validation rows of the (single) objective are reported to the pruner epoch by epoch; when
    the pruner says so the run is asked to stop (:meth:`~mtl.runs.store.RunStore.request_stop`,
    without waiting, so other trials go on) and, if it has not within :data:`STOP_GRACE_S`,
    stopped by :func:`mtl.runs.scheduler.stop`; it ends ``stopped`` and is marked ``pruned``
    in the record. When a run ends, Optuna is told its
    final validation value(s) from the run's summary (``finished``), that it was pruned, or
    that it failed (any other end, or a missing value). A sampled combination the config
    refuses (each choice and range end was checked alone at launch) is told as failed, uses up
    its trial and is listed in the record's ``search.skipped`` with the reason. At the end the hyperparameter
    importance (:func:`importance`) goes into the record. Any error marks the search
    ``failed`` with the message and is raised again.
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
    live: dict[str, _Live] = {}
    asked = 0
    while asked < spec.n_trials or live:
        while asked < spec.n_trials and len(live) < limit:
            trial = study.ask(space)
            params = {k: choice_value(spec, k, v) for k, v in trial.params.items()}
            asked += 1
            try:
                config = search_config(spec, base, params, trial.number)
            except SweepError as err:  # e.g. pcgrad with independent: a combination of choices
                study.tell(trial, state=TrialState.FAIL)
                search.setdefault("skipped", []).append(
                    {"trial": trial.number, "settings": params, "error": str(err)}
                )
                write_record(store, record)
                continue
            run_id = launch(config, store, limit, tags=(tag,), ray=ray)
            entry = {
                "id": run_id,
                "settings": params,
                "seed": spec.seeds[0],
                "trial": trial.number,
                "pruned": False,
            }
            record["runs"].append(entry)
            write_record(store, record)
            live[run_id] = _Live(trial, entry)
        dispatch(store, limit)
        for run_id, state in list(live.items()):
            status = RunStatus(store.get_run(run_id)["status"])
            if state.stop_asked is None:
                running = prune and status == RunStatus.RUNNING
                if running and _should_prune(store, state, objectives[0]):
                    # the stop path, without waiting: the run stops at its next step
                    store.request_stop(run_id)
                    state.stop_asked = time.monotonic()
            elif status not in TERMINAL and time.monotonic() - state.stop_asked > STOP_GRACE_S:
                status = stop(store, run_id)  # it did not stop by itself: end its process
            if status in TERMINAL and state.stop_asked is not None:
                state.entry["pruned"] = status == RunStatus.STOPPED  # it may have just finished
                write_record(store, record)
            if status in TERMINAL:
                if prune and not state.entry["pruned"]:
                    _report(store, state, objectives[0])
                _tell(study, store, state, status, objectives)
                del live[run_id]
                if on_progress:
                    on_progress(asked - len(live), spec.n_trials)
        if live:
            time.sleep(poll_s)
    search["importance"] = importance(study, objectives)
    search["state"] = "done"
    write_record(store, record)


def _should_prune(store: RunStore, state: _Live, objective: str) -> bool:
    """Report the run's new validation values of ``objective`` per epoch; ask the pruner."""
    return _report(store, state, objective) and state.trial.should_prune()


def _report(store: RunStore, state: _Live, objective: str) -> bool:
    """Report the run's validation values of ``objective`` not reported yet, one per epoch;
    whether there were any. A finished run's are all reported before Optuna is told its
    value, so the pruner compares later trials with its whole curve, however fast it ran."""
    rows = store.metrics(state.entry["id"], state.after_id)
    if rows.empty:
        return False
    state.after_id = int(rows["id"].max())
    task, _, metric = objective.rpartition("/")
    mine = rows[(rows["split"] == "val") & (rows["task"] == task) & (rows["metric"] == metric)]
    new = False
    for epoch, value in zip(mine["epoch"], mine["value"], strict=True):
        step = int(epoch)
        if step in state.reported or not math.isfinite(value):
            continue
        state.trial.report(float(value), step)
        state.reported.add(step)
        new = True
    return new


def _tell(
    study: optuna.Study,
    store: RunStore,
    state: _Live,
    status: RunStatus,
    objectives: Sequence[str],
) -> None:
    if state.entry["pruned"]:
        study.tell(state.trial, state=TrialState.PRUNED)
        return
    values = objective_values(store.get_run(state.entry["id"]).get("summary"), objectives)
    if status != RunStatus.FINISHED or values is None:
        study.tell(state.trial, state=TrialState.FAIL)
        return
    study.tell(state.trial, values if len(values) > 1 else values[0])


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
