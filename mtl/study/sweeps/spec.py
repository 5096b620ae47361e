"""A sweep spec and its expansion: a base config, the settings to vary and the seeds, turned
into one validated :class:`~mtl.config.ExperimentConfig` per grid point × seed.

A sweep spec (YAML, see ``docs/sweeps.md``) names a base config and the settings to vary::

    name: sharing-vs-weighting
    base: seed-example                 # preset name, config file, or an inline config
    overrides: {train.epochs: 10}      # fixed changes for every run (optional)
    grid:
      model.sharing: [hard, mmoe]
      loss.weighting: [equal, uncertainty]
    seeds: [0, 1, 2]                   # applied to train.seed

Every combination is validated before anything is queued (:func:`expand`).

A *search* (``search: random | tpe | nsga2``) asks Optuna for ``trials`` settings instead of
trying every combination: grid lists become choices, ``ranges`` give continuous intervals,
``objective`` names the metric(s) to optimise and ``pruning`` stops hopeless trials (see
:mod:`mtl.study.search`, which drives it). This module only validates the spec.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mtl import presets
from mtl.config import ConfigError, ExperimentConfig, format_validation_error
from mtl.errors import SweepError  # re-exported from here too
from mtl.metric_names import HEADLINE_METRICS, HIGHER_IS_BETTER, metric_names

__all__ = [
    "MAX_RUNS",
    "PRUNERS",
    "SEARCHES",
    "Range",
    "SweepError",
    "SweepSpec",
    "base_config",
    "canonical",
    "expand",
    "expand_points",
    "format_value",
    "grid_points",
    "load_spec",
    "check_search",
    "run_label",
    "search_config",
    "search_objectives",
]

MAX_RUNS = 1000  # a larger grid is almost always a typo; split it into several sweeps

_RESERVED_KEYS = {
    "name": "the run names are made by the sweep",
    "train.seed": "use `seeds:` instead",
}


SEARCHES: tuple[str, ...] = ("grid", "random", "tpe", "nsga2")
"""``grid``: every combination; ``random``, ``tpe``: Optuna's RandomSampler / TPESampler on one
objective; ``nsga2``: NSGAIISampler on several objectives (the tasks' headline metrics)."""
PRUNERS: tuple[str, ...] = ("none", "median", "halving")
"""``median``: Optuna's MedianPruner; ``halving``: its SuccessiveHalvingPruner."""


# --------------------------------------------------------------------------- the spec


class Range(BaseModel):
    """A continuous interval a search draws from: ``{low: 1e-4, high: 0.1, log: true}``."""

    model_config = ConfigDict(extra="forbid")

    low: float = Field(..., description="Smallest value.")
    high: float = Field(..., description="Largest value (≥ low).")
    log: bool = Field(False, description="Draw uniformly in log space (learning rates).")
    integer: bool = Field(False, description="Draw whole numbers (epochs, batch sizes).")

    @model_validator(mode="after")
    def _check(self) -> Range:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"low and high must be finite numbers, found {self.low}, {self.high}")
        if self.low > self.high:
            raise ValueError(f"low {self.low:g} is above high {self.high:g}")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, found {self.low:g}")
        return self


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
        default_factory=lambda: [0],
        description="Values of train.seed; one run per seed (a search: per trial).",
    )
    search: Literal["grid", "random", "tpe", "nsga2"] = Field(
        "grid", description="grid: every combination; random, tpe, nsga2: an Optuna search."
    )
    trials: int | None = Field(
        None, description="Runs a search asks for (default 10); only with a search."
    )
    ranges: dict[str, Range] = Field(
        default_factory=dict, description="Dotted key → {low, high, log}: a search's intervals."
    )
    objective: str | list[str] | None = Field(
        None,
        description="'<task>/<metric>' to optimise on the validation split (nsga2: a list); "
        "default: the first task's headline metric (nsga2: every task's).",
    )
    pruning: Literal["none", "median", "halving"] = Field(
        "none", description="Stop hopeless trials on their epoch metrics (single objective)."
    )
    search_seed: int = Field(0, description="Seed of the search's sampler.")

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
            shown = [canonical(v) for v in values]
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

    @field_validator("ranges")
    @classmethod
    def _check_ranges(cls, ranges: dict[str, Range]) -> dict[str, Range]:
        for key in ranges:
            _check_key(key, "ranges")
        return ranges

    @model_validator(mode="after")
    def _check_search(self) -> SweepSpec:
        if self.search == "grid":
            extra = [
                k
                for k, on in (
                    ("trials", self.trials is not None),
                    ("ranges", bool(self.ranges)),
                    ("objective", self.objective is not None),
                    ("pruning", self.pruning != "none"),
                )
                if on
            ]
            if extra:
                raise ValueError(
                    f"{', '.join(extra)} only apply to a search; set search: random, tpe or nsga2"
                )
            return self
        if self.trials is not None and self.trials < 1:
            raise ValueError(f"trials must be at least 1, found {self.trials}")
        if self.trials is not None and self.trials > MAX_RUNS:
            raise ValueError(f"trials {self.trials} is above the limit of {MAX_RUNS} runs")
        both = sorted(set(self.grid) & set(self.ranges))
        if both:
            raise ValueError(f"{', '.join(both)} is both in grid and in ranges; keep one")
        if not self.grid and not self.ranges:
            raise ValueError(f"a {self.search} search needs ranges or grid choices to draw from")
        objectives = self.objectives
        for name in objectives:
            task, _, metric = name.rpartition("/")
            if not task or metric not in HIGHER_IS_BETTER:
                raise ValueError(
                    f"objective {name!r} is not '<task>/<metric>' with a metric among "
                    f"{', '.join(HIGHER_IS_BETTER)}"
                )
        if self.search == "nsga2":
            if self.pruning != "none":
                raise ValueError(
                    "pruning needs a single objective (Optuna does not prune multi-objective "
                    "studies); remove pruning or use search: tpe"
                )
            if self.objective is not None and len(objectives) < 2:
                raise ValueError("nsga2 optimises several objectives; list at least two")
        elif len(objectives) > 1:
            raise ValueError(
                f"a {self.search} search has one objective, found {len(objectives)}; "
                "use search: nsga2 for several"
            )
        return self

    @property
    def objectives(self) -> list[str]:
        """The objectives as given (empty: the default, resolved against the base config)."""
        if self.objective is None:
            return []
        return [self.objective] if isinstance(self.objective, str) else list(self.objective)

    @property
    def n_trials(self) -> int:
        """How many trials a search asks for (``trials``, default 10)."""
        return 10 if self.trials is None else self.trials

    @property
    def size(self) -> int:
        """Number of runs: grid points × seeds, or a search's trials × seeds."""
        if self.search != "grid":
            return self.n_trials * len(self.seeds)
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
                f"sweep {spec.name!r} has {spec.size} runs ({'grid' if spec.search == 'grid' else 'trials'} × seeds); at most {MAX_RUNS} "
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
    return [config for _, _, config in expand_points(spec)]


