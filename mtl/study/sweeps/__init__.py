"""Sweeps: a grid of settings × seeds, queued as ordinary runs, then aggregated over seeds.

- :mod:`~mtl.study.sweeps.spec`: the spec (YAML, see ``docs/sweeps.md``) and its expansion
  into one validated config per grid point and seed (:func:`expand`);
- :mod:`~mtl.study.sweeps.records`: the sweep's record, ``<home>/sweeps/<sweep_id>.json``;
- :mod:`~mtl.study.sweeps.launch`: :func:`launch_sweep` queues every run through the
  launcher, each tagged ``sweep:<sweep_id>`` (and, with ``baselines=True``, the single-task
  baselines Δm needs);
- :mod:`~mtl.study.sweeps.results`: :func:`sweep_runs` reads the runs back as one row each
  with their settings, final test metrics and Δm; :func:`aggregate` (mean ± std over seeds)
  and :func:`pareto_front` (non-dominated rows) are pure pandas;
- :mod:`~mtl.study.sweeps.search_results`: a search's trials (:func:`search_trials`), its best
  trial or Pareto front of several objectives, and the importance its driver recorded.

A spec with ``search: random | tpe | nsga2`` is launched by :func:`launch_search`, which
records it and starts its Optuna driver (:mod:`mtl.study.search`) as its own process.

The public API is re-exported here. Nothing in this package imports torch (the dashboard uses
it); scikit-learn is loaded only when a launch checks the data.
"""

from __future__ import annotations

from mtl.study.sweeps.launch import check_data, launch_search, launch_sweep
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
    search_state,
    sweep_runs,
    sweeps,
)
from mtl.study.sweeps.search_results import (
    best_trial,
    non_dominated,
    objective_column,
    objective_columns,
    search_summary,
    search_trials,
    trial_table,
)
from mtl.study.sweeps.spec import (
    MAX_RUNS,
    PRUNERS,
    SEARCHES,
    Range,
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
    "PRUNERS",
    "SEARCHES",
    "SWEEPS_DIR",
    "Range",
    "SweepError",
    "SweepSpec",
    "aggregate",
    "base_config",
    "best_trial",
    "check_data",
    "default_pareto_metrics",
    "delta_support",
    "expand",
    "get_sweep",
    "grid_points",
    "higher_is_better",
    "is_done",
    "launch_search",
    "launch_sweep",
    "load_spec",
    "metric_columns",
    "metric_label",
    "non_dominated",
    "objective_column",
    "objective_columns",
    "pareto_front",
    "progress",
    "run_label",
    "search_state",
    "search_summary",
    "search_trials",
    "trial_table",
    "sweep_runs",
    "sweep_tag",
    "sweeps",
]
