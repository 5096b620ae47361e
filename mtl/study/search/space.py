"""A search spec in Optuna's terms: distributions, sampler, pruner and directions."""

from __future__ import annotations

from collections.abc import Sequence

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from mtl.study.sweeps.spec import SweepSpec, canonical

__all__ = ["choice_value", "distributions", "make_study"]


def distributions(spec: SweepSpec) -> dict[str, BaseDistribution]:
    """One distribution per swept key: grid lists become choices (a list or mapping value as
    its JSON text, see :func:`choice_value`), ranges uniform or log-uniform intervals."""
    out: dict[str, BaseDistribution] = {}
    for key, values in spec.grid.items():
        out[key] = CategoricalDistribution([_choice(v) for v in values])
    for key, span in spec.ranges.items():
        if span.integer:
            out[key] = IntDistribution(int(span.low), int(span.high), log=span.log)
        else:
            out[key] = FloatDistribution(span.low, span.high, log=span.log)
    return out


def _choice(value: object) -> None | bool | int | float | str:
    """Optuna's choices must be scalars: a list or mapping becomes its JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return canonical(value)


def choice_value(spec: SweepSpec, key: str, sampled: object) -> object:
    """The config value of a sampled parameter (a grid list or mapping back from its JSON)."""
    for value in spec.grid.get(key, ()):
        if _choice(value) == sampled and not isinstance(value, bool | int | float | str):
            return value
    return sampled


def make_study(spec: SweepSpec, higher_is_better: Sequence[bool], parallel: int) -> optuna.Study:
    """An in-memory Optuna study for ``spec`` (the run store, not Optuna's storage, is the
    record of the trials).

    - ``random``: RandomSampler; ``tpe``: TPESampler (its random start-up trials are a third
      of the budget, 2 to 10; with ``parallel`` > 1 the "constant liar" keeps concurrent
      trials apart); ``nsga2``: NSGAIISampler with a population of half the budget (4 to 50).
    - ``pruning``: ``median`` is MedianPruner, ``halving`` SuccessiveHalvingPruner; both wait
      for a fifth of the budget (1 to 5) of finished trials and one epoch.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    n = spec.n_trials
    sampler: optuna.samplers.BaseSampler
    if spec.search == "random":
        sampler = optuna.samplers.RandomSampler(seed=spec.search_seed)
    elif spec.search == "tpe":
        sampler = optuna.samplers.TPESampler(
            seed=spec.search_seed,
            n_startup_trials=max(2, min(10, n // 3)),
            constant_liar=parallel > 1,
        )
    else:
        sampler = optuna.samplers.NSGAIISampler(
            seed=spec.search_seed, population_size=max(4, min(50, n // 2))
        )
    pruner: optuna.pruners.BasePruner
    if spec.pruning == "median":
        pruner = optuna.pruners.MedianPruner(
            n_startup_trials=max(1, min(5, n // 5)), n_warmup_steps=1
        )
    elif spec.pruning == "halving":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    else:
        pruner = optuna.pruners.NopPruner()
    directions = [
        optuna.study.StudyDirection.MAXIMIZE if up else optuna.study.StudyDirection.MINIMIZE
        for up in higher_is_better
    ]
    return optuna.create_study(directions=directions, sampler=sampler, pruner=pruner)
