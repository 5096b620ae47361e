"""Sweeps: a grid of settings × seeds, queued as ordinary runs, then aggregated over seeds.

A sweep spec (YAML, see ``docs/sweeps.md``) names a base config and the settings to vary::

    name: sharing-vs-weighting
    base: seed-example                 # preset name, config file, or an inline config
    overrides: {train.epochs: 10}      # fixed changes for every run (optional)
    grid:
      model.sharing: [hard, mmoe]
      loss.weighting: [equal, uncertainty]
    seeds: [0, 1, 2]                   # applied to train.seed

:func:`expand` turns it into one :class:`~mtl.config.ExperimentConfig` per grid point and
seed, all validated before anything is queued. :func:`launch_sweep` queues them through
the launcher, each tagged ``sweep:<sweep_id>``, and records the sweep as
``<home>/sweeps/<sweep_id>.json`` (spec, resolved base config, run ids and their
settings); the store's SQLite schema is unchanged. :func:`sweep_runs` reads the runs back
as one row each with their settings and final test metrics; :func:`aggregate` (mean ± std
over seeds) and :func:`pareto_front` (non-dominated rows) are pure pandas.

Δm against the single-task baseline (:mod:`mtl.delta`, :mod:`mtl.baseline`) fills the
``delta_m`` column for runs whose matching ``independent`` baseline has finished;
``launch_sweep(..., baselines=True)`` queues the missing baselines. Should those modules
be missing, the column stays empty and :func:`delta_support` says why.

This module never imports torch (the dashboard uses it).
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import math
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mtl import presets
from mtl.baseline import BASELINE_TAG, baseline_config, ensure_baseline, find_baselines
from mtl.config import ConfigError, ExperimentConfig, format_validation_error
from mtl.delta import delta_m
from mtl.errors import SweepError  # re-exported from here too
from mtl.metric_names import HEADLINE_METRICS, HIGHER_IS_BETTER
from mtl.runs.ray_options import RayOptions
from mtl.runs.scheduler import launch
from mtl.runs.status import ACTIVE, RunStatus
from mtl.runs.store import STATUSES, TERMINAL_STATUSES, RunStore

__all__ = [
    "DELTA_COLUMN",
    "HEADLINE_METRICS",
    "MAX_RUNS",
    "SWEEPS_DIR",
    "SweepError",
    "SweepSpec",
    "aggregate",
    "base_config",
    "check_data",
    "default_pareto_metrics",
    "delta_support",
    "expand",
    "get_sweep",
    "grid_points",
    "higher_is_better",
    "is_done",
    "launch_sweep",
    "load_spec",
    "metric_columns",
    "metric_label",
    "pareto_front",
    "progress",
    "run_label",
    "sweep_runs",
    "sweep_tag",
    "sweeps",
]

SWEEPS_DIR = "sweeps"  # <home>/sweeps/<sweep_id>.json
MAX_RUNS = 1000  # a larger grid is almost always a typo; split it into several sweeps
DELTA_COLUMN = "delta_m"  # Δm in percent, NaN when unavailable

_RESERVED_KEYS = {
    "name": "the run names are made by the sweep",
    "train.seed": "use `seeds:` instead",
}


# --------------------------------------------------------------------------- the spec


class SweepSpec(BaseModel):
    """A sweep: a base config, the settings to vary (a grid) and the seeds to repeat with."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, description="Sweep name; prefixes every run's name.")
    base: str | dict[str, Any] = Field(
        ..., description="A preset name, a YAML/JSON config file, or an inline config mapping."
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted key → value applied to every run (e.g. train.epochs).",
    )
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Dotted key → list of values; every combination becomes a setting.",
    )
    seeds: list[int] = Field(
        default_factory=lambda: [0], description="Values of train.seed; one run per seed."
    )

    @field_validator("name")
    @classmethod
    def _clean_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name must not be blank")
        return value.strip()

    @field_validator("grid")
    @classmethod
    def _check_grid(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            _check_key(key, "grid")
            if not values:
                raise ValueError(f"grid key {key!r} has no values; give at least one")
            shown = [_canonical(v) for v in values]
            repeated = sorted({s for s in shown if shown.count(s) > 1})
            if repeated:
                raise ValueError(f"grid key {key!r} repeats the value(s) {', '.join(repeated)}")
        return grid

    @field_validator("overrides")
    @classmethod
    def _check_overrides(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        for key in overrides:
            _check_key(key, "overrides")
        return overrides

    @field_validator("seeds")
    @classmethod
    def _check_seeds(cls, seeds: list[int]) -> list[int]:
        if not seeds:
            raise ValueError("give at least one seed, e.g. seeds: [0]")
        negative = [s for s in seeds if s < 0]
        if negative:
            raise ValueError(f"seeds must be ≥ 0, found {negative}")
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            raise ValueError(f"seeds repeat {repeated}")
        return seeds

    @property
    def size(self) -> int:
        """Number of runs: grid points × seeds."""
        return math.prod(len(v) for v in self.grid.values()) * len(self.seeds)

    @classmethod
    def from_dict(cls, data: Any) -> SweepSpec:
        """Validate a mapping; raise :class:`SweepError` with one readable line."""
        if not isinstance(data, dict):
            raise SweepError(
                f"a sweep spec must be a mapping with name, base and grid; found {type(data).__name__}"
            )
        try:
            spec = cls.model_validate(data)
        except ValidationError as err:
            raise SweepError(f"sweep spec: {format_validation_error(err, cls)}") from None
        if spec.size > MAX_RUNS:
            raise SweepError(
                f"sweep {spec.name!r} has {spec.size} runs (grid × seeds); at most {MAX_RUNS} "
                "are allowed in one sweep, so shrink the grid or split it"
            )
        return spec

    @classmethod
    def from_yaml(cls, text: str) -> SweepSpec:
        """Read the spec from YAML (or JSON) text."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise SweepError(
                f"the sweep spec is not valid YAML: {str(err).splitlines()[0]}"
            ) from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict that :meth:`from_dict` reads back."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """YAML text that :meth:`from_yaml` reads back."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _check_key(key: str, where: str) -> None:
    if not key or any(not part for part in key.split(".")):
        raise ValueError(f"{where} key {key!r} is not a dotted config key like model.sharing")
    if key in _RESERVED_KEYS:
        raise ValueError(f"{where} key {key!r} cannot be set by a sweep: {_RESERVED_KEYS[key]}")


def load_spec(path: str | Path) -> SweepSpec:
    """Read a sweep spec file; a relative config-file ``base`` is resolved against its folder.

    Raises:
        SweepError: the file is missing or the spec is invalid.
    """
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {str(path)!r} not found")
    spec = SweepSpec.from_yaml(path.read_text(encoding="utf-8"))
    if isinstance(spec.base, str) and not _is_preset(spec.base):
        candidate = Path(spec.base).expanduser()
        if not candidate.is_absolute() and (path.parent / candidate).is_file():
            spec = spec.model_copy(update={"base": str((path.parent / candidate).resolve())})
    return spec


def _is_preset(name: str) -> bool:
    return name in presets.names()


def base_config(spec: SweepSpec) -> ExperimentConfig:
    """The base config (preset, file or inline mapping) with the spec's ``overrides`` applied.

    Raises:
        SweepError: the base cannot be found or is invalid, or an override does not apply.
    """
    try:
        if isinstance(spec.base, dict):
            config = ExperimentConfig.from_dict(spec.base)
        elif _is_preset(spec.base):
            config = presets.load(spec.base)
        elif Path(spec.base).expanduser().is_file():
            config = ExperimentConfig.load(Path(spec.base).expanduser())
        else:
            raise SweepError(
                f"sweep {spec.name!r}: base {spec.base!r} is neither a preset ({', '.join(presets.names())}) "
                "nor a config file"
            )
    except ConfigError as err:
        raise SweepError(f"sweep {spec.name!r}: base config: {err}") from None
    for key in spec.overrides:
        _check_path(config, key, f"sweep {spec.name!r}: overrides key")
    if spec.overrides:
        try:
            config = config.with_overrides(spec.overrides)
        except ConfigError as err:
            raise SweepError(f"sweep {spec.name!r}: overrides: {err}") from None
    return config


# --------------------------------------------------------------------------- expansion


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of grid values, in order (the last grid key varies fastest)."""
    keys = list(spec.grid)
    return [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*spec.grid.values())
    ]


def expand(spec: SweepSpec) -> list[ExperimentConfig]:
    """One validated config per grid point × seed (seeds vary fastest).

    Each is named ``"<sweep> · key=value … seed=N"``. Every combination is checked first;
    if any is invalid, nothing is returned.

    Raises:
        SweepError: a grid key names no config field, or some combinations are invalid
            (the message names each bad combination and why, up to five of them).
    """
    return [config for _, _, config in _expand(spec)]


def _expand(spec: SweepSpec) -> list[tuple[dict[str, Any], int, ExperimentConfig]]:
    base = base_config(spec)
    for key in spec.grid:
        _check_path(base, key, f"sweep {spec.name!r}: grid key")
    labels = _short_labels(list(spec.grid))
    out: list[tuple[dict[str, Any], int, ExperimentConfig]] = []
    problems: list[str] = []
    for point in grid_points(spec):
        failed: dict[str, list[int]] = {}  # error → the seeds it happened with
        for seed in spec.seeds:
            name = run_label(spec.name, point, seed, labels)
            try:
                config = base.with_overrides({**point, "train.seed": seed, "name": name})
            except ConfigError as err:
                failed.setdefault(str(err), []).append(seed)
                continue
            out.append((point, seed, config))
        for error, seeds in failed.items():
            problems.append(f"{_describe(point, seeds, len(spec.seeds))}: {error}")
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise SweepError(
            f"sweep {spec.name!r}: {len(problems)} invalid combination(s), nothing was queued: "
            + "; ".join(problems[:5])
            + more
        )
    return out


def _describe(point: Mapping[str, Any], seeds: Sequence[int], n_seeds: int) -> str:
    text = ", ".join(f"{k}={_fmt(v)}" for k, v in point.items()) or "the base config"
    return text if len(seeds) == n_seeds else f"{text} (seed {', '.join(map(str, seeds))})"


def run_label(
    sweep_name: str, point: Mapping[str, Any], seed: int, labels: Mapping[str, str] | None = None
) -> str:
    """A run's name in a sweep: ``"<sweep> · sharing=hard weighting=equal seed=0"``.

    Args:
        labels: the short name of each grid key (default: the last part of the key, or the
            whole key where two keys end the same way).
    """
    labels = labels or _short_labels(list(point))
    parts = [f"{labels.get(k, k)}={_fmt(v)}" for k, v in point.items()]
    return f"{sweep_name} · {' '.join([*parts, f'seed={seed}'])}"


def _short_labels(keys: Sequence[str]) -> dict[str, str]:
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _check_path(config: ExperimentConfig, key: str, what: str) -> None:
    """Raise SweepError when ``key`` names nothing in the config (free-form options pass)."""
    model: Any = type(config)
    node: Any = config.to_dict()
    parts = key.split(".")
    for i, part in enumerate(parts):
        here = ".".join(parts[:i]) or "the config"
        if isinstance(node, list):
            names = [t.get("name") for t in node if isinstance(t, dict)]
            if part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node):
                node = node[int(part)]
            elif part in names:
                node = node[names.index(part)]
            else:
                raise SweepError(
                    f"{what} {key!r}: {here} has no item {part!r}; use an index below {len(node)} "
                    f"or a name ({', '.join(map(str, names))})"
                )
            continue
        if model is None:
            if isinstance(node, dict):
                return  # inside a free-form mapping (data.options, loss.options): anything goes
            raise SweepError(f"{what} {key!r}: {here} is a single value, not a section with keys")
        fields = model.model_fields
        if part not in fields:
            raise SweepError(
                f"{what} {key!r}: {here} has no key {part!r}; allowed keys: {', '.join(fields)}"
            )
        model = _submodel(fields[part].annotation)
        node = node.get(part) if isinstance(node, dict) else None


def _submodel(annotation: Any) -> type[BaseModel] | None:
    args = getattr(annotation, "__args__", ())
    for candidate in (annotation, *args):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


# --------------------------------------------------------------------------- launching


def sweep_tag(sweep_id: str) -> str:
    """The tag every run of the sweep carries: ``sweep:<sweep_id>``."""
    return f"sweep:{sweep_id}"


def _sweeps_dir(store: RunStore) -> Path:
    return store.home / SWEEPS_DIR


def _record_path(store: RunStore, sweep_id: str) -> Path:
    if not sweep_id or "/" in sweep_id or "\\" in sweep_id or sweep_id.startswith("."):
        raise SweepError(f"{sweep_id!r} is not a sweep id; `python -m mtl sweeps` lists them")
    return _sweeps_dir(store) / f"{sweep_id}.json"


def _write_record(store: RunStore, record: Mapping[str, Any]) -> None:
    path = _record_path(store, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _new_sweep_id(store: RunStore) -> str:
    now = time.time()
    while True:
        sweep_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)
        if not _record_path(store, sweep_id).exists():
            return sweep_id


def check_data(configs: Iterable[ExperimentConfig]) -> None:
    """Prepare the data of each distinct (data, tasks) pair once, so bad data fails before queuing.

    Raises:
        SweepError: naming the data settings that fail and why.
    """
    from mtl.data.prepare import prepare

    seen: set[str] = set()
    for config in configs:
        key = _canonical(
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
            matching one is finished or on its way (:func:`mtl.baseline.ensure_baseline`),
            so :func:`sweep_runs` can fill Δm. They are queued before the grid, tagged
            ``baseline`` (and ``sweep:<id>`` when new), and listed in the record.
        ray: train the grid's runs on this Ray cluster (see :mod:`mtl.runs.ray_executor`);
            the baselines train locally.

    Raises:
        SweepError: the spec is invalid (nothing was queued), or ``baselines`` is asked
            for without :mod:`mtl.baseline`.
    """
    points = _expand(spec)
    if validate_data:
        check_data(config for _, _, config in points)
    if baselines and (reason := delta_support()) is not None:
        raise SweepError(f"cannot queue baselines: {reason}")
    sweep_id = _new_sweep_id(store)
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
    _write_record(store, record)
    tags = (sweep_tag(sweep_id),)
    try:
        if baselines:
            configs = [config for _, _, config in points]
            record["baselines"] = _queue_baselines(store, configs, max_running, warm, tags[0])
        for point, seed, config in points:
            run_id = launch(config, store, max_running, tags=tags, warm=warm, ray=ray)
            record["runs"].append({"id": run_id, "settings": point, "seed": seed})
    finally:
        _write_record(store, record)
    return sweep_id


# --------------------------------------------------------------------------- reading back


def get_sweep(store: RunStore, sweep_id: str) -> dict[str, Any]:
    """The sweep's record: id, name, created_at, spec, base_config, settings, runs.

    Raises:
        SweepError: no such sweep in this store.
    """
    path = _record_path(store, sweep_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(
            f"no sweep '{sweep_id}' in {store.home}; `python -m mtl sweeps` lists them"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise SweepError(f"the sweep record {path} cannot be read ({err}); move it aside") from None


def _records(store: RunStore) -> list[dict[str, Any]]:
    folder = _sweeps_dir(store)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError, json.JSONDecodeError):
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return sorted(out, key=lambda r: r.get("created_at", 0), reverse=True)


def sweeps(store: RunStore) -> pd.DataFrame:
    """Every recorded sweep, newest first.

    Returns:
        Columns ``id, name, created_at, runs, settings, seeds`` and one count column per
        status (:data:`mtl.runs.store.STATUSES`); ``settings`` is the list of swept keys.
    """
    statuses = _statuses(store)
    rows = []
    for record in _records(store):
        ids = [r["id"] for r in record.get("runs", [])]
        counts = _count(statuses, ids)
        rows.append(
            {
                "id": record["id"],
                "name": record.get("name", ""),
                "created_at": record.get("created_at"),
                "runs": len(ids),
                "settings": list(record.get("settings", [])),
                "seeds": list(record.get("spec", {}).get("seeds", [])),
                **counts,
            }
        )
    return pd.DataFrame(
        rows, columns=["id", "name", "created_at", "runs", "settings", "seeds", *STATUSES]
    )


def _statuses(store: RunStore) -> dict[str, str]:
    runs = store.list_runs()
    return dict(zip(runs["id"], runs["status"], strict=True))


def _count(statuses: Mapping[str, str], ids: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for run_id in ids:
        status = statuses.get(run_id)
        if status in counts:
            counts[status] += 1
    return counts


def progress(store: RunStore, sweep_id: str) -> dict[str, int]:
    """Counts of the sweep's grid runs by status (every status in
    :data:`mtl.runs.store.STATUSES`), plus ``total``, ``done`` (ended, any status),
    ``baselines`` (baseline runs recorded with the sweep) and ``baselines_pending``
    (those still queued or running).

    A run deleted from the store counts in ``total`` but in no status.
    """
    record = get_sweep(store, sweep_id)
    ids = [r["id"] for r in record.get("runs", [])]
    statuses = _statuses(store)
    counts = _count(statuses, ids)
    counts["total"] = len(ids)
    counts["done"] = sum(counts[s] for s in TERMINAL_STATUSES)
    base = [b["id"] for b in record.get("baselines", [])]
    counts["baselines"] = len(base)
    counts["baselines_pending"] = sum(statuses.get(b) in ACTIVE for b in base)
    return counts


def is_done(counts: Mapping[str, int]) -> bool:
    """Whether no run of the sweep (nor a baseline it queued) is queued or running any more."""
    return not (
        counts.get("queued", 0) or counts.get("running", 0) or counts.get("baselines_pending", 0)
    )


def metric_label(task: str, metric: str) -> str:
    """The column of a task's final test metric in :func:`sweep_runs`: ``"<task>/<metric>"``."""
    return f"{task}/{metric}"


def metric_columns(frame: pd.DataFrame) -> list[str]:
    """The task-metric columns (``"<task>/<metric>"``) of a :func:`sweep_runs` frame, in order."""
    return [
        c
        for c in frame.columns
        if isinstance(c, str) and "/" in c and c.rsplit("/", 1)[1] in HIGHER_IS_BETTER
    ]


def higher_is_better(column: str) -> bool:
    """Whether bigger is better for a ``"<task>/<metric>"`` column (or :data:`DELTA_COLUMN`)."""
    if column == DELTA_COLUMN:
        return True
    metric = column.rsplit("/", 1)[-1].removesuffix(" mean")
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"{column!r} is not a task-metric column like 'label/accuracy'")
    return HIGHER_IS_BETTER[metric]


def sweep_runs(store: RunStore, sweep_id: str, *, delta: bool = True) -> pd.DataFrame:
    """The sweep's runs, one row each, in grid order.

    Returns:
        Columns ``id, name, status, error``, one column per swept setting (the dotted key,
        the value as given in the grid; lists and mappings as compact JSON text), ``seed``,
        one ``"<task>/<metric>"`` column per final test metric (NaN until the run
        finishes or where undefined), then ``baseline`` and ``delta_m`` (Δm in percent
        against that baseline run) when ``delta`` is true; both are empty where
        :func:`delta_support` reports Δm unavailable or no matching baseline exists.
        ``frame.attrs["tasks"]`` lists ``(task, kind)`` pairs in config order.
    """
    record = get_sweep(store, sweep_id)
    settings = list(record.get("settings", []))
    runs = store.list_runs(with_config=True)
    by_id = {row["id"]: row for row in runs.to_dict("records")}
    tasks = [(t["name"], t.get("kind")) for t in record.get("base_config", {}).get("tasks", [])]
    rows: list[dict[str, Any]] = []
    metric_order: list[str] = []
    for entry in record.get("runs", []):
        run = by_id.get(entry["id"])
        row: dict[str, Any] = {
            "id": entry["id"],
            "name": run["name"] if run else "",
            "status": run["status"] if run else "deleted",
            "error": run["error"] if run else "the run was deleted from the store",
        }
        for key in settings:
            value = entry.get("settings", {}).get(key)
            row[key] = _fmt(value) if isinstance(value, list | dict) else value
        row["seed"] = entry.get("seed")
        test = ((run or {}).get("summary") or {}).get("test") or {}
        for task, values in test.items():
            for metric, value in values.items():
                if metric not in HIGHER_IS_BETTER:
                    continue
                column = metric_label(task, metric)
                if column not in metric_order:
                    metric_order.append(column)
                row[column] = np.nan if value is None else float(value)
        rows.append(row)
    order = sorted(metric_order, key=lambda c: _task_index(c, tasks))
    frame = pd.DataFrame(rows, columns=["id", "name", "status", "error", *settings, "seed", *order])
    frame[order] = frame[order].astype("float64")
    if delta:
        _add_delta(store, frame, by_id)
    frame.attrs["tasks"] = tasks
    return frame


def _task_index(column: str, tasks: Sequence[tuple[str, Any]]) -> int:
    names = [t for t, _ in tasks]
    task = column.rsplit("/", 1)[0]
    return names.index(task) if task in names else len(names)


# --------------------------------------------------------------------------- Δm


def delta_support() -> str | None:
    """``None`` when Δm can be computed, else the reason it cannot (a missing module)."""
    for module, attrs in (
        ("mtl.delta", ("delta_m",)),
        ("mtl.baseline", ("find_baselines", "ensure_baseline")),
    ):
        try:
            loaded = importlib.import_module(module)
        except ImportError:
            return f"Δm needs {module}, which this version does not have"
        missing = [a for a in attrs if not callable(getattr(loaded, a, None))]
        if missing:
            return f"Δm needs {module}.{missing[0]}, which this version does not have"
    return None


def _add_delta(
    store: RunStore, frame: pd.DataFrame, by_id: Mapping[str, Mapping[str, Any]]
) -> None:
    """Fill ``baseline`` and ``delta_m`` for finished runs that have a finished baseline."""
    frame["baseline"] = pd.Series([None] * len(frame), index=frame.index, dtype="object")
    frame[DELTA_COLUMN] = np.nan
    if delta_support() is not None:
        return

    todo: list[tuple[Any, Mapping[str, Any], ExperimentConfig]] = []
    for index, run_id in frame["id"].items():
        run = by_id.get(run_id)
        if not run or run["status"] != RunStatus.FINISHED:
            continue
        try:
            todo.append((index, run, ExperimentConfig.from_dict(run["config"])))
        except ValueError:
            continue  # a config this version no longer accepts: no baseline can match
    if not todo:
        return
    found = find_baselines(store, [config for _, _, config in todo])
    for (index, run, config), baseline_id in zip(todo, found, strict=True):
        baseline = by_id.get(baseline_id) if baseline_id else None
        if baseline is None:
            continue
        mine = (run.get("summary") or {}).get("test") or {}
        theirs = (baseline.get("summary") or {}).get("test") or {}
        result = delta_m(mine, theirs, kinds={t.name: t.kind for t in config.tasks})
        frame.at[index, "baseline"] = baseline_id
        frame.at[index, DELTA_COLUMN] = np.nan if result.value is None else float(result.value)


def _queue_baselines(
    store: RunStore,
    configs: Sequence[ExperimentConfig],
    max_running: int | None,
    warm: bool,
    tag: str,
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
        key = _canonical(target)
        if key in seen:
            continue
        seen.add(key)
        found = ensure_baseline(store, config, detach=True, max_running=max_running, warm=warm)
        if not found.reused:
            store.set_tags(found.run_id, [BASELINE_TAG, tag])
        if not any(b["id"] == found.run_id for b in out):
            out.append({"id": found.run_id, "reused": found.reused})
    return out


# --------------------------------------------------------------------------- aggregation


def aggregate(runs: pd.DataFrame, settings: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation over seeds of every metric, per setting combination.

    Only ``finished`` runs count when the frame has a ``status`` column. The standard
    deviation is the sample one (``ddof=1``), NaN for a single seed; NaN metric values
    (undefined, e.g. AUC with one class) are skipped.

    Args:
        runs: one row per run, e.g. from :func:`sweep_runs`.
        settings: the columns that define a setting (the swept keys).

    Returns:
        One row per setting combination (in order of first appearance): the setting
        columns, ``runs`` (how many finished runs were averaged), then ``"<metric> mean"``
        and ``"<metric> std"`` for each task-metric column (and ``delta_m`` if present).

    Raises:
        ValueError: a setting is not a column of ``runs``.
    """
    settings = list(settings)
    missing = [s for s in settings if s not in runs.columns]
    if missing:
        raise ValueError(
            f"aggregate: {missing} are not columns of the runs; columns: {list(runs.columns)}"
        )
    values = metric_columns(runs) + ([DELTA_COLUMN] if DELTA_COLUMN in runs.columns else [])
    done = runs[runs["status"] == RunStatus.FINISHED] if "status" in runs.columns else runs
    columns = [*settings, "runs"] + [f"{v} {stat}" for v in values for stat in ("mean", "std")]
    if done.empty:
        return pd.DataFrame(columns=columns)
    keys = settings or [done.index.map(lambda _: 0)]  # no setting: one group of all runs
    grouped = done.groupby(keys, sort=False, dropna=False)
    out = pd.DataFrame({"runs": grouped.size()})
    if values:
        stats = grouped[values].agg(["mean", "std"])
        stats.columns = [f"{v} {stat}" for v, stat in stats.columns]
        out = out.join(stats)
    out = out.reset_index(drop=not settings)
    return out[columns].reset_index(drop=True)


def pareto_front(
    frame: pd.DataFrame,
    metric_a: str,
    metric_b: str,
    higher_a: bool = True,
    higher_b: bool = True,
) -> pd.Series:
    """Which rows are Pareto-optimal (non-dominated) on two metrics.

    A row is dominated when another row is at least as good on both metrics and strictly
    better on one. Rows with a missing value in either metric are never on the front and
    dominate nothing; equal rows do not dominate each other.

    Args:
        frame: one row per run or per setting (e.g. :func:`aggregate`'s ``… mean`` columns).
        metric_a, metric_b: the two columns.
        higher_a, higher_b: whether bigger is better for each.

    Returns:
        A boolean Series on ``frame``'s index, True on the front.

    Raises:
        ValueError: a column is missing.
    """
    for column in (metric_a, metric_b):
        if column not in frame.columns:
            raise ValueError(
                f"pareto_front: {column!r} is not a column; columns: {list(frame.columns)}"
            )
    a = frame[metric_a].to_numpy(dtype="float64") * (1.0 if higher_a else -1.0)
    b = frame[metric_b].to_numpy(dtype="float64") * (1.0 if higher_b else -1.0)
    valid = ~(np.isnan(a) | np.isnan(b))
    # dominated[i, j]: row j dominates row i (oriented so bigger is better on both)
    ge = (a[None, :] >= a[:, None]) & (b[None, :] >= b[:, None])
    gt = (a[None, :] > a[:, None]) | (b[None, :] > b[:, None])
    dominated = (ge & gt & valid[None, :]).any(axis=1)
    return pd.Series(valid & ~dominated, index=frame.index, name="pareto")


def default_pareto_metrics(frame: pd.DataFrame) -> tuple[str, str] | None:
    """The two metric columns for a default Pareto view: the headline metric
    (:data:`HEADLINE_METRICS`) of the first two tasks, or of one task and its next metric.

    ``frame`` is a :func:`sweep_runs` frame (uses ``attrs["tasks"]`` for the task kinds
    when present). ``None`` when fewer than two metric columns exist.
    """
    columns = metric_columns(frame)
    if len(columns) < 2:
        return None
    tasks: list[str] = list(dict.fromkeys(c.rsplit("/", 1)[0] for c in columns))
    kinds = dict(frame.attrs.get("tasks", []))
    chosen: list[str] = []
    for task in tasks[:2]:
        mine = [c for c in columns if c.rsplit("/", 1)[0] == task]
        headline = metric_label(task, HEADLINE_METRICS.get(kinds.get(task) or "", ""))
        if headline not in mine:
            headline = next((c for c in mine if not c.endswith("/loss")), mine[0])
        chosen.append(headline)
    if len(chosen) < 2:
        rest = [c for c in columns if c != chosen[0] and not c.endswith("/loss")] or [
            c for c in columns if c != chosen[0]
        ]
        chosen.append(rest[0])
    return chosen[0], chosen[1]
