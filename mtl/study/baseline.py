"""Single-task baselines: the counterpart of a multi-task run and its Δm.

A run's *baseline* learns the same tasks on the same data with one network per task and
nothing shared: the ``independent`` architecture with the same encoder (widths, channels,
activation, dropout, batch norm, head layers), the same data preparation and split, the
same task definitions (target, kind, loss, class weights) and the same training settings
(epochs, batch size, optimizer, learning rate and schedule, L1/L2, clipping, early
stopping, seed). :func:`baseline_config` says exactly what changes; in short, whatever
only makes sense with sharing is reset:

- ``model.sharing: independent``; the sharing-specific settings (``branch_depth``,
  ``soft_lambda``, ``experts``) go back to their defaults (an independent model ignores them).
- ``loss.weighting: equal`` with every task weight 1 and no options: the plain sum of
  the task losses, so each tower gets exactly the gradient of its own loss, as if trained
  alone. Weights only trade tasks off against each other, which needs shared parameters,
  and gradient methods (PCGrad, MGDA, …) need them too.
- every task starts at epoch 0 (task scheduling is a multi-task device);
- no gradient diagnostics (there are no shared parameters to measure).

So runs that differ only in sharing or loss weighting share one baseline, and their Δm
values are comparable. A *matching* baseline is a finished run whose config equals
:func:`baseline_config` of the run, ignoring the name and ``train.log_every`` (which
change no number); the newest one wins.

This module imports no torch until it trains a baseline in this process.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mtl.config import ExperimentConfig, ModelConfig
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import dispatch, launch
from mtl.runs.status import RunStatus
from mtl.runs.store import TERMINAL_STATUSES, RunStore
from mtl.runs.worker import execute
from mtl.study.delta import DeltaM, delta_m

if TYPE_CHECKING:
    from mtl.data.prepare import PreparedData
    from mtl.train.callbacks import Callback

__all__ = [
    "BASELINE_TAG",
    "Baseline",
    "active_baseline",
    "baseline_config",
    "ensure_baseline",
    "find_baseline",
    "find_baselines",
    "run_config",
    "run_delta",
]

BASELINE_TAG = "baseline"
"""Tag of the runs :func:`ensure_baseline` creates."""

NAME_SUFFIX = " · baseline"
_IGNORED_KEYS: tuple[tuple[str, ...], ...] = (("name",), ("train", "log_every"))
"""Config keys that change no number, left out when matching a baseline."""
_ENCODER_FIELDS = (
    "encoder",
    "hidden",
    "channels",
    "activation",
    "dropout",
    "batch_norm",
    "head_hidden",
)


@dataclass(frozen=True)
class Baseline:
    """The baseline run :func:`ensure_baseline` settled on.

    Attributes:
        run_id: its id in the store.
        status: its status now (``finished`` unless it was launched detached, is still
            queued/running, or ended otherwise).
        reused: ``True`` when an existing run was used, ``False`` when one was created.
    """

    run_id: str
    status: str
    reused: bool


def baseline_config(config: ExperimentConfig) -> ExperimentConfig:
    """The single-task counterpart of ``config`` (see the module docstring).

    Args:
        config: a run's config (any architecture and weighting).

    Returns:
        A new config named ``"<name> · baseline"``: the ``independent`` architecture with
        the same encoder, data, tasks and training settings, ``equal`` weighting with
        every task weight 1, every task starting at epoch 0 and no diagnostics.
    """
    data = config.to_dict()
    model = {key: data["model"][key] for key in _ENCODER_FIELDS}
    data["model"] = ModelConfig(sharing="independent", **model).model_dump(mode="json")
    data["loss"] = {"weighting": "equal", "options": {}, "huber_delta": config.loss.huber_delta}
    for task in data["tasks"]:
        task["weight"] = 1.0
        task["start_epoch"] = 0
    data["train"]["diagnostics_every"] = None
    data["train"]["affinity"] = False
    name = config.name if config.name.endswith(NAME_SUFFIX) else config.name + NAME_SUFFIX
    data["name"] = name
    return ExperimentConfig.from_dict(data)


def _match_key(config: ExperimentConfig) -> str:
    data = config.to_dict()
    for path in _IGNORED_KEYS:
        node = data
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1], None)
    return json.dumps(data, sort_keys=True)


def _keys_of_runs(store: RunStore, statuses: str | Sequence[str]) -> list[tuple[str, str, str]]:
    """``(run_id, status, match key)`` of the independent runs with these statuses, newest first."""
    runs = store.list_runs(statuses, with_config=True)
    out = []
    for run_id, status, config in zip(runs["id"], runs["status"], runs["config"], strict=True):
        if (
            not isinstance(config, Mapping)
            or (config.get("model") or {}).get("sharing") != "independent"
        ):
            continue
        try:
            parsed = ExperimentConfig.from_dict(dict(config))
        except ValueError:  # written by another version, or hand-edited: never a match
            continue
        out.append((str(run_id), str(status), _match_key(parsed)))
    return out


def find_baselines(store: RunStore, configs: Iterable[ExperimentConfig]) -> list[str | None]:
    """:func:`find_baseline` of many configs, reading the store once (for comparisons, sweeps)."""
    finished = _keys_of_runs(store, RunStatus.FINISHED)
    index: dict[str, str] = {}
    for run_id, _, key in finished:
        index.setdefault(key, run_id)  # newest first: keep the first seen
    return [index.get(_match_key(baseline_config(config))) for config in configs]


def find_baseline(store: RunStore, config: ExperimentConfig) -> str | None:
    """The newest *finished* run whose config equals :func:`baseline_config` of ``config``.

    Args:
        store: the run store.
        config: the multi-task run's config (not the baseline's).

    Returns:
        The run id, or ``None`` when no finished run matches. The name and
        ``train.log_every`` are ignored in the comparison. For a run that is itself a
        matching independent run, that run is its own baseline (Δm = 0).
    """
    return find_baselines(store, [config])[0]


def active_baseline(store: RunStore, config: ExperimentConfig) -> tuple[str, str] | None:
    """A queued or running matching baseline as ``(run_id, status)``, the newest, or ``None``.

    Lets a second click (or a second CLI call) wait for the baseline already on its way
    instead of training another.
    """
    key = _match_key(baseline_config(config))
    for run_id, status, other in _keys_of_runs(store, [RunStatus.QUEUED, RunStatus.RUNNING]):
        if other == key:
            return run_id, status
    return None


def run_config(store: RunStore, run_id: str) -> ExperimentConfig:
    """A recorded run's config, validated (``ValueError`` naming the run if it no longer is)."""
    config = store.get_run(run_id)["config"]
    try:
        return ExperimentConfig.from_dict(config)
    except ValueError as err:
        raise ValueError(f"run {run_id}'s config is not valid any more: {err}") from None


