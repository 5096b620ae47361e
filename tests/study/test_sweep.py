"""Sweeps: spec validation and expansion, aggregation and Pareto fronts by hand, the
store round trip without workers, and one real sweep end to end from the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli
from mtl import presets
from mtl.runs.store import RunStore
from mtl.study.sweeps import (
    DELTA_COLUMN,
    SweepError,
    SweepSpec,
    aggregate,
    default_pareto_metrics,
    delta_support,
    expand,
    get_sweep,
    is_done,
    launch_sweep,
    load_spec,
    metric_columns,
    pareto_front,
    progress,
    sweep_runs,
    sweep_tag,
    sweeps,
)


def spec(**changes: object) -> SweepSpec:
    data: dict[str, object] = {
        "name": "demo",
        "base": "seed-example",
        "overrides": {"train.epochs": 2},
        "grid": {"model.sharing": ["hard", "mmoe"], "loss.weighting": ["equal", "uncertainty"]},
        "seeds": [0, 1, 2],
    }
    data.update(changes)
    return SweepSpec.from_dict(data)


# ---- spec and expansion -------------------------------------------------------------


def test_expand_is_the_grid_times_the_seeds_with_readable_names() -> None:
    configs = expand(spec())
    assert len(configs) == spec().size == 2 * 2 * 3
    first, last = configs[0], configs[-1]
    assert first.name == "demo · sharing=hard weighting=equal seed=0"
    assert last.name == "demo · sharing=mmoe weighting=uncertainty seed=2"
    assert (last.model.sharing, last.loss.weighting, last.train.seed) == ("mmoe", "uncertainty", 2)
    assert [c.train.seed for c in configs[:3]] == [0, 1, 2]  # seeds vary fastest
    assert all(c.train.epochs == 2 for c in configs)  # overrides apply to every run
    assert len({c.name for c in configs}) == len(configs)
    rest = presets.load("seed-example").to_dict()
    for config in configs:  # nothing else changes
        data = config.to_dict()
        for section in ("data", "tasks"):
            assert data[section] == rest[section]


def test_expand_defaults_and_key_labels() -> None:
    one = SweepSpec.from_dict({"name": "solo", "base": "seed-example"})
    assert one.seeds == [0]
    (config,) = expand(one)
    assert config.name == "solo · seed=0"
    both = SweepSpec.from_dict(
        {
            "name": "w",
            "base": "seed-example",
            "grid": {"tasks.0.weight": [1, 2], "tasks.regression.weight": [0.5]},
        }
    )
    configs = expand(both)
    assert (
        configs[1].name == "w · tasks.0.weight=2 tasks.regression.weight=0.5 seed=0"
    )  # same last part: full key
    assert [t.weight for t in configs[1].tasks] == [2, 0.5]


def test_free_form_options_and_list_values_expand() -> None:
    configs = expand(
        SweepSpec.from_dict(
            {
                "name": "p",
                "base": "synthetic-related",
                "grid": {"data.options.p": [0, 0.9], "model.hidden": [[16], [32, 16]]},
            }
        )
    )
    assert [(c.data.options["p"], c.model.hidden) for c in configs] == [
        (0, [16]),
        (0, [32, 16]),
        (0.9, [16]),
        (0.9, [32, 16]),
    ]
    assert configs[1].name == "p · p=0 hidden=[32,16] seed=0"


@pytest.mark.parametrize(
    ("grid", "fragments"),
    [
        ({"model.shring": ["hard"]}, ["grid key 'model.shring'", "no key 'shring'", "sharing"]),
        ({"modle.sharing": ["hard"]}, ["grid key 'modle.sharing'", "allowed keys"]),
        ({"model.sharing.x": [1]}, ["'model.sharing.x'", "single value"]),
        (
            {"tasks.nope.weight": [1]},
            ["'tasks.nope.weight'", "no item 'nope'", "label, regression"],
        ),
        (
            {"loss.weighting": ["equal", "nope"]},
            ["loss.weighting=nope", "unknown weighting 'nope'"],
        ),
        (
            {"model.sharing": ["hard", "independent"], "loss.weighting": ["pcgrad"]},
            [
                "1 invalid combination",
                "model.sharing=independent, loss.weighting=pcgrad",
                "needs shared parameters",
            ],
        ),
    ],
)
def test_invalid_grid_is_reported_and_nothing_is_queued(
    home: Path, grid: dict[str, list[object]], fragments: list[str]
) -> None:
    bad = spec(grid=grid)
    with pytest.raises(SweepError) as caught:
        expand(bad)
    for fragment in fragments:
        assert fragment in str(caught.value)
    store = RunStore(home)
    with pytest.raises(SweepError):
        launch_sweep(store, bad, max_running=1)
    assert store.list_runs().empty
    assert sweeps(store).empty


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"grd": {}}, "unknown key 'grd'"),
        ({"grid": {"model.sharing": []}}, "'model.sharing' has no values"),
        ({"grid": {"model.sharing": ["hard", "hard"]}}, "repeats the value"),
        ({"grid": {"train.seed": [1, 2]}}, "use `seeds:` instead"),
        ({"grid": {"model.sharing": "hard"}}, "grid.model.sharing"),
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [1, 1]}, "seeds repeat"),
        ({"name": "  "}, "name"),
        (
            {
                "grid": {f"train.{k}": [1, 2] for k in ("epochs", "batch_size", "log_every")},
                "seeds": list(range(200)),
            },
            "at most 1000",
        ),
    ],
)
def test_spec_errors_are_one_clear_line(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(SweepError) as caught:
        spec(**changes)
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


def test_base_can_be_a_file_beside_the_spec_or_inline(tmp_path: Path) -> None:
    config = presets.load("seed-example").with_overrides({"model.hidden": [8]})
    (tmp_path / "base.yaml").write_text(config.to_yaml(), encoding="utf-8")
    (tmp_path / "sweep.yaml").write_text(
        "name: f\nbase: base.yaml\ngrid:\n  train.lr: [0.01, 0.001]\n", encoding="utf-8"
    )
    from_file = expand(load_spec(tmp_path / "sweep.yaml"))
    assert [c.train.lr for c in from_file] == [0.01, 0.001]
    assert all(c.model.hidden == [8] for c in from_file)
    inline = expand(
        SweepSpec.from_dict({"name": "i", "base": config.to_dict(), "grid": {"train.lr": [0.5]}})
    )
    assert inline[0].model.hidden == [8] and inline[0].train.lr == 0.5
    with pytest.raises(SweepError, match="neither a preset .* nor a config file"):
        expand(SweepSpec.from_dict({"name": "x", "base": "no-such-thing"}))
    with pytest.raises(SweepError, match="not found"):
        load_spec(tmp_path / "missing.yaml")


def test_example_sweep_file_is_valid() -> None:
    example = load_spec(
        Path(__file__).resolve().parents[2] / "examples" / "sweep-sharing-weighting.yaml"
    )
    assert len(expand(example)) == example.size == 12


# ---- aggregation and Pareto, by hand ------------------------------------------------------


def runs_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": list("abcdefg"),
            "status": ["finished"] * 6 + ["failed"],  # the failed run's numbers never count
            "model.sharing": ["hard", "hard", "hard", "mmoe", "mmoe", "mmoe", "mmoe"],
            "seed": [0, 1, 2, 0, 1, 2, 3],
            "label/accuracy": [0.80, 0.90, 0.70, 0.60, np.nan, np.nan, 0.99],
            "regression/rmse": [1.0, 2.0, 4.0, 3.0, 5.0, np.nan, 0.1],
        }
    )


def test_aggregate_mean_and_std_over_seeds_match_hand_numbers() -> None:
    # The failed run (last row) is left out; NaN values are skipped.
    table = aggregate(runs_frame(), ["model.sharing"])
    assert list(table["model.sharing"]) == ["hard", "mmoe"]
    assert list(table["runs"]) == [3, 3]  # finished runs, whatever their NaNs
    hard, mmoe = table.iloc[0], table.iloc[1]
    assert hard["label/accuracy mean"] == pytest.approx(0.8)
    # sample std (ddof = 1): sqrt(((0.8-0.8)² + (0.9-0.8)² + (0.7-0.8)²) / 2) = 0.1
    assert hard["label/accuracy std"] == pytest.approx(0.1)
    assert hard["regression/rmse mean"] == pytest.approx(7 / 3)
    assert hard["regression/rmse std"] == pytest.approx(
        math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    )
    assert mmoe["label/accuracy mean"] == pytest.approx(0.6)  # one value left: no std
    assert math.isnan(mmoe["label/accuracy std"])
    assert mmoe["regression/rmse mean"] == pytest.approx(4.0)
    assert mmoe["regression/rmse std"] == pytest.approx(math.sqrt(2))


def test_aggregate_groups_several_settings_and_handles_edge_cases() -> None:
    frame = runs_frame().assign(
        **{"loss.weighting": ["equal", "equal", "gls", "equal", "equal", "gls", "gls"]}
    )
    table = aggregate(frame, ["model.sharing", "loss.weighting"])
    assert table[["model.sharing", "loss.weighting", "runs"]].values.tolist() == [
        ["hard", "equal", 2],
        ["hard", "gls", 1],
        ["mmoe", "equal", 2],
        ["mmoe", "gls", 1],
    ]
    assert table.loc[0, "label/accuracy mean"] == pytest.approx(0.85)
    everything = aggregate(frame, [])
    assert len(everything) == 1 and everything.loc[0, "runs"] == 6
    assert everything.loc[0, "regression/rmse mean"] == pytest.approx(15 / 5)
    empty = aggregate(frame[frame["status"] == "failed"], ["model.sharing"])
    assert empty.empty and "label/accuracy mean" in empty.columns
    with pytest.raises(ValueError, match="not columns"):
        aggregate(frame, ["model.nope"])


def test_pareto_front_on_a_hand_made_frame() -> None:
    frame = pd.DataFrame(
        {
            "acc": [0.9, 0.8, 0.7, 0.9, 0.6, np.nan, 0.95],
            "rmse": [2.0, 1.0, 3.0, 2.0, 0.5, 0.1, 2.5],
        },
        index=list("abcdefg"),
    )
    # Higher acc and lower rmse are better. c is dominated by a and b; a and d are equal
    # (neither dominates); f has a missing value (not on the front, dominates nothing).
    mask = pareto_front(frame, "acc", "rmse", higher_a=True, higher_b=False)
    assert list(mask.index) == list("abcdefg")
    assert mask[mask].index.tolist() == ["a", "b", "d", "e", "g"]
    # Both higher-is-better: only the largest acc and the largest rmse survive.
    both_up = pareto_front(frame, "acc", "rmse", higher_a=True, higher_b=True)
    assert both_up[both_up].index.tolist() == ["c", "g"]
    with pytest.raises(ValueError, match="'nope' is not a column"):
        pareto_front(frame, "acc", "nope")


def test_default_pareto_metrics_are_the_headline_metrics_of_two_tasks() -> None:
    frame = pd.DataFrame(
        columns=[
            "id",
            "label/loss",
            "label/accuracy",
            "label/f1",
            "regression/loss",
            "regression/rmse",
            "regression/r2",
        ]
    )
    frame.attrs["tasks"] = [("label", "binary"), ("regression", "regression")]
    assert default_pareto_metrics(frame) == ("label/accuracy", "regression/r2")
    assert metric_columns(frame) == list(frame.columns[1:])
    single = pd.DataFrame(columns=["label/loss", "label/accuracy", "label/f1"])
    single.attrs["tasks"] = [("label", "binary")]
    assert default_pareto_metrics(single) == ("label/accuracy", "label/f1")
    assert default_pareto_metrics(pd.DataFrame(columns=["label/accuracy"])) is None


# ---- the store round trip, without workers ---------------------------------------------------


def summary(accuracy: float, r2: float) -> dict[str, object]:
    test = {
        "label": {
            "loss": 0.3,
            "accuracy": accuracy,
            "precision": accuracy,
            "recall": accuracy,
            "f1": accuracy,
            "auc_roc": None,
            "undefined": {"auc_roc": "only one class"},
        },
        "regression": {"loss": 0.5, "mse": 1 - r2, "rmse": math.sqrt(1 - r2), "mae": 0.5, "r2": r2},
    }
    return {"status": "finished", "test": test, "val": test}


def finish(store: RunStore, run_id: str, accuracy: float, r2: float) -> None:
    store.set_status(run_id, "running")
    store.set_status(run_id, "finished", summary=summary(accuracy, r2))


def test_launch_records_tags_and_reads_back_runs_progress_and_delta(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mtl.runs.scheduler

    # nothing starts
    monkeypatch.setattr(mtl.runs.scheduler, "dispatch", lambda *args, **kwargs: [])
    store = RunStore(home)
    small = spec(grid={"model.sharing": ["hard", "mmoe"]}, seeds=[0, 1])
    sweep_id = launch_sweep(store, small, max_running=1)

    record = get_sweep(store, sweep_id)
    assert record["name"] == "demo" and record["settings"] == ["model.sharing"]
    assert record["spec"] == small.to_dict() and record["base_config"]["train"]["epochs"] == 2
    ids = [r["id"] for r in record["runs"]]
    assert len(ids) == 4 and (home / "sweeps" / f"{sweep_id}.json").is_file()
    assert all(store.get_run(i)["tags"] == [sweep_tag(sweep_id)] for i in ids)
    assert progress(store, sweep_id) == {
        "queued": 4,
        "running": 0,
        "finished": 0,
        "stopped": 0,
        "failed": 0,
        "diverged": 0,
        "interrupted": 0,
        "total": 4,
        "done": 0,
        "baselines": 0,
        "baselines_pending": 0,
        "pending": 0,  # a search's trials not launched yet
        "searching": 0,
    }
    assert not is_done(progress(store, sweep_id))

    for run_id, (accuracy, r2) in zip(ids[:3], [(0.8, 0.5), (0.9, 0.7), (0.6, 0.2)], strict=True):
        finish(store, run_id, accuracy, r2)
    store.request_stop(ids[3])  # a queued run is cancelled
    counts = progress(store, sweep_id)
    assert (counts["finished"], counts["stopped"], counts["done"]) == (3, 1, 4) and is_done(counts)

    runs = sweep_runs(store, sweep_id)
    assert runs["id"].tolist() == ids
    assert runs[["model.sharing", "seed", "status"]].values.tolist() == [
        ["hard", 0, "finished"],
        ["hard", 1, "finished"],
        ["mmoe", 0, "finished"],
        ["mmoe", 1, "stopped"],
    ]
    assert runs["label/accuracy"].tolist()[:3] == [0.8, 0.9, 0.6]
    assert math.isnan(runs.loc[0, "label/auc_roc"])  # undefined in the summary
    assert math.isnan(runs.loc[3, "regression/r2"])  # never finished
    assert "label/undefined" not in runs.columns
    assert runs.attrs["tasks"] == [("label", "binary"), ("regression", "regression")]

    table = aggregate(runs, ["model.sharing"])
    assert table["runs"].tolist() == [2, 1]
    assert table.loc[0, "label/accuracy mean"] == pytest.approx(0.85)

    listed = sweeps(store)
    assert (
        listed.loc[0, "id"] == sweep_id
        and listed.loc[0, "runs"] == 4
        and listed.loc[0, "finished"] == 3
    )
    with pytest.raises(SweepError, match="no sweep 'nope'"):
        get_sweep(store, "nope")
    with pytest.raises(SweepError, match="not a sweep id"):
        get_sweep(store, "../x")

    if delta_support() is not None:
        assert runs[DELTA_COLUMN].isna().all()
        return
    # A finished single-task baseline of seed 0 gives Δm to the seed-0 runs only.
    from mtl.config import ExperimentConfig
    from mtl.study.baseline import baseline_config

    config = ExperimentConfig.from_dict(store.get_run(ids[0])["config"])
    target = baseline_config(config)
    baseline = store.create_run(target.name, target.to_dict())
    finish(store, baseline, 0.8, 0.5)
    runs = sweep_runs(store, sweep_id)
    assert runs["baseline"].tolist() == [baseline, None, baseline, None]
    # Δm = mean over tasks of the mean relative change of (accuracy, f1) and (rmse, mae):
    # run 0 equals the baseline; run 2: label -25 %, regression rmse √0.8 vs √0.5, mae equal.
    assert runs.loc[0, DELTA_COLUMN] == pytest.approx(0.0)
    rmse_change = -100 * (math.sqrt(0.8) - math.sqrt(0.5)) / math.sqrt(0.5)
    assert runs.loc[2, DELTA_COLUMN] == pytest.approx((-25 + rmse_change / 2) / 2)
    assert math.isnan(runs.loc[1, DELTA_COLUMN])


# ---- end to end from the CLI -------------------------------------------------------------------


def test_sweep_end_to_end_from_the_cli(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: e2e\n"
        "base: seed-example\n"
        "overrides: {train.epochs: 2}\n"
        "grid:\n"
        "  model.sharing: [hard, mmoe]\n"
        "  loss.weighting: [equal, uncertainty]\n"
        "seeds: [0, 1]\n",
        encoding="utf-8",
    )
    result = run_cli("sweep", str(path), "--max-running", "2", "--json", home=home, timeout=150)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is exactly one JSON object
    assert "8/8 done, 8 finished" in result.stderr  # the progress line

    assert report["progress"]["finished"] == report["progress"]["total"] == 8
    assert [r["status"] for r in report["runs"]] == ["finished"] * 8
    store = RunStore(home)
    assert len(store.list_runs("finished")) == 8
    assert all(
        store.get_run(r["id"])["tags"] == [f"sweep:{report['sweep_id']}"] for r in report["runs"]
    )

    rows = report["aggregate"]
    assert len(rows) == 4
    assert {(r["model.sharing"], r["loss.weighting"]) for r in rows} == {
        ("hard", "equal"),
        ("hard", "uncertainty"),
        ("mmoe", "equal"),
        ("mmoe", "uncertainty"),
    }
    for row in rows:
        assert row["runs"] == 2
        for metric in ("label/accuracy", "regression/r2"):
            assert 0 <= row[f"{metric} mean"] <= 1 and row[f"{metric} std"] >= 0
        seeds = [
            r["label/accuracy"]
            for r in report["runs"]
            if (r["model.sharing"], r["loss.weighting"])
            == (row["model.sharing"], row["loss.weighting"])
        ]
        assert row["label/accuracy mean"] == pytest.approx(np.mean(seeds))
        assert row["label/accuracy std"] == pytest.approx(np.std(seeds, ddof=1))

    pareto = report["pareto"]
    assert pareto["metrics"] == ["label/accuracy", "regression/r2"]
    assert 1 <= len(pareto["settings"]) <= 4
    assert all(set(s) == {"model.sharing", "loss.weighting"} for s in pareto["settings"])

    listed = run_cli("sweeps", home=home)
    assert (
        listed.returncode == 0
        and report["sweep_id"] in listed.stdout
        and "8 finished" in listed.stdout
    )
    shown = run_cli("sweeps", report["sweep_id"], home=home)
    assert shown.returncode == 0, shown.stderr
    assert "mean ± std over seeds" in shown.stdout and "Pareto-optimal settings" in shown.stdout
    assert shown.stdout.count(" ± ") >= 8  # two metrics × four settings


def test_cli_errors_are_one_line_and_queue_nothing(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nbase: seed-example\ngrid:\n  model.shring: [hard]\n", encoding="utf-8"
    )
    result = run_cli("sweep", str(path), home=home)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: sweep 'bad': grid key 'model.shring': model has no key 'shring'; allowed keys: "
        + ", ".join(presets.load("seed-example").model.model_dump())
    ]
    assert not (home / "store.sqlite").exists() or RunStore(home).list_runs().empty
    missing = run_cli("sweeps", "nope", home=home)
    assert missing.returncode == 2 and "no sweep 'nope'" in missing.stderr