def expand_points(spec: SweepSpec) -> list[tuple[dict[str, Any], int, ExperimentConfig]]:
    """Like :func:`expand`, with each config's grid point and seed: ``(point, seed, config)``."""
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


# --------------------------------------------------------------------------- searches


def search_objectives(spec: SweepSpec, base: ExperimentConfig) -> list[tuple[str, bool]]:
    """A search's objectives as ``("<task>/<metric>", higher_is_better)`` pairs.

    Default: the first task's headline metric (``nsga2``: every task's, and a single task's
    headline metric with its loss). Each objective is read on the validation split.

    Raises:
        SweepError: an objective names a task the base config does not have, or a metric
            that task kind does not report.
    """
    kinds = {t.name: t.kind for t in base.tasks}
    names = spec.objectives
    if not names:
        heads = [f"{t.name}/{HEADLINE_METRICS.get(t.kind or '', 'loss')}" for t in base.tasks]
        names = heads if spec.search == "nsga2" else heads[:1]
        if len(names) == 1 and spec.search == "nsga2":
            names.append(f"{base.tasks[0].name}/loss")
    out = []
    for name in names:
        task, _, metric = name.rpartition("/")
        if task not in kinds:
            raise SweepError(
                f"sweep {spec.name!r}: objective {name!r}: no task {task!r}; "
                f"tasks: {', '.join(kinds)}"
            )
        kind = kinds[task]
        allowed = (*metric_names(kind), "loss") if kind else tuple(HIGHER_IS_BETTER)
        if metric not in allowed:
            raise SweepError(
                f"sweep {spec.name!r}: objective {name!r}: a {kind} task reports "
                f"{', '.join(allowed)}"
            )
        out.append((name, HIGHER_IS_BETTER[metric]))
    return out


def check_search(spec: SweepSpec) -> ExperimentConfig:
    """Validate a search before anything is queued; return its base config.

    Every key must name a config field, and the config must be valid at each choice and at
    both ends of each range (the other keys at the base config's values).

    Raises:
        SweepError: naming the key, the value and why.
    """
    base = base_config(spec)
    for key in [*spec.grid, *spec.ranges]:
        _check_path(
            base, key, f"sweep {spec.name!r}: {'grid' if key in spec.grid else 'ranges'} key"
        )
    search_objectives(spec, base)
    probes: list[tuple[str, Any]] = [(k, v) for k, values in spec.grid.items() for v in values]
    for key, span in spec.ranges.items():
        ends = (int(span.low), int(span.high)) if span.integer else (span.low, span.high)
        probes += [(key, ends[0]), (key, ends[1])]
    for key, value in probes:
        try:
            base.with_overrides({key: value, "train.seed": spec.seeds[0]})
        except ConfigError as err:
            raise SweepError(f"sweep {spec.name!r}: {key}={format_value(value)}: {err}") from None
    return base


def search_config(
    spec: SweepSpec,
    base: ExperimentConfig,
    params: Mapping[str, Any],
    trial: int,
    seed: int | None = None,
) -> ExperimentConfig:
    """The config of search trial ``trial`` with the sampled ``params`` on ``seed`` (default:
    the spec's first seed), named ``"<sweep> · #<trial> key=value … seed=N"``.

    Raises:
        SweepError: the sampled combination is invalid.
    """
    seed = spec.seeds[0] if seed is None else seed
    name = run_label(f"{spec.name} · #{trial}", params, seed)
    try:
        return base.with_overrides({**params, "train.seed": seed, "name": name})
    except ConfigError as err:
        raise SweepError(f"sweep {spec.name!r}: trial {trial}: {err}") from None


def _describe(point: Mapping[str, Any], seeds: Sequence[int], n_seeds: int) -> str:
    text = ", ".join(f"{k}={format_value(v)}" for k, v in point.items()) or "the base config"
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
    parts = [f"{labels.get(k, k)}={format_value(v)}" for k, v in point.items()]
    return f"{sweep_name} · {' '.join([*parts, f'seed={seed}'])}"


def _short_labels(keys: Sequence[str]) -> dict[str, str]:
    last = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: (s if last.count(s) == 1 else k) for k, s in zip(keys, last, strict=True)}


def format_value(value: Any) -> str:
    """A grid value as short text: floats with ``g``, lists and mappings as compact JSON."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def canonical(value: Any) -> str:
    """A JSON text equal for equal values (sorted keys), to spot repeated settings."""
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
