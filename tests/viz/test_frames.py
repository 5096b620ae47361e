"""Chart-ready frames: smoothing, x axes, best/latest values and run progress."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mtl.runs.store import METRIC_COLUMNS, WEIGHT_COLUMNS
from mtl.viz.frames import (
    CURVE_COLUMNS,
    CurveFeed,
    curve_frame,
    default_splits,
    ema,
    epoch_ends,
    weight_frame,
)
from mtl.viz.summaries import best_and_latest, eta_seconds, progress

TASKS = ("species", "mass")
STEPS_PER_EPOCH = 4
LOG_EVERY = 2
SECONDS_PER_STEP = 0.5


def synthetic_metrics(epochs: int = 3, partial_steps: int = 0) -> pd.DataFrame:
    """What the recorder writes for 2 tasks, 4 steps per epoch, logging every 2 steps.

    Step rows (loss per task + lr) at steps 2, 4, 6, ...; epoch rows (train/val loss plus
    accuracy for ``species`` and rmse for ``mass``) at each epoch end. ``partial_steps``
    adds step rows of one more, unfinished epoch. Values are simple functions of the
    step so expectations can be written by hand.
    """
    rows = []

    def add(step, epoch, task, split, metric, value, reason=None):
        rows.append(
            (
                len(rows) + 1,
                step,
                float(epoch),
                step * SECONDS_PER_STEP,
                task,
                split,
                metric,
                value,
                reason,
            )
        )

    def steps_of(epoch: int, upto: int) -> None:
        for step in range(epoch * STEPS_PER_EPOCH + 1, epoch * STEPS_PER_EPOCH + upto + 1):
            if step % LOG_EVERY == 0:
                for t, task in enumerate(TASKS):
                    add(step, epoch, task, "step", "loss", 10.0 / step + t)
                add(step, epoch, "*", "step", "lr", 0.01)

    for epoch in range(epochs):
        steps_of(epoch, STEPS_PER_EPOCH)
        end = (epoch + 1) * STEPS_PER_EPOCH
        for split, offset in (("train", 0.0), ("val", 0.5)):
            add(end, epoch, "species", split, "loss", 1.0 / (epoch + 1) + offset)
            add(end, epoch, "species", split, "accuracy", [0.5, 0.9, 0.8][epoch % 3] - offset / 10)
            add(
                end,
                epoch,
                "species",
                split,
                "auc_roc",
                None,
                "only one class present (0); AUC-ROC needs two",
            )
            add(end, epoch, "mass", split, "loss", [2.0, 1.0, 1.5][epoch % 3] + offset)
            add(end, epoch, "mass", split, "rmse", [3.0, 2.0, 2.5][epoch % 3] + offset)
    if partial_steps:
        steps_of(epochs, partial_steps)
    frame = pd.DataFrame.from_records(rows, columns=list(METRIC_COLUMNS))
    return frame.astype({"id": "int64", "step": "int64", "value": "float64"})


# ---- ema ---------------------------------------------------------------------------------


def test_ema_matches_a_hand_computation() -> None:
    w = 0.6
    values = [1.0, 3.0, 2.0]
    last1 = 0.4 * 1.0
    last2 = 0.6 * last1 + 0.4 * 3.0
    last3 = 0.6 * last2 + 0.4 * 2.0
    expected = [last1 / (1 - 0.6), last2 / (1 - 0.6**2), last3 / (1 - 0.6**3)]
    np.testing.assert_allclose(ema(values, w), expected)
    assert ema(values, w)[0] == pytest.approx(1.0)  # debiased: the first point is the raw value


def test_ema_weight_zero_is_raw_and_constant_series_stays() -> None:
    values = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(ema(values, 0.0), values)
    np.testing.assert_array_equal(ema([2.0, 2.0, 2.0], 0.9), [2.0, 2.0, 2.0])


def test_ema_skips_nan_without_propagating() -> None:
    out = ema([1.0, np.nan, 3.0], 0.5)
    assert math.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], ema([1.0, 3.0], 0.5))
    assert np.isnan(ema([np.nan, np.nan], 0.5)).all()


@pytest.mark.parametrize("weight", [-0.1, 1.0, 1.5])
def test_ema_rejects_weights_outside_unit_interval(weight: float) -> None:
    with pytest.raises(ValueError, match="smoothing weight"):
        ema([1.0, 2.0], weight)


# ---- curve_frame -------------------------------------------------------------------------


def test_curve_frame_loss_by_step_defaults_to_step_and_val() -> None:
    frame = curve_frame(synthetic_metrics(), "loss", "step")
    assert list(frame.columns) == list(CURVE_COLUMNS)
    assert default_splits("loss") == ("step", "val")
    assert list(dict.fromkeys(zip(frame["task"], frame["split"], strict=True))) == [
        ("species", "step"),
        ("species", "val"),
        ("mass", "step"),
        ("mass", "val"),
    ]
    species_steps = frame[(frame["task"] == "species") & (frame["split"] == "step")]
    assert species_steps["x"].tolist() == [2, 4, 6, 8, 10, 12]
    assert species_steps["value"].tolist() == pytest.approx(
        [10.0 / s for s in (2, 4, 6, 8, 10, 12)]
    )
    val = frame[(frame["task"] == "species") & (frame["split"] == "val")]
    assert val["x"].tolist() == [4, 8, 12]
    assert (frame["smoothed"] == frame["value"]).all()
    assert frame.attrs == {"x": "step", "metric": "loss", "smoothing": 0.0}


def test_curve_frame_epoch_axis_is_one_based_and_fractional_for_steps() -> None:
    frame = curve_frame(synthetic_metrics(epochs=2, partial_steps=2), "loss", "epoch")
    steps = frame[(frame["task"] == "mass") & (frame["split"] == "step")]
    # 4 steps per epoch: steps 2, 4 | 6, 8 | 10 (epoch 2, still running: length from epoch 1)
    assert steps["x"].tolist() == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5])
    val = frame[(frame["task"] == "mass") & (frame["split"] == "val")]
    assert val["x"].tolist() == [1.0, 2.0]  # after epoch 1, after epoch 2


def test_curve_frame_epoch_axis_before_any_epoch_ended() -> None:
    metrics = synthetic_metrics(epochs=0, partial_steps=4)  # steps 2, 4 of epoch 0, no epoch rows
    spread = curve_frame(metrics, "loss", "epoch")
    assert spread[spread["task"] == "mass"]["x"].tolist() == pytest.approx([0.5, 1.0])
    hinted = curve_frame(metrics, "loss", "epoch", steps_per_epoch=8)
    assert hinted[hinted["task"] == "mass"]["x"].tolist() == pytest.approx([0.25, 0.5])


def test_curve_frame_other_metrics_use_train_and_val_and_keep_undefined_rows() -> None:
    metrics = synthetic_metrics()
    accuracy = curve_frame(metrics, "accuracy", "epoch")
    assert set(accuracy["split"]) == {"train", "val"} and set(accuracy["task"]) == {"species"}
    assert accuracy[accuracy["split"] == "train"]["value"].tolist() == pytest.approx(
        [0.5, 0.9, 0.8]
    )
    auc = curve_frame(metrics, "auc_roc", "epoch")
    assert len(auc) == 6 and auc["value"].isna().all()  # gaps, not dropped rows


def test_curve_frame_wall_time_and_lr() -> None:
    metrics = synthetic_metrics(epochs=1)
    frame = curve_frame(metrics, "lr", "wall_time")
    assert frame["task"].unique().tolist() == ["*"]
    assert frame["x"].tolist() == [1.0, 2.0]  # steps 2 and 4 at 0.5 s per step


def test_curve_frame_smooths_each_series_separately() -> None:
    metrics = synthetic_metrics()
    frame = curve_frame(metrics, "loss", "step", smoothing=0.6)
    for (_, _), group in frame.groupby(["task", "split"]):
        np.testing.assert_allclose(group["smoothed"], ema(group["value"].to_numpy(), 0.6))
    assert frame.attrs["smoothing"] == 0.6


def test_curve_frame_explicit_splits_and_empty_input() -> None:
    metrics = synthetic_metrics()
    frame = curve_frame(metrics, "loss", "step", splits=("train",))
    assert set(frame["split"]) == {"train"}
    empty = curve_frame(metrics.iloc[0:0], "loss", "epoch")
    assert empty.empty and list(empty.columns) == list(CURVE_COLUMNS)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"x": "time"}, "x must be"), ({"smoothing": 1.0}, "smoothing")]
)
def test_curve_frame_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        curve_frame(synthetic_metrics(), "loss", **kwargs)


def test_epoch_ends_reads_epoch_rows() -> None:
    assert epoch_ends(synthetic_metrics(epochs=3, partial_steps=2)) == {0: 4, 1: 8, 2: 12}


# ---- weight_frame ------------------------------------------------------------------------


def synthetic_weights() -> pd.DataFrame:
    rows = [
        (i + 1, step, float((step - 1) // 4), step * 0.5, task, w)
        for i, (step, task, w) in enumerate(
            (s, t, 1.0 + 0.1 * s * (k + 1)) for s in (2, 4, 6, 8) for k, t in enumerate(TASKS)
        )
    ]
    return pd.DataFrame.from_records(rows, columns=list(WEIGHT_COLUMNS))


def test_weight_frame_axes() -> None:
    weights = synthetic_weights()
    by_step = weight_frame(weights, "step")
    assert list(by_step.columns) == ["x", "task", "weight"]
    assert by_step[by_step["task"] == "species"]["x"].tolist() == [2, 4, 6, 8]
    by_epoch = weight_frame(weights, "epoch", synthetic_metrics(epochs=2))
    assert by_epoch[by_epoch["task"] == "mass"]["x"].tolist() == pytest.approx([0.5, 1.0, 1.5, 2.0])


# ---- best_and_latest ---------------------------------------------------------------------


def test_best_and_latest_uses_each_metrics_direction() -> None:
    table = best_and_latest(synthetic_metrics(epochs=3), split="val")
    rows = {(r.task, r.metric): r for r in table.itertuples(index=False)}
    accuracy = rows[("species", "accuracy")]  # 0.45, 0.85, 0.75: max wins
    assert accuracy.best == pytest.approx(0.85) and accuracy.best_epoch == 2
    assert accuracy.latest == pytest.approx(0.75) and accuracy.latest_epoch == 3
    loss = rows[("mass", "loss")]  # 2.5, 1.5, 2.0: min wins
    assert (
        loss.best == pytest.approx(1.5)
        and loss.best_epoch == 2
        and loss.latest == pytest.approx(2.0)
    )
    rmse = rows[("mass", "rmse")]
    assert rmse.best == pytest.approx(2.5) and rmse.higher_is_better is False
    auc = rows[("species", "auc_roc")]  # undefined every epoch: no best
    assert math.isnan(auc.best) and pd.isna(auc.best_epoch) and math.isnan(auc.latest)
    assert table["task"].tolist()[:3] == ["species"] * 3
    assert table[table["task"] == "species"]["metric"].tolist() == ["loss", "accuracy", "auc_roc"]


def test_best_and_latest_on_train_and_on_nothing() -> None:
    table = best_and_latest(synthetic_metrics(), split="train")
    assert table[(table.task == "species") & (table.metric == "accuracy")][
        "best"
    ].item() == pytest.approx(0.9)
    assert best_and_latest(synthetic_metrics(epochs=0, partial_steps=4)).empty


# ---- progress ----------------------------------------------------------------------------


def test_progress_eta_from_wall_time_per_epoch() -> None:
    # 2 of 5 epochs done, 4 steps each, 0.5 s per step → 2 s per epoch; at step 10 (5 s)
    metrics = synthetic_metrics(epochs=2, partial_steps=2)
    run = {"status": "running", "config": {"train": {"epochs": 5}}}
    info = progress(metrics, run)
    assert info["epoch"] == 2 and info["epochs"] == 5
    assert info["steps"] == 10 and info["steps_per_epoch"] == 4
    assert info["elapsed_s"] == pytest.approx(5.0)
    assert info["eta_s"] == pytest.approx(2.0 * 5 - 5.0)
    assert info["fraction"] == pytest.approx((2 + 0.5) / 5)


def test_progress_at_the_start_and_at_the_end() -> None:
    queued = progress(
        synthetic_metrics(epochs=0), {"status": "queued", "config": {"train": {"epochs": 5}}}
    )
    assert queued["epoch"] == 0 and queued["eta_s"] is None and queued["fraction"] == 0.0
    finished = progress(
        synthetic_metrics(epochs=2), {"status": "finished", "config": {"train": {"epochs": 5}}}
    )
    assert finished["fraction"] == 1.0 and finished["eta_s"] == 0.0  # early stopping after 2 of 5
    stopped = progress(
        synthetic_metrics(epochs=2), {"status": "stopped", "config": {"train": {"epochs": 5}}}
    )
    assert stopped["fraction"] == pytest.approx(0.4) and stopped["eta_s"] is None
    unknown = progress(synthetic_metrics(epochs=1), {"status": "running", "config": {}})
    assert (
        unknown["epochs"] is None and unknown["eta_s"] is None and 0.0 <= unknown["fraction"] <= 1.0
    )


def test_eta_follows_recent_epochs_not_the_fast_start() -> None:
    # Epoch 1 took 1 s (small validation set cached, a light start); then every epoch takes
    # 4 s including validation. 3 of 10 epochs done, the 4th running for 1 s: 7 epochs of
    # 4 s are left minus the second already spent. The average since the start (9 s / 3)
    # would say 3 × 10 − 10 = 20 s: too optimistic.
    assert eta_seconds([1.0, 5.0, 9.0], total=10, elapsed=10.0) == pytest.approx(7 * 4.0 - 1.0)
    # a slowdown under way: the running epoch has already taken longer than the pace
    assert eta_seconds([1.0, 5.0, 9.0], total=10, elapsed=15.0) == pytest.approx(6 * 6.0)
    assert eta_seconds([2.0], total=4, elapsed=2.5) == pytest.approx(3 * 2.0 - 0.5)
    assert eta_seconds([], total=4, elapsed=1.0) is None
    assert eta_seconds([1.0, 2.0], total=2, elapsed=2.0) == 0.0


def test_progress_eta_counts_validation_time_between_epoch_ends() -> None:
    # The synthetic run of 4 steps × 0.5 s per epoch, but each epoch's rows are 1.5 s later
    # than its steps (validation): epoch ends at 3.5, 7, 10.5 s.
    metrics = synthetic_metrics(epochs=3, partial_steps=2)
    delay = (metrics["epoch"] + 1) * 1.5 - np.where(metrics["split"] == "step", 1.5, 0.0)
    metrics["wall_time"] = metrics["wall_time"] + delay
    info = progress(metrics, {"status": "running", "config": {"train": {"epochs": 6}}})
    elapsed = float(metrics["wall_time"].max())
    assert info["eta_s"] == pytest.approx(3 * 3.5 - (elapsed - 10.5))


@pytest.mark.parametrize("x", ["step", "epoch", "wall_time"])
@pytest.mark.parametrize("smoothing", [0.0, 0.6])
@pytest.mark.parametrize("metric", ["loss", "accuracy"])
def test_curve_feed_appends_exactly_what_the_whole_curve_holds(
    x: str, smoothing: float, metric: str
) -> None:
    whole = synthetic_metrics(epochs=3, partial_steps=2)
    expected = curve_frame(whole, metric, x, smoothing)  # type: ignore[arg-type]
    cut = int(whole.index[(whole["epoch"] == 1) & (whole["split"] == "step")][0])  # mid-run
    feed = CurveFeed(metric, x, smoothing)  # type: ignore[arg-type]
    first = feed.start(whole.iloc[:cut])
    series: dict[tuple[str, str], dict[str, list[float]]] = {}
    for (task, split), group in first.groupby(["task", "split"], sort=False):
        series[(task, split)] = {"x": group["x"].tolist(), "y": group["smoothed"].tolist()}
    for start in range(cut, len(whole), 7):  # polls that each bring a few rows
        added = feed.append(whole.iloc[start : start + 7])
        assert added is not None
        step = 2 if feed.smoothed else 1
        for trace, xs, ys in zip(added["traces"], added["x"], added["y"], strict=True):
            if feed.smoothed and trace % 2 == 0:
                continue  # the faint raw trace: its values are the raw ones
            key = feed.series[trace // step]
            series[key]["x"] += xs
            series[key]["y"] += ys
    assert list(series) == list(
        dict.fromkeys(zip(expected["task"], expected["split"], strict=True))
    )
    for (task, split), got in series.items():
        want = expected[(expected["task"] == task) & (expected["split"] == split)]
        np.testing.assert_allclose(got["x"], want["x"].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(got["y"], want["smoothed"].to_numpy(), rtol=1e-9)
    assert feed.count == len(expected) * (2 if smoothing else 1)


def test_curve_feed_asks_for_a_redraw_when_the_structure_changes() -> None:
    whole = synthetic_metrics(epochs=2)
    steps_only = whole[whole["split"] == "step"]
    first_epoch = steps_only[steps_only["epoch"] == 0]
    feed = CurveFeed("loss", "step", 0.0)
    feed.start(first_epoch)
    assert feed.series == [("species", "step"), ("mass", "step")]
    end_rows = whole[(whole["epoch"] == 0) & (whole["split"] != "step")]
    assert feed.append(end_rows) is None  # the first validation point: a new series
    by_epoch = CurveFeed("loss", "epoch", 0.0)
    by_epoch.start(first_epoch)
    assert (
        by_epoch.append(end_rows[end_rows["split"] == "train"]) is None
    )  # epoch ends move the points
    nothing = CurveFeed("loss", "step", 0.5)
    nothing.start(first_epoch)
    assert nothing.append(whole.iloc[:0]) == {"traces": [], "x": [], "y": [], "customdata": []}


def test_pair_matrix_takes_the_latest_value_and_mirrors_cosines() -> None:
    import pandas as pd

    from mtl.viz.summaries import pair_matrix

    rows = [
        (1, 10, 0, 0.1, "a|b", "diag", "cosine", 0.5, None),
        (2, 20, 0, 0.2, "a|b", "diag", "cosine", -0.25, None),
        (3, 20, 0, 0.2, "a|c", "diag", "cosine", 0.75, None),
        (4, 20, 0, 0.2, "b|a", "diag", "affinity", 0.1, None),
        (5, 20, 0, 0.2, "a", "diag", "grad_norm", 3.0, None),
    ]
    metrics = pd.DataFrame(
        rows,
        columns=["id", "step", "epoch", "wall_time", "task", "split", "metric", "value", "reason"],
    )
    cos = pair_matrix(metrics, "cosine", ["a", "b", "c"])
    assert cos.loc["a", "b"] == cos.loc["b", "a"] == -0.25  # the latest, mirrored
    assert cos.loc["c", "a"] == 0.75 and cos.loc["b", "b"] == 1.0
    assert pd.isna(cos.loc["b", "c"])
    aff = pair_matrix(metrics, "affinity", ["a", "b"])
    assert aff.loc["b", "a"] == 0.1 and pd.isna(aff.loc["a", "b"])  # ordered
