"""Sweeps: a grid of settings × seeds, queued as ordinary runs, then aggregated over seeds.

- :mod:`~mtl.study.sweeps.spec`: the spec (YAML, see ``docs/sweeps.md``) and its expansion
  into one validated config per grid point and seed (:func:`expand`);
- :mod:`~mtl.study.sweeps.records`: the sweep's record, ``<home>/sweeps/<sweep_id>.json``;
- :mod:`~mtl.study.sweeps.launch`: :func:`launch_sweep` queues every run through the
  launcher, each tagged ``sweep:<sweep_id>`` (and, with ``baselines=True``, the single-task
  baselines Δm needs);
- :mod:`~mtl.study.sweeps.results`: :func:`sweep_runs` reads the runs back as one row each
  with their settings, final test metrics and Δm; :func:`aggregate` (mean ± std over seeds)
  and :func:`pareto_front` (non-dominated rows) are pure pandas.

The public API is re-exported here. Nothing in this package imports torch (the dashboard uses
it); scikit-learn is loaded only when a launch checks the data.
"""

from __future__ import annotations

from mtl.study.sweeps.launch import check_data, launch_sweep
from mtl.study.sweeps.records import SWEEPS_DIR, get_sweep, sweep_tag
from mtl.study.sweeps.results import (
    DELTA_COLUMN,
    HEADLINE_METRICS,
    aggregate,
    default_pareto_metrics,
    delta_support,
    higher_is_better,
    is_done,
    metric_columns,
    metric_label,
    pareto_front,
    progress,
    sweep_runs,
    sweeps,
)
from mtl.study.sweeps.spec import (
    MAX_RUNS,
    SweepError,
    SweepSpec,
    base_config,
    expand,
    grid_points,
    load_spec,
    run_label,
)

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
