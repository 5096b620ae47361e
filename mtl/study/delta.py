"""Δm: the multi-task gain of a run over its single-task baseline.

.. math::

    Δm = 100\\% · \\frac{1}{T} \\sum_t \\frac{1}{M_t} \\sum_m s_m \\frac{M_{t,m} - B_{t,m}}{|B_{t,m}|}

``M`` is the multi-task run, ``B`` the baseline (the same tasks learned by one network
each, see :mod:`mtl.study.baseline`), ``s_m = +1`` for a higher-is-better metric and ``-1`` for
a lower-is-better one. A positive Δm means the multi-task run is better on average. Every
task counts the same (``1/T``), whatever its number of metrics (``1/M_t``).

Choices (``docs/delta_m.md`` explains them):

- Metrics: :data:`DEFAULT_METRICS`, i.e. accuracy and macro F1 for classification, RMSE
  and MAE for regression; ``loss`` never (its scale depends on the weighting).
- The denominator is ``|B|``, so the sign of a change follows the metric's direction
  even when the baseline value is negative (R² below 0).
- A baseline value of 0 (``|B| <= ZERO_TOLERANCE``) makes the relative change undefined:
  that metric is left out for that task, with the reason. So is a metric missing or
  undefined (NaN) in either run. A task left with no usable metric is left out of the
  average; when no task is left, Δm itself is undefined (``value is None``).

The module is pure (no I/O, no torch): it works on the per-task metric dicts of a run's
summary (``summary["test"]``: task → metric → value).

Reference: K.-K. Maninis, I. Radosavovic, I. Kokkinos, "Attentive Single-Tasking of
Multiple Tasks", CVPR 2019 (the Δ_MTL measure); S. Vandenhende et al., "Multi-Task
Learning for Dense Prediction Tasks: A Survey", TPAMI 2021.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mtl.metric_names import CLASSIFICATION_METRICS, HIGHER_IS_BETTER, REGRESSION_METRICS

__all__ = [
    "DEFAULT_METRICS",
    "DeltaM",
    "FORMULA",
    "MetricChange",
    "TaskChange",
    "ZERO_TOLERANCE",
    "delta_m",
    "describe_metrics",
    "infer_kind",
    "metrics_for",
    "relative_change",
]

FORMULA = "Δm = 100% · (1/T) Σ_t (1/M_t) Σ_m s_m (M_t,m − B_t,m) / |B_t,m|"
"""The formula as one line of text, for UIs and reports."""

DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "f1"),
    "multiclass": ("accuracy", "f1"),
    "regression": ("rmse", "mae"),
}
"""Task kind → the metrics Δm uses by default (see the module docstring for why)."""

ZERO_TOLERANCE = 1e-12
"""A baseline value with ``|B|`` at or below this counts as 0 (no relative change)."""


def describe_metrics(metrics: Mapping[str, Sequence[str]] | None = None) -> str:
    """The metrics in use, as text for UIs and reports, e.g.
    ``"classification: accuracy, f1; regression: rmse, mae"``.

    Args:
        metrics: the overrides passed to :func:`delta_m` (``None`` = the defaults).
    """
    kinds = ("binary", "multiclass", "regression")
    chosen = {kind: metrics_for("", kind, metrics) for kind in kinds}
    parts: list[str] = []
    if chosen["binary"] == chosen["multiclass"]:
        parts.append(f"classification: {', '.join(chosen['binary'])}")
    else:
        parts += [f"{kind}: {', '.join(chosen[kind])}" for kind in ("binary", "multiclass")]
    parts.append(f"regression: {', '.join(chosen['regression'])}")
    named = [
        f"{task}: {', '.join(names)}"
        for task, names in (metrics or {}).items()
        if task not in (*kinds, "classification")
    ]
    return "; ".join(parts + named)


def relative_change(model: float, baseline: float, higher_is_better: bool) -> float:
    """``s (M − B) / |B|`` in percent: positive when ``model`` is better than ``baseline``.

    Args:
        model: the multi-task run's value ``M``.
        baseline: the baseline's value ``B``; may be negative (R²), not 0.
        higher_is_better: the metric's direction (``s = +1`` if true, else ``-1``).

    Raises:
        ValueError: if ``baseline`` is 0 (within :data:`ZERO_TOLERANCE`) or a value is
            not finite.
    """
    if not (math.isfinite(model) and math.isfinite(baseline)):
        raise ValueError(
            f"relative change needs finite values, found M = {model!r}, B = {baseline!r}"
        )
    if abs(baseline) <= ZERO_TOLERANCE:
        raise ValueError(
            f"relative change is undefined for a baseline value of 0 (found B = {baseline!r})"
        )
    sign = 1.0 if higher_is_better else -1.0
    return 100.0 * sign * (model - baseline) / abs(baseline)


def infer_kind(metrics: Mapping[str, Any]) -> str | None:
    """``"regression"`` or ``"classification"`` from the metric names a task reports, else ``None``."""
    names = set(metrics)
    if names & set(REGRESSION_METRICS):
        return "regression"
    if names & set(CLASSIFICATION_METRICS):
        return "classification"
    return None


def metrics_for(
    task: str, kind: str | None, metrics: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, ...]:
    """The metrics Δm uses for one task.

    Args:
        task: the task name.
        kind: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``"classification"``
            (``None`` = unknown: no metrics unless ``metrics`` names the task).
        metrics: overrides, keyed by task name (wins) or by kind (``"binary"``,
            ``"multiclass"``, ``"regression"``, or ``"classification"`` for both
            classification kinds); anything not named keeps :data:`DEFAULT_METRICS`.

    Returns:
        Metric names, in the order given.
    """
    overrides = dict(metrics or {})
    classification = kind in ("binary", "multiclass", "classification")
    for key in (task, kind, "classification" if classification else None):
        if key is not None and key in overrides:
            return tuple(overrides[key])
    if classification:
        return DEFAULT_METRICS.get(kind or "", DEFAULT_METRICS["binary"])
    return DEFAULT_METRICS.get(kind or "", ())


@dataclass(frozen=True)
class MetricChange:
    """One metric of one task: both values and the signed relative change.

    ``change`` is ``s (M − B) / |B|`` in percent (positive = the run is better), or
    ``None`` with ``excluded`` saying why the metric was left out.
    """

    task: str
    metric: str
    higher_is_better: bool | None
    model: float | None
    baseline: float | None
    change: float | None
    excluded: str | None = None

    @property
    def used(self) -> bool:
        """Whether this metric counts in Δm."""
        return self.change is not None


@dataclass(frozen=True)
class TaskChange:
    """One task's own relative change: the mean over its usable metrics, in percent."""

    task: str
    kind: str | None
    change: float | None
    metrics: tuple[MetricChange, ...]
    excluded: str | None = None

    @property
    def used(self) -> bool:
        """Whether this task counts in Δm."""
        return self.change is not None


