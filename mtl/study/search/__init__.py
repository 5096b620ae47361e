"""Searches beyond grids, with Optuna: the driver of a sweep whose spec says
``search: random | tpe | nsga2`` (see ``docs/sweeps.md``).

- :mod:`~mtl.study.search.space`: the spec's choices and ranges as Optuna distributions, and
  its sampler, pruner and directions;
- :mod:`~mtl.study.search.driver`: :func:`run_search`, the ask-and-tell loop: ask Optuna for
  a trial's settings, launch it as one ordinary run per seed, report its epoch metrics (the
  mean over its runs) to the pruner (stopping the hopeless ones), tell Optuna the mean of its
  runs' final validation values; at the end, the hyperparameter importance is written into
  the sweep's record as JSON.

Optuna is imported here and nowhere else: the search runs in its own process
(``python -m mtl.study.search``, started by :func:`mtl.study.sweeps.launch_search`), so neither
the CLI's start-up nor the dashboard loads it. Torch-free: trials train in their own workers.
"""

from __future__ import annotations

from mtl.study.search.driver import importance, run_search
from mtl.study.search.space import distributions, make_study

__all__ = ["distributions", "importance", "make_study", "run_search"]
