"""The verdict: does multi-task learning help here, beyond seed noise, against a tuned equal sum?

A verdict study trains, with the same data, encoder and epochs, over ≥ 3 seeds:

- the single-task baselines (one network per task), the reference of Δm, tuned with the
  same settings and budget as the methods (best mean validation Δm against setting 0);
- every picked method (equal weighting always among them), each tuned with the same search
  budget: the same ``budget`` hyperparameter settings (learning rate, weight decay, dropout;
  setting 0 is the base config's own) for every method, each trained on every seed; a
  method's best setting is the one with the best mean *validation* Δm, and its *test* Δm is
  what the verdict reports;
- a sweep of static loss weights drawn from a flat Dirichlet on the simplex (``manual``
  weighting, weights scaled to sum to T), which traces the scalarisation front.

Following Xin et al., "Do Current Multi-Task Optimization Methods in Deep Learning Even
Help?" (NeurIPS 2022) and Kurin et al., "In Defense of the Unitary Scalarization for Deep
Multi-Task Learning" (NeurIPS 2022): a method is only credited when its interval over seeds
clears zero (or clears the tuned equal sum), never for a mean inside the noise.

Intervals are two-sided 95 % Student-t intervals of the mean over seeds. A verdict is an
ordinary sweep record (``<home>/sweeps/<id>.json``, ``"kind": "verdict"``) whose runs are
ordinary runs tagged ``sweep:<id>``: they queue, train in workers, show live and compare
like any other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mtl.config import ConfigError, ExperimentConfig
from mtl.errors import SweepError
from mtl.metric_names import HEADLINE_METRICS, HIGHER_IS_BETTER
from mtl.runs.ray_executor import queue_run
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import dispatch, max_running_limit
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore
from mtl.runs.store_db import RunNotFoundError
from mtl.study.baseline import BASELINE_TAG, active_baseline, baseline_config, find_baseline
from mtl.study.delta import delta_m
from mtl.study.sweeps.launch import check_data, start_driver
from mtl.study.sweeps.records import get_sweep, new_sweep_id, sweep_tag, write_record
from mtl.study.sweeps.results import is_done, progress
from mtl.weighting import WEIGHTINGS

__all__ = [
    "DEFAULT_METHODS",
    "EQUAL",
    "DEFAULT_SEEDS",
    "MIN_SEEDS",
    "VERDICT_SEARCHES",
    "QUICK_VERDICT",
    "Interval",
    "VerdictOptions",
    "get_verdict",
    "helps",
    "interval",
    "is_verdict",
    "plan",
    "start_verdict",
    "verdict_result",
]

EQUAL = "equal"
DEFAULT_METHODS: tuple[str, ...] = (EQUAL, "uncertainty", "pcgrad")
"""Equal weighting, one loss-level method and one gradient-level method."""
MIN_SEEDS = 3
DEFAULT_SEEDS = 5
"""Seeds by default: with 3 the 95 % interval is the mean ± 4.30·sd/√3, so a real gain of
about one standard deviation of the seeds still reads as noise; 5 narrows it to ± 2.78·sd/√5."""
SETTINGS = ("role", "method", "trial")
"""The record's setting columns: ``role`` (``method`` / ``front``), method name, trial number."""
TUNED = ("train.lr", "train.weight_decay", "model.dropout")

