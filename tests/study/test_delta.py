"""Δm on known numbers, worked out by hand (docs/delta_m.md has the same example)."""

from __future__ import annotations

import json
import math

import pytest

from mtl.study.delta import (
    DEFAULT_METRICS,
    FORMULA,
    ZERO_TOLERANCE,
    delta_m,
    describe_metrics,
    infer_kind,
    metrics_for,
    relative_change,
)

# A classification task, a regression task with a negative R², and a task whose only
# metrics are unusable (a baseline value of 0 and an undefined value).
RUN = {
    "species": {"loss": 0.30, "accuracy": 0.90, "f1": 0.80, "auc_roc": 0.95},
    "mass": {"loss": 0.50, "mse": 2.25, "rmse": 1.5, "mae": 1.0, "r2": -0.25},
    "rare": {"loss": 0.70, "accuracy": 0.50, "f1": None, "undefined": {"f1": "no positive rows"}},
}
BASELINE = {
    "species": {"loss": 0.10, "accuracy": 0.80, "f1": 0.0, "auc_roc": 0.90},
    "mass": {"loss": 0.90, "mse": 4.0, "rmse": 2.0, "mae": 1.0, "r2": -0.5},
    "rare": {"loss": 0.70, "accuracy": 0.0, "f1": 0.4},
}
KINDS = {"species": "multiclass", "mass": "regression", "rare": "binary"}
METRICS = {"regression": ["rmse", "mae", "r2"]}


def test_hand_computed_delta_m_with_mixed_directions_zero_and_negative_baselines() -> None:
    # species: accuracy (0.90 - 0.80) / 0.80 = +12.5 %; f1's baseline is 0: left out.
    # mass: rmse is lower-is-better: -(1.5 - 2.0) / 2.0 = +25 %; mae unchanged: 0 %;
    #       r2 is higher-is-better with a negative baseline: (-0.25 - -0.5) / |-0.5| = +50 %
    #       → task change (25 + 0 + 50) / 3 = +25 %.
    # rare: accuracy's baseline is 0 and f1 is undefined in the run: the task is left out.
    # Δm = (12.5 + 25) / 2 = +18.75 %.
    result = delta_m(RUN, BASELINE, kinds=KINDS, metrics=METRICS)

    assert result.value == pytest.approx(18.75)
    assert result.used_tasks == ["species", "mass"]
    species, mass, rare = result.tasks
    assert species.change == pytest.approx(12.5)
    assert [m.metric for m in species.metrics] == ["accuracy", "f1"]
    assert species.metrics[0].change == pytest.approx(12.5)
    assert (
        species.metrics[1].change is None and "baseline value is 0" in species.metrics[1].excluded
    )
    assert [m.change for m in mass.metrics] == [
        pytest.approx(25.0),
        pytest.approx(0.0),
        pytest.approx(50.0),
    ]
    assert mass.change == pytest.approx(25.0)
    assert rare.change is None and rare.excluded
    assert "baseline value is 0" in rare.metrics[0].excluded
    assert "undefined in the run (no positive rows)" in rare.metrics[1].excluded


def test_the_same_by_the_formula_written_out() -> None:
    # Δm = 100 · (1/T) Σ_t (1/M_t) Σ_m s_m (M − B) / |B| over the usable metrics only.
    usable = {
        "species": [(0.90, 0.80, +1)],
        "mass": [(1.5, 2.0, -1), (1.0, 1.0, -1), (-0.25, -0.5, +1)],
    }
    by_hand = (
        100
        * sum(
            sum(s * (m - b) / abs(b) for m, b, s in items) / len(items) for items in usable.values()
        )
        / len(usable)
    )
    assert delta_m(RUN, BASELINE, kinds=KINDS, metrics=METRICS).value == pytest.approx(by_hand)


def test_a_worse_run_gives_a_negative_delta_m() -> None:
    worse = {"mass": {"rmse": 2.5, "mae": 1.2}}
    base = {"mass": {"rmse": 2.0, "mae": 1.0}}
    # rmse -(2.5 - 2) / 2 = -25 %, mae -(1.2 - 1) / 1 = -20 % → Δm = -22.5 %
    assert delta_m(worse, base).value == pytest.approx(-22.5)
    # and swapping the roles flips the sign of each change
    assert delta_m(base, worse).value == pytest.approx(-(-0.5 / 2.5 - 0.2 / 1.2) / 2 * 100)


