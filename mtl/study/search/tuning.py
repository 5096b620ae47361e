"""A verdict's TPE tuning: each method gets its own Optuna TPE search of the verdict's budget.

``python -m mtl study verdict CONFIG --search tpe`` queues the baselines, every method's first
setting (the base config's own) on every seed and the static-weight front, records
``"tuning"`` and starts this driver. For each method it asks TPE for the next setting
(learning rate log-uniform in [lr/3, 3·lr], weight decay log-uniform in [1e-6, 1e-3], dropout
in [0, 0.3]: the ranges of the random search) as soon as the previous one has ended on every
seed, and tells it the mean over seeds of the setting's validation Δm against the single-task
baseline at the base settings (same seed). Every method gets the same budget; the verdict
then reads the runs back as for a random search (:func:`mtl.study.verdict.verdict_result`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.trial import TrialState

from mtl.config import ConfigError, ExperimentConfig
from mtl.runs.scheduler import dispatch
from mtl.runs.status import TERMINAL, RunStatus
from mtl.runs.store import RunStore
from mtl.study.delta import delta_m
from mtl.study.sweeps.records import get_sweep, sweep_tag, write_record

__all__ = ["run_tuning", "tuning_space"]

POLL_S = 0.5
TUNED = ("train.lr", "train.weight_decay", "model.dropout")


def tuning_space(base: ExperimentConfig) -> dict[str, BaseDistribution]:
    """The verdict's search space around the base config (the random search's ranges)."""
    lr = base.train.lr
    return {
        "train.lr": FloatDistribution(lr / 3, lr * 3, log=True),
        "train.weight_decay": FloatDistribution(1e-6, 1e-3, log=True),
        "model.dropout": FloatDistribution(0.0, 0.3),
    }


def run_tuning(store: RunStore, verdict_id: str, *, poll_s: float = POLL_S) -> None:
    """Drive verdict ``verdict_id``'s TPE tuning to its end (see the module docstring); any
    error marks the tuning ``failed`` in the record and is raised again."""
    record = get_sweep(store, verdict_id)
    record["tuning"]["driver_pid"] = os.getpid()
    write_record(store, record)
    try:
        _loop(store, record, poll_s)
    except BaseException as err:
        record["tuning"]["state"] = "failed" if isinstance(err, Exception) else "interrupted"
        record["tuning"]["error"] = str(err) or type(err).__name__
        write_record(store, record)
        raise
    record["tuning"]["state"] = "done"
    write_record(store, record)


def _loop(store: RunStore, record: dict[str, Any], poll_s: float) -> None:
    options = record["verdict"]
    base = ExperimentConfig.from_dict(record["base_config"])
    kinds = {t.name: t.kind for t in base.tasks}
    seeds = [int(s) for s in options["seeds"]]
    budget = int(options["budget"])
    space = tuning_space(base)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    reference = {int(b["seed"]): b["id"] for b in record["baselines"] if b.get("trial", 0) == 0}
    studies: dict[str, optuna.Study] = {}
    current: dict[str, tuple[optuna.Trial, list[str]]] = {}
    for method in options["methods"]:
        sampler = optuna.samplers.TPESampler(
            seed=int(options["search_seed"]), n_startup_trials=max(1, min(10, budget // 3))
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.enqueue_trial(
            {k: _base_value(base, k, space) for k in TUNED}
        )  # trial 0: already queued
        trial = study.ask(space)
        ids = [
            e["id"]
            for e in record["runs"]
            if e["settings"]["role"] == "method"
            and e["settings"]["method"] == method
            and e["settings"]["trial"] == 0
        ]
        studies[method], current[method] = study, (trial, ids)
    while current:
        for method, (trial, ids) in list(current.items()):
            runs = [store.get_run(i) for i in ids]
            if any(RunStatus(r["status"]) not in TERMINAL for r in runs):
                continue
            value = _mean_val_delta(store, runs, reference, kinds)
            if value is None:
                if any(store.get_run(reference[s])["status"] not in TERMINAL for s in reference):
                    continue  # a reference baseline is still training: tell once it has ended
                studies[method].tell(trial, state=TrialState.FAIL)
            else:
                studies[method].tell(trial, value)
            if trial.number + 1 >= budget:
                del current[method]
                continue
            nxt = studies[method].ask(space)
            current[method] = (nxt, _queue(store, record, base, method, nxt, seeds))
        dispatch(store, record["tuning"].get("max_running"))
        if current:
            time.sleep(poll_s)


def _base_value(base: ExperimentConfig, key: str, space: Mapping[str, Any]) -> float:
    """The base config's own value of ``key`` (its runs are queued already), clipped into the
    space so Optuna accepts it (a weight decay of 0 is told as the range's lowest)."""
    section, field = key.split(".")
    value = float(getattr(getattr(base, section), field))
    return min(max(value, space[key].low), space[key].high)


def _mean_val_delta(
    store: RunStore,
    runs: list[dict[str, Any]],
    reference: Mapping[int, str],
    kinds: Mapping[str, Any],
) -> float | None:
    """Mean over seeds of the runs' validation Δm against the base-settings baseline."""
    values = []
    for run in runs:
        if run["status"] != RunStatus.FINISHED:
            return None
        seed = int(run["config"]["train"]["seed"])
        baseline = store.get_run(reference[seed])
        mine = (run.get("summary") or {}).get("val")
        theirs = (baseline.get("summary") or {}).get("val")
        if baseline["status"] != RunStatus.FINISHED or not mine or not theirs:
            return None
        result = delta_m(mine, theirs, kinds=kinds).value
        if result is None or not math.isfinite(result):
            return None
        values.append(float(result))
    return sum(values) / len(values)


def _queue(
    store: RunStore,
    record: dict[str, Any],
    base: ExperimentConfig,
    method: str,
    trial: optuna.Trial,
    seeds: list[int],
) -> list[str]:
    """Queue the trial's setting for ``method`` on every seed, as the verdict names its runs."""
    values = {
        "train.lr": float(f"{trial.params['train.lr']:.3g}"),
        "train.weight_decay": float(f"{trial.params['train.weight_decay']:.3g}"),
        "model.dropout": round(float(trial.params["model.dropout"]), 2),
    }
    settings = {"role": "method", "method": method, "trial": trial.number, **values}
    ids = []
    for seed in seeds:
        name = f"{record['name']} · {method} #{trial.number} seed={seed}"
        over = {**values, "loss.weighting": method, "loss.options": {}, "train.seed": seed}
        try:
            config = base.with_overrides({**over, "name": name})
        except ConfigError as err:
            raise ValueError(f"verdict: {method} cannot train this setting: {err}") from None
        run_id = store.create_run(config.name, config.to_dict(), tags=(sweep_tag(record["id"]),))
        record["runs"].append({"id": run_id, "settings": settings, "seed": seed})
        ids.append(run_id)
    write_record(store, record)
    return ids