@dataclass(frozen=True)
class DeltaM:
    """Δm of a run against a baseline, with every task's and metric's part.

    Attributes:
        value: Δm in percent, ``None`` when no task had a usable metric.
        tasks: one entry per task of either run (run order first).
        excluded: why ``value`` is ``None``, else ``None``.
        run_id, baseline_id, split: optional labels (filled by :mod:`mtl.study.baseline`).
    """

    value: float | None
    tasks: tuple[TaskChange, ...]
    excluded: str | None = None
    run_id: str | None = None
    baseline_id: str | None = None
    split: str | None = None
    formula: str = field(default=FORMULA, repr=False)

    @property
    def used_tasks(self) -> list[str]:
        """The tasks that count in Δm."""
        return [t.task for t in self.tasks if t.used]

    @property
    def verdict(self) -> str | None:
        """How the run compares with its baseline, for a sentence: ``"better than"``,
        ``"worse than"`` or ``"on par with"``; ``None`` when Δm is undefined."""
        if self.value is None:
            return None
        if self.value == 0:
            return "on par with"
        return "better than" if self.value > 0 else "worse than"

    def task(self, name: str) -> TaskChange:
        """The entry of task ``name``."""
        for one in self.tasks:
            if one.task == name:
                return one
        raise KeyError(f"no task {name!r}; tasks: {', '.join(t.task for t in self.tasks)}")

    def tasks_frame(self) -> pd.DataFrame:
        """One row per task: ``task, kind, change, metrics, excluded`` (change in percent)."""
        rows = [
            {
                "task": t.task,
                "kind": t.kind,
                "change": t.change,
                "metrics": ", ".join(m.metric for m in t.metrics if m.used),
                "excluded": t.excluded,
            }
            for t in self.tasks
        ]
        return pd.DataFrame(rows, columns=["task", "kind", "change", "metrics", "excluded"])

    def metrics_frame(self) -> pd.DataFrame:
        """One row per (task, metric): ``task, metric, better, baseline, model, change, excluded``.

        ``better`` is ``"higher"`` or ``"lower"``; ``change`` is the signed relative
        change in percent (positive = the run is better), NaN when excluded.
        """
        rows = [
            {
                "task": m.task,
                "metric": m.metric,
                "better": None
                if m.higher_is_better is None
                else ("higher" if m.higher_is_better else "lower"),
                "baseline": m.baseline,
                "model": m.model,
                "change": m.change,
                "excluded": m.excluded,
            }
            for t in self.tasks
            for m in t.metrics
        ]
        frame = pd.DataFrame(
            rows, columns=["task", "metric", "better", "baseline", "model", "change", "excluded"]
        )
        for column in ("baseline", "model", "change"):
            frame[column] = frame[column].astype("float64")
        return frame

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible data (``None`` for undefined numbers)."""
        return {
            "delta_m": self.value,
            "run_id": self.run_id,
            "baseline_id": self.baseline_id,
            "split": self.split,
            "formula": self.formula,
            "excluded": self.excluded,
            "tasks": [
                {
                    "task": t.task,
                    "kind": t.kind,
                    "change": t.change,
                    "excluded": t.excluded,
                    "metrics": [
                        {
                            "metric": m.metric,
                            "higher_is_better": m.higher_is_better,
                            "model": m.model,
                            "baseline": m.baseline,
                            "change": m.change,
                            "excluded": m.excluded,
                        }
                        for m in t.metrics
                    ],
                }
                for t in self.tasks
            ],
        }

    def describe(self) -> str:
        """One line, e.g. ``"Δm = +3.21% (y1 +4.02%, y2 +2.40%)"``."""
        if self.value is None:
            return f"Δm undefined: {self.excluded}"
        parts = [f"{t.task} {t.change:+.2f}%" for t in self.tasks if t.change is not None]
        left_out = [t.task for t in self.tasks if not t.used]
        text = f"Δm = {self.value:+.2f}% ({', '.join(parts)})"
        return text + (f"; left out: {', '.join(left_out)}" if left_out else "")


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _metric_change(
    task: str, metric: str, model: Mapping[str, Any], baseline: Mapping[str, Any]
) -> MetricChange:
    higher = HIGHER_IS_BETTER.get(metric)
    m, b = _number(model.get(metric)), _number(baseline.get(metric))

    def left_out(reason: str) -> MetricChange:
        return MetricChange(task, metric, higher, m, b, None, reason)

    if metric == "loss":
        return left_out("the loss is not an evaluation metric (its scale depends on the weighting)")
    if higher is None:
        return left_out(f"unknown direction for metric {metric!r} (not in HIGHER_IS_BETTER)")
    for value, where, values in ((b, "baseline", baseline), (m, "run", model)):
        if value is None:
            if metric not in values:
                return left_out(f"not recorded in the {where}")
            reasons = values.get("undefined")
            reason = reasons.get(metric) if isinstance(reasons, Mapping) else None
            return left_out(f"undefined in the {where}" + (f" ({reason})" if reason else ""))
    if m is None or b is None:  # unreachable; narrows the types
        return left_out("undefined")
    if abs(b) <= ZERO_TOLERANCE:
        return left_out("the baseline value is 0, so the relative change is undefined")
    return MetricChange(task, metric, higher, m, b, relative_change(m, b, higher))


def delta_m(
    model: Mapping[str, Mapping[str, Any]],
    baseline: Mapping[str, Mapping[str, Any]],
    *,
    kinds: Mapping[str, str | None] | None = None,
    metrics: Mapping[str, Sequence[str]] | None = None,
) -> DeltaM:
    """Δm of ``model`` against ``baseline``, with each task's and metric's part.

    Args:
        model: the multi-task run's metrics, task → metric → value (e.g.
            ``summary["test"]``; ``None``/NaN = undefined, an ``"undefined"`` entry may
            give reasons, ``"loss"`` is ignored).
        baseline: the baseline's metrics, same shape.
        kinds: task → ``"binary"``/``"multiclass"``/``"regression"``; a task not given
            (or ``None``) has its kind inferred from its metric names (:func:`infer_kind`).
        metrics: which metrics to use, by task name or kind (see :func:`metrics_for`);
            default :data:`DEFAULT_METRICS`.

    Returns:
        A :class:`DeltaM`. Tasks of only one run, metrics that are missing, undefined or
        0 in the baseline, and tasks without any usable metric are kept in
        ``DeltaM.tasks`` with the reason they were left out.
    """
    kinds = dict(kinds or {})
    names = list(dict.fromkeys([*model, *baseline]))
    tasks: list[TaskChange] = []
    for task in names:
        mine, base = model.get(task), baseline.get(task)
        kind = kinds.get(task) or infer_kind(mine or base or {})
        if mine is None or base is None:
            where = "run" if mine is None else "baseline"
            tasks.append(TaskChange(task, kind, None, (), f"the task is not in the {where}"))
            continue
        wanted = metrics_for(task, kind, metrics)
        if not wanted:
            tasks.append(
                TaskChange(task, kind, None, (), f"no metrics chosen for task kind {kind!r}")
            )
            continue
        changes = tuple(_metric_change(task, metric, mine, base) for metric in wanted)
        used = [c.change for c in changes if c.change is not None]
        if not used:
            tasks.append(
                TaskChange(task, kind, None, changes, "no usable metric (see each metric's reason)")
            )
            continue
        tasks.append(TaskChange(task, kind, sum(used) / len(used), changes))
    usable = [t.change for t in tasks if t.change is not None]
    if not usable:
        reason = "no task has a usable metric" if tasks else "there are no tasks"
        return DeltaM(None, tuple(tasks), reason)
    return DeltaM(sum(usable) / len(usable), tuple(tasks))