def test_relative_change_follows_the_metric_direction() -> None:
    assert relative_change(0.9, 0.8, True) == pytest.approx(12.5)
    assert relative_change(1.5, 2.0, False) == pytest.approx(25.0)
    assert relative_change(2.5, 2.0, False) == pytest.approx(-25.0)
    # negative baseline: (M - B) / |B| keeps "better = positive"; (M - B) / B would not
    assert relative_change(-0.25, -0.5, True) == pytest.approx(50.0)
    assert relative_change(-0.75, -0.5, True) == pytest.approx(-50.0)
    with pytest.raises(ValueError, match="baseline value of 0"):
        relative_change(0.1, 0.0, True)
    with pytest.raises(ValueError, match="baseline value of 0"):
        relative_change(0.1, ZERO_TOLERANCE / 2, True)
    with pytest.raises(ValueError, match="finite"):
        relative_change(math.nan, 1.0, True)


def test_default_metrics_are_accuracy_f1_and_rmse_mae_never_loss() -> None:
    assert DEFAULT_METRICS == {
        "binary": ("accuracy", "f1"),
        "multiclass": ("accuracy", "f1"),
        "regression": ("rmse", "mae"),
    }
    result = delta_m(RUN, BASELINE, kinds=KINDS)
    assert [m.metric for m in result.task("mass").metrics] == ["rmse", "mae"]
    assert result.task("mass").change == pytest.approx(12.5)  # (25 + 0) / 2
    assert all(m.metric != "loss" for t in result.tasks for m in t.metrics)
    assert describe_metrics() == "classification: accuracy, f1; regression: rmse, mae"


def test_kinds_are_inferred_from_the_metric_names() -> None:
    assert infer_kind(RUN["species"]) == "classification"
    assert infer_kind(RUN["mass"]) == "regression"
    assert infer_kind({"loss": 1.0}) is None
    assert delta_m(RUN, BASELINE).value == delta_m(RUN, BASELINE, kinds=KINDS).value


def test_metric_choice_by_task_name_beats_kind_beats_default() -> None:
    overrides = {"mass": ["r2"], "regression": ["mae"], "classification": ["auc_roc"]}
    assert metrics_for("mass", "regression", overrides) == ("r2",)
    assert metrics_for("other", "regression", overrides) == ("mae",)
    assert metrics_for("species", "multiclass", overrides) == ("auc_roc",)
    assert metrics_for(
        "species", "multiclass", {"multiclass": ["f1"], "classification": ["auc_roc"]}
    ) == ("f1",)
    assert metrics_for("x", "binary") == ("accuracy", "f1")
    assert metrics_for("x", None) == ()
    result = delta_m(RUN, BASELINE, metrics=overrides)
    assert result.task("species").change == pytest.approx(100 * (0.95 - 0.90) / 0.90)
    assert result.task("mass").change == pytest.approx(50.0)


def test_unusable_inputs_are_left_out_with_a_reason() -> None:
    result = delta_m(
        {"a": {"rmse": 1.0}, "b": {"rmse": 1.0}}, {"a": {"rmse": 2.0}, "c": {"rmse": 1.0}}
    )
    # a: rmse -(1 - 2) / 2 = +50 %, mae not recorded: left out; b and c are in one run only
    assert result.value == pytest.approx(50.0)
    assert result.task("a").metrics[1].excluded == "not recorded in the baseline"
    assert result.task("b").excluded == "the task is not in the baseline"
    assert result.task("c").excluded == "the task is not in the run"

    nothing = delta_m({"a": {"accuracy": 0.5, "f1": 0.5}}, {"a": {"accuracy": 0.0, "f1": 0.0}})
    assert nothing.value is None
    assert nothing.excluded == "no task has a usable metric"
    assert "Δm undefined" in nothing.describe()

    odd = delta_m({"a": {"rmse": math.inf, "mae": 1.0}}, {"a": {"rmse": 1.0, "mae": math.nan}})
    assert odd.value is None
    assert [m.excluded for m in odd.task("a").metrics] == [
        "undefined in the run",
        "undefined in the baseline",
    ]


def test_results_export_as_json_and_frames() -> None:
    result = delta_m(RUN, BASELINE, kinds=KINDS, metrics=METRICS)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["delta_m"] == pytest.approx(18.75)
    assert data["formula"] == FORMULA
    assert [t["task"] for t in data["tasks"]] == ["species", "mass", "rare"]
    assert data["tasks"][1]["metrics"][2] == {
        "metric": "r2",
        "higher_is_better": True,
        "model": -0.25,
        "baseline": -0.5,
        "change": pytest.approx(50.0),
        "excluded": None,
    }
    tasks = result.tasks_frame()
    assert list(tasks.columns) == ["task", "kind", "change", "metrics", "excluded"]
    assert tasks.loc[1, "metrics"] == "rmse, mae, r2"
    metrics = result.metrics_frame()
    assert len(metrics) == 2 + 3 + 2
    assert metrics.loc[metrics["metric"] == "rmse", "better"].item() == "lower"
    assert result.describe() == "Δm = +18.75% (species +12.50%, mass +25.00%); left out: rare"