def ensure_baseline(
    store: RunStore,
    source: str | ExperimentConfig,
    *,
    detach: bool = False,
    max_running: int | None = None,
    warm: bool = False,
    callbacks: Sequence[Callback] = (),
    data: PreparedData | None = None,
    poll_s: float = 0.5,
    ray: RayOptions | None = None,
) -> Baseline:
    """Reuse a matching finished baseline, or train one.

    Order: a finished match is reused at once. Else a queued or running match is reused
    (``detach``) or waited for (in the foreground; if it ends other than finished, a new
    one is trained). Else a new baseline run, tagged :data:`BASELINE_TAG`, is launched as
    a background worker (``detach``, through :func:`mtl.runs.scheduler.launch` and its
    concurrency limit) or trained in this process (the default; torch is imported then).

    Args:
        store: the run store.
        source: the multi-task run's id, or its config.
        detach: launch in the background and return at once (the dashboard: it never
            trains); the returned status is then ``queued`` or ``running``.
        max_running: concurrency limit for a launched run (default ``$MTL_MAX_RUNNING`` or 1).
        warm: let the launcher use a warm spare worker (the dashboard passes ``True``).
        callbacks: extra training callbacks in the foreground (e.g. a progress bar).
        data: the prepared data, when the caller has it already (foreground only).
        poll_s: seconds between status checks while waiting for a running match.
        ray: with ``detach``, launch a new baseline on this Ray cluster.

    Returns:
        A :class:`Baseline`. In the foreground its status is the training outcome
        (``finished``, or ``stopped``/``diverged``); a failure raises as in
        :func:`mtl.runs.worker.execute`.
    """
    config = run_config(store, source) if isinstance(source, str) else source
    target = baseline_config(config)
    found = find_baseline(store, config)
    if found is not None:
        return Baseline(found, RunStatus.FINISHED, reused=True)
    active = active_baseline(store, config)
    if detach:
        if active is not None:
            return Baseline(active[0], active[1], reused=True)
        run_id = launch(target, store, max_running, tags=(BASELINE_TAG,), warm=warm, ray=ray)
        return Baseline(run_id, store.get_run(run_id)["status"], reused=False)
    if active is not None:
        status = _wait(store, active[0], max_running, poll_s)
        if status == RunStatus.FINISHED:
            return Baseline(active[0], status, reused=True)
    run_id = store.create_run(
        target.name,
        target.to_dict(),
        status=RunStatus.RUNNING,
        pid=os.getpid(),
        tags=[BASELINE_TAG],
    )
    result = execute(store, run_id, target, data, callbacks)
    return Baseline(run_id, result.status, reused=False)