# two-sided 95 % Student-t quantiles by degrees of freedom (1 … 30); normal beyond
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its 95 % interval (``low``/``high`` NaN with one value)."""

    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float | None]:
        """``{mean, low, high}`` with NaN as ``None`` (JSON)."""
        return {k: _num(getattr(self, k)) for k in ("mean", "low", "high")}


def interval(values: Sequence[float]) -> Interval:
    """The mean of ``values`` (NaN skipped) with its two-sided 95 % Student-t interval."""
    data = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = len(data)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(data.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    t = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    half = t * float(data.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def helps(delta: Interval) -> bool | None:
    """True when Δm's whole interval is above 0, False when it is at or below 0, None when
    it straddles 0 (or is unknown): the difference is inside the seed noise."""
    if math.isnan(delta.low) or math.isnan(delta.high):
        return None
    if delta.low > 0:
        return True
    if delta.high <= 0:
        return False
    return None


@dataclass(frozen=True)
class VerdictOptions:
    """What a verdict trains.

    Attributes:
        seeds: values of ``train.seed`` (at least :data:`MIN_SEEDS`).
        budget: hyperparameter settings tried per method (the same settings for every method;
            setting 0 is the base config's own).
        methods: weighting strategies to compare; equal weighting is always added first.
        weights: static weight vectors of the scalarisation front (0 = no front).
        search_seed: seed of the hyperparameter and weight draws.
        search: ``random`` (the same ``budget`` random settings for every method) or ``tpe``
            (each method tuned by its own Optuna TPE search of ``budget`` settings, the first
            the base config's own; see :mod:`mtl.study.search.tuning`).
    """

    seeds: tuple[int, ...] = tuple(range(DEFAULT_SEEDS))
    budget: int = 4
    methods: tuple[str, ...] = DEFAULT_METHODS
    weights: int = 6
    search_seed: int = 0
    search: str = "random"

    def checked(self) -> VerdictOptions:
        """These options, with equal weighting first; ``SweepError`` naming a bad value."""
        if len(set(self.seeds)) < MIN_SEEDS:
            raise SweepError(
                f"a verdict needs at least {MIN_SEEDS} different seeds to tell a gain from seed "
                f"noise; found {len(set(self.seeds))}"
            )
        if any(s < 0 for s in self.seeds):
            raise SweepError(f"seeds must be ≥ 0, found {list(self.seeds)}")
        if not 1 <= self.budget <= 50:
            raise SweepError(f"search budget per method: {self.budget} must be between 1 and 50")
        if not 0 <= self.weights <= 100:
            raise SweepError(f"static weight vectors: {self.weights} must be between 0 and 100")
        known = WEIGHTINGS.names()
        unknown = [m for m in self.methods if m not in known]
        if unknown:
            raise SweepError(f"unknown method(s) {unknown}; choose from {', '.join(known)}")
        if self.search not in VERDICT_SEARCHES:
            raise SweepError(
                f"search {self.search!r} is not a verdict search; choose from "
                f"{', '.join(VERDICT_SEARCHES)}"
            )
        methods = tuple(dict.fromkeys([EQUAL, *self.methods]))
        return VerdictOptions(
            tuple(dict.fromkeys(self.seeds)),
            self.budget,
            methods,
            self.weights,
            self.search_seed,
            self.search,
        )


VERDICT_SEARCHES = ("random", "tpe")
"""How a verdict tunes each method: shared random settings, or one TPE search per method."""

QUICK_VERDICT = VerdictOptions(budget=2, weights=4)
"""The dashboard's one-click verdict (Evaluate): the default seeds (:data:`DEFAULT_SEEDS`), 2 settings
per method, 4 static weight vectors."""


def trial_settings(base: ExperimentConfig, budget: int, seed: int) -> list[dict[str, Any]]:
    """The ``budget`` hyperparameter settings every method gets (random search; the first is
    the base config's own): learning rate log-uniform in [lr/3, 3·lr], weight decay 0 or
    log-uniform in [1e-6, 1e-3], dropout uniform in [0, 0.3]."""
    rng = np.random.default_rng(seed)
    out = [
        {
            "train.lr": base.train.lr,
            "train.weight_decay": base.train.weight_decay,
            "model.dropout": base.model.dropout,
        }
    ]
    for _ in range(budget - 1):
        decay = 0.0 if rng.random() < 0.25 else float(10 ** rng.uniform(-6, -3))
        out.append(
            {
                "train.lr": float(f"{base.train.lr * 10 ** rng.uniform(-0.477, 0.477):.3g}"),
                "train.weight_decay": float(f"{decay:.3g}"),
                "model.dropout": round(float(rng.uniform(0.0, 0.3)), 2),
            }
        )
    return out


def front_weights(n_tasks: int, count: int, seed: int) -> list[list[float]]:
    """``count`` static weight vectors from a flat Dirichlet, scaled to sum to ``n_tasks``
    (so the loss keeps equal weighting's scale)."""
    rng = np.random.default_rng(seed + 1)
    draws = rng.dirichlet(np.ones(n_tasks), size=count) * n_tasks
    return [[round(float(w), 3) for w in row] for row in draws]


def plan(
    base: ExperimentConfig, options: VerdictOptions, name: str
) -> list[tuple[dict[str, Any], int, ExperimentConfig]]:
    """Every run of the verdict but the baselines: ``(settings, seed, config)``.

    Raises:
        SweepError: a method does not apply to this config (e.g. a gradient method on an
            architecture that shares nothing), naming it.
    """
    out: list[tuple[dict[str, Any], int, ExperimentConfig]] = []
    trials = trial_settings(base, options.budget, options.search_seed)
    for method in options.methods:
        for i, values in enumerate(trials):
            settings = {"role": "method", "method": method, "trial": i, **values}
            for seed in options.seeds:
                over = {**values, "loss.weighting": method, "loss.options": {}}
                out.append(_config(base, settings, seed, over, f"{name} · {method} #{i}"))
    for k, weights in enumerate(
        front_weights(len(base.tasks), options.weights, options.search_seed)
    ):
        settings = {"role": "front", "method": "static", "trial": k, "weights": weights}
        over = {"loss.weighting": "manual", "loss.options": {}}
        over.update({f"tasks.{t}.weight": w for t, w in enumerate(weights)})
        for seed in options.seeds:
            out.append(_config(base, settings, seed, over, f"{name} · static #{k}"))
    return out


def _config(
    base: ExperimentConfig,
    settings: dict[str, Any],
    seed: int,
    overrides: dict[str, Any],
    label: str,
) -> tuple[dict[str, Any], int, ExperimentConfig]:
    try:
        config = base.with_overrides(
            {**overrides, "train.seed": seed, "name": f"{label} seed={seed}"}
        )
    except ConfigError as err:
        raise SweepError(f"verdict: {settings['method']} cannot train this config: {err}") from None
    return settings, seed, config


def start_verdict(
    store: RunStore,
    base: ExperimentConfig,
    options: VerdictOptions | None = None,
    *,
    max_running: int | None = None,
    warm: bool = False,
    validate_data: bool = True,
    start: bool = True,
    ray: RayOptions | None = None,
) -> str:
    """Queue every run of a verdict (baselines first), start what the limit allows, return its id.

    Args:
        store: the run store.
        base: the config every run derives from (data, tasks, encoder, epochs).
        options: seeds, budget, methods, front size (default :class:`VerdictOptions`).
        max_running: concurrency limit (default ``$MTL_MAX_RUNNING`` or 1).
        warm: let the scheduler use a warm spare worker (the dashboard).
        validate_data: prepare the data once first, so bad data fails before queuing.
        start: dispatch the queue now (``False`` leaves every run queued, for the caller
            or the next dispatch to start).
        ray: train every run (baselines included) on this Ray cluster (see
            :mod:`mtl.runs.ray_executor`).

    Every configuration is validated first (nothing is queued if one fails). The record is a
    sweep record with ``"kind": "verdict"`` and the options, so the Sweeps page lists it too.

    Raises:
        SweepError: bad options, a method that does not fit the config, or data that cannot
            be prepared.
    """
    options = (options or VerdictOptions()).checked()
    if len(base.tasks) < 2:
        raise SweepError("a verdict compares multi-task training: the config needs ≥ 2 tasks")
    max_running_limit(max_running)  # a bad limit queues nothing
    name = f"verdict {base.name}"
    runs = plan(base, options, name)
    planned = len(runs)
    if options.search == "tpe":  # the tuning driver asks for each method's later settings
        runs = [r for r in runs if r[0]["role"] != "method" or r[0]["trial"] == 0]
    if validate_data:
        check_data([base])
    verdict_id = new_sweep_id(store)
    record: dict[str, Any] = {
        "id": verdict_id,
        "kind": "verdict",
        "name": name,
        "created_at": time.time(),
        "spec": {"name": name, "base": base.to_dict(), "seeds": list(options.seeds)},
        "base_config": base.to_dict(),
        "settings": list(SETTINGS),
        "verdict": {
            "seeds": list(options.seeds),
            "budget": options.budget,
            "methods": list(options.methods),
            "weights": options.weights,
            "search_seed": options.search_seed,
            "search": options.search,
        },
        "runs": [],
        "baselines": [],
    }
    if options.search == "tpe":
        record["tuning"] = {
            "trials": planned,
            "max_running": max_running_limit(max_running),
            "state": "running",
            "driver_pid": None,
        }
    write_record(store, record)
    tag = sweep_tag(verdict_id)
    try:
        for trial, values in enumerate(trial_settings(base, options.budget, options.search_seed)):
            for seed in options.seeds:
                entry = _queue_baseline(store, base.with_overrides(values), seed, tag, ray)
                record["baselines"].append({**entry, "trial": trial})
        for settings, seed, config in runs:
            run_id = queue_run(store, config, (tag,), ray)
            record["runs"].append({"id": run_id, "settings": settings, "seed": seed})
    finally:
        write_record(store, record)
    if start:
        dispatch(store, max_running, warm=warm)
    if options.search == "tpe":
        start_driver(store, verdict_id, tuning=True)
    return verdict_id


def _queue_baseline(
    store: RunStore, base: ExperimentConfig, seed: int, tag: str, ray: RayOptions | None = None
) -> dict[str, Any]:
    """The seed's single-task baseline: a finished or active match is reused, else one is queued."""
    config = base.with_overrides({"train.seed": seed})
    found = find_baseline(store, config)
    if found is None and (active := active_baseline(store, config)) is not None:
        found = active[0]
    if found is not None:
        return {"id": found, "seed": seed, "reused": True}
    target = baseline_config(config)
    run_id = queue_run(store, target, (BASELINE_TAG, tag), ray)
    return {"id": run_id, "seed": seed, "reused": False}


def is_verdict(record: Mapping[str, Any]) -> bool:
    """Whether a sweep record is a verdict's."""
    return record.get("kind") == "verdict"


def get_verdict(store: RunStore, verdict_id: str) -> dict[str, Any]:
    """The verdict's record; ``SweepError`` when there is none (or it is a plain sweep)."""
    record = get_sweep(store, verdict_id)
    if not is_verdict(record):
        raise SweepError(f"{verdict_id!r} is a sweep, not a verdict")
    return record


# --------------------------------------------------------------------------- results


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def headline_metrics(base: Mapping[str, Any]) -> dict[str, tuple[str, bool]]:
    """Task → (headline metric, higher is better) from the recorded base config."""
    out = {}
    for task in base.get("tasks", []):
        metric = HEADLINE_METRICS.get(task.get("kind") or "regression", "rmse")
        out[task["name"]] = (metric, HIGHER_IS_BETTER[metric])
    return out


def _runs(store: RunStore, record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per run of the record (baselines included): settings, seed, status, summary."""
    rows = []
    for entry in record.get("baselines", []):
        rows.append(
            {
                "id": entry["id"],
                "role": "baseline",
                "method": "single-task",
                "trial": entry.get("trial", 0),
                "seed": entry["seed"],
                "weights": None,
            }
        )
    for entry in record.get("runs", []):
        s = entry["settings"]
        rows.append(
            {
                "id": entry["id"],
                "role": s["role"],
                "method": s["method"],
                "trial": s["trial"],
                "seed": entry["seed"],
                "weights": s.get("weights"),
                "params": {k: s[k] for k in TUNED if k in s},
            }
        )
    frame = pd.DataFrame(rows)
    status: list[str] = []
    summary: list[dict[str, Any]] = []
    for run_id in frame["id"]:
        try:
            run = store.get_run(run_id)
        except RunNotFoundError:  # deleted from the store
            status.append("deleted")
            summary.append({})
            continue
        status.append(run["status"])
        summary.append(run["summary"] or {})
    frame["status"] = status
    frame["summary"] = summary
    return frame


def _delta(
    summary: Mapping[str, Any], base: Mapping[str, Any], split: str, kinds: Mapping[str, Any]
) -> float:
    mine, ref = summary.get(split), base.get(split)
    if not mine or not ref:
        return math.nan
    value = delta_m(mine, ref, kinds=kinds).value
    return math.nan if value is None else value


def _step_time(summary: Mapping[str, Any]) -> float:
    steps, seconds = summary.get("steps"), summary.get("duration_s")
    return seconds / steps if steps and seconds else math.nan


def verdict_result(store: RunStore, verdict_id: str) -> dict[str, Any]:
    """Everything the verdict shows, as JSON-ready data (partial while runs are on their way).

    Returns:
        ``id, name, done, progress, seeds, budget, tasks`` (task → headline metric and its
        direction), ``baseline`` (task → interval of the headline metric), ``methods``
        (method → ``delta_m`` ``{mean, low, high}``, ``helps``, ``vs_equal`` (the paired
        difference in Δm with equal weighting, with ``inside_noise``), ``best`` (its chosen
        setting), ``metrics`` (task → interval), ``step_time_s``, ``relative_cost``),
        ``front`` (one entry per static weight vector: ``weights``, ``metrics``, ``delta_m``)
        and ``verdict`` (plain-language sentences).
    """
    record = get_verdict(store, verdict_id)
    base_config = record["base_config"]
    kinds = {t["name"]: t.get("kind") for t in base_config["tasks"]}
    heads = headline_metrics(base_config)
    frame = _runs(store, record)
    finished = frame[frame["status"] == RunStatus.FINISHED]
    baselines = _tuned_baselines(finished[finished["role"] == "baseline"], kinds)
    frame["val_delta"] = [
        _delta(r.summary, baselines.get(int(r.seed), {}), "val", kinds)
        if r.status == RunStatus.FINISHED
        else math.nan
        for r in frame.itertuples()
    ]
    frame["test_delta"] = [
        _delta(r.summary, baselines.get(int(r.seed), {}), "test", kinds)
        if r.status == RunStatus.FINISHED
        else math.nan
        for r in frame.itertuples()
    ]
    frame["step_time"] = [_step_time(s) for s in frame["summary"]]

    def metric_intervals(rows: pd.DataFrame) -> dict[str, dict[str, float | None]]:
        out = {}
        for task, (metric, _) in heads.items():
            values = [((s.get("test") or {}).get(task) or {}).get(metric) for s in rows["summary"]]
            out[task] = interval([v for v in values if v is not None]).to_dict()
        return out

    counts = progress(store, verdict_id)
    result: dict[str, Any] = {
        "id": verdict_id,
        "name": record.get("name", ""),
        "done": is_done(counts),
        "progress": {k: counts[k] for k in ("total", "done", "baselines", "baselines_pending")},
        "seeds": record["verdict"]["seeds"],
        "budget": record["verdict"]["budget"],
        "tasks": {t: {"metric": m, "higher_is_better": h} for t, (m, h) in heads.items()},
        "baseline": metric_intervals(finished[finished["role"] == "baseline"]),
        "methods": {},
        "front": [],
    }
    best_rows: dict[str, pd.DataFrame] = {}
    for method in record["verdict"]["methods"]:
        mine = frame[(frame["role"] == "method") & (frame["method"] == method)]
        best = _best_trial(mine, len(record["verdict"]["seeds"]))
        if best is None:
            continue
        rows = mine[mine["trial"] == best]
        best_rows[method] = rows
        result["methods"][method] = {
            "delta_m": interval(rows["test_delta"].tolist()).to_dict(),
            "best": {"trial": int(best), **rows["params"].iloc[0]},
            "metrics": metric_intervals(rows[rows["status"] == RunStatus.FINISHED]),
            "step_time_s": _num(float(np.nanmean(frame.loc[mine.index, "step_time"]))),
            "runs": rows["id"].tolist(),
        }
        result["methods"][method]["helps"] = helps(interval(rows["test_delta"].tolist()))
    equal_time = (result["methods"].get(EQUAL) or {}).get("step_time_s")
    for method, entry in result["methods"].items():
        entry["relative_cost"] = (
            _num(entry["step_time_s"] / equal_time) if entry["step_time_s"] and equal_time else None
        )
        entry["vs_equal"] = _versus(best_rows.get(method), best_rows.get(EQUAL))
    front = frame[frame["role"] == "front"]
    for trial, rows in front.groupby("trial", sort=True):
        done = rows[rows["status"] == RunStatus.FINISHED]
        result["front"].append(
            {
                "trial": int(trial),  # type: ignore[call-overload]
                "weights": rows["weights"].iloc[0],
                "metrics": metric_intervals(done),
                "delta_m": interval(done["test_delta"].tolist()).to_dict(),
            }
        )
    result["verdict"] = verdict_text(result)
    return result


def _tuned_baselines(rows: pd.DataFrame, kinds: Mapping[str, Any]) -> dict[int, Any]:
    """Seed → summary of the baselines' best setting: the single-task runs get the same search
    budget as every method (an untuned reference would flatter every multi-task method), and
    the best is the setting with the best mean validation Δm against setting 0."""
    first = {int(r.seed): r.summary for r in rows[rows["trial"] == 0].itertuples()}
    scores = rows.assign(
        val_delta=[
            _delta(r.summary, first.get(int(r.seed), {}), "val", kinds) for r in rows.itertuples()
        ]
    )
    best = _best_trial(scores, 0) if len(scores) else None
    chosen = rows[rows["trial"] == best] if best is not None else rows.iloc[0:0]
    return {int(r.seed): r.summary for r in chosen.itertuples()}


def _best_trial(rows: pd.DataFrame, n_seeds: int) -> int | None:
    """The trial with the best mean validation Δm among those finished on every seed (or,
    while runs are on their way, on the most seeds)."""
    done = rows[np.isfinite(rows["val_delta"])]
    if done.empty:
        return None
    stats = done.groupby("trial")["val_delta"].agg(["mean", "count"])
    most = stats["count"].max()
    return int(stats[stats["count"] == most]["mean"].idxmax())


def _versus(mine: pd.DataFrame | None, equal: pd.DataFrame | None) -> dict[str, Any] | None:
    """The paired (same seed) difference of test Δm with tuned equal weighting."""
    if mine is None or equal is None:
        return None
    a = mine.set_index("seed")["test_delta"]
    b = equal.set_index("seed")["test_delta"]
    diff = interval((a - b.reindex(a.index)).tolist())
    if math.isnan(diff.low):
        better: bool | None = None
    else:  # no difference at all (the same runs' numbers) is no evidence either way
        better = True if diff.low > 0 else False if diff.high < 0 else None
    return {**diff.to_dict(), "inside_noise": better is None, "better": better}


def _fmt(entry: Mapping[str, Any]) -> str:
    return f"{entry['mean']:+.2f}% [{entry['low']:+.2f}, {entry['high']:+.2f}]"


def verdict_text(result: Mapping[str, Any]) -> list[str]:
    """Plain-language sentences: does sharing help at all (equal weighting's Δm), and does
    any other method beat the tuned equal sum beyond seed noise."""
    n = len(result["seeds"])
    methods = result["methods"]
    equal = methods.get(EQUAL)
    if not equal or equal["delta_m"]["low"] is None:
        return [f"Not enough finished runs yet for a verdict ({result['progress']['done']} of "
                f"{result['progress']['total']} done)."]  # fmt: skip
    out = []
    if not result["done"]:
        progress = result["progress"]
        out.append(
            f"Provisional: {progress['done']} of {progress['total']} runs (and the baselines) "
            "have ended; the verdict may change."
        )
    word = {True: "helps", False: "does not help", None: "is inside the seed noise"}
    if equal["helps"] is True:
        out.append(
            f"Sharing helps: tuned equal weighting beats the single-task baselines "
            f"(Δm {_fmt(equal['delta_m'])}, 95% interval over {n} seeds, above 0)."
        )
    elif equal["helps"] is False:
        out.append(
            f"Sharing does not help: tuned equal weighting is no better than training each "
            f"task alone (Δm {_fmt(equal['delta_m'])} over {n} seeds, at or below 0)."
        )
    else:
        out.append(
            f"No evidence that sharing helps: tuned equal weighting's Δm {_fmt(equal['delta_m'])} "
            f"over {n} seeds includes 0, so any gain is inside the seed noise."
        )
    for method, entry in methods.items():
        if method == EQUAL or entry["delta_m"]["low"] is None:
            continue
        versus = entry.get("vs_equal") or {}
        cost = entry.get("relative_cost")
        costs = f", at {cost:.1f}× equal weighting's step time" if cost else ""
        if versus.get("low") is None:
            continue
        if versus["inside_noise"]:
            tail = "indistinguishable from tuned equal weighting (the difference is inside the seed noise)"
        elif versus["better"]:
            tail = "better than tuned equal weighting beyond the seed noise"
        else:
            tail = "worse than tuned equal weighting beyond the seed noise"
        out.append(
            f"{method}: Δm {_fmt(entry['delta_m'])} ({word[entry['helps']]}); {tail}"
            f" (difference {_fmt(versus)}){costs}."
        )
    return out