def _wait(store: RunStore, run_id: str, max_running: int | None, poll_s: float) -> str:
    """Wait until ``run_id`` ends, advancing the queue and marking dead workers meanwhile."""
    while (status := store.get_run(run_id)["status"]) not in TERMINAL_STATUSES:
        dispatch(store, max_running)
        time.sleep(poll_s)
    return status


def run_delta(
    store: RunStore,
    run_id: str,
    baseline_id: str | None = None,
    *,
    split: str = "test",
    metrics: Mapping[str, Sequence[str]] | None = None,
) -> DeltaM | None:
    """Δm of a recorded run against its baseline (:func:`mtl.study.delta.delta_m`).

    Args:
        store: the run store.
        run_id: the multi-task run.
        baseline_id: the baseline run; default: :func:`find_baseline` of the run's config.
        split: ``"test"`` (default) or ``"val"``: whose final metrics are compared.
        metrics: which metrics to use (see :func:`mtl.study.delta.metrics_for`).

    Returns:
        The :class:`~mtl.study.delta.DeltaM` (with ``run_id``, ``baseline_id`` and ``split``
        filled in), or ``None`` when no finished baseline matches.

    Raises:
        ValueError: a run has no final metrics on ``split`` (e.g. it is still running,
            failed or diverged); the message names the run and its status.
    """
    if split not in ("test", "val"):
        raise ValueError(f"split must be 'test' or 'val', found {split!r}")
    config = run_config(store, run_id)
    if baseline_id is None:
        baseline_id = find_baseline(store, config)
        if baseline_id is None:
            return None
    model = _split_metrics(store, run_id, split)
    base = _split_metrics(store, baseline_id, split)
    kinds = {task.name: task.kind for task in config.tasks}
    result = delta_m(model, base, kinds=kinds, metrics=metrics)
    return replace(result, run_id=run_id, baseline_id=baseline_id, split=split)


def _split_metrics(store: RunStore, run_id: str, split: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    metrics = (run["summary"] or {}).get(split)
    if not metrics:
        hint = " (Δm needs a finished run)" if run["status"] != RunStatus.FINISHED else ""
        raise ValueError(f"run {run_id} ({run['status']}) has no final {split} metrics{hint}")
    return metrics
