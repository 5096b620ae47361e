"""The transfer study: queued through the store and its workers, read back, summarised, stopped."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_user_error, cli_json, run_cli, wait_for
from mtl import presets
from mtl.errors import SweepError
from mtl.runs.status import ACTIVE, TERMINAL
from mtl.runs.store import RunStore
from mtl.study.sweeps import get_sweep, sweep_tag, sweeps
from mtl.study.sweeps.stop import stop_sweep
from mtl.study.transfer import (
    launch_transfer_study,
    parse_fractions,
    study_configs,
    study_results,
    summarize,
)

# Small and fast, yet the effect is far beyond the seed spread (see docs/transfer.md):
# 20 epochs at most with early stopping, 2000 rows, every label of y2 and 5 % of y1's (the
# presets' own data keeps only a quarter of each task's labels, for the verdict).
FAST = ["--set", "train.epochs=20", "--set", "train.early_stopping=5"] + [
    f"--set=data.{k}" for k in ("options.samples=2000", "options.labelled=1", "test_fraction=0.15")
]


def study(home: Path, preset: str) -> dict:
    """The ``study transfer`` report: ``preset``'s y1 with 5 % of its labels, 3 seeds."""
    args = ["--preset", preset, "--target", "y1", "--fractions", "0.05", "--seeds", "3"]
    return cli_json("study", "transfer", *args, "--max-running", "2", *FAST, home=home, timeout=900)


def by_method(report: dict) -> dict[str, dict]:
    return {r["method"]: r for r in report["results"] if r["fraction"] == 0.05}


def test_related_tasks_help_unrelated_do_not_and_every_run_is_in_the_store(home: Path) -> None:
    related = by_method(study(home, "synthetic-related"))
    assert set(related) == {"single", "mtl", "transfer"}
    single = related["single"]
    assert single["metric"] == "r2" and single["n"] == 3
    for method in ("mtl", "transfer"):
        spread = max(related[method]["std"], single["std"])
        assert related[method]["mean"] - single["mean"] > spread, (method, related)
        assert related[method]["negative_transfer"] is False

    unrelated_report = study(home, "synthetic-unrelated")
    unrelated = by_method(unrelated_report)
    for method in ("mtl", "transfer"):
        spread = max(unrelated[method]["std"], unrelated["single"]["std"])
        assert unrelated[method]["mean"] - unrelated["single"]["mean"] <= spread, (
            method,
            unrelated,
        )

    # the runs are ordinary runs of the store, tagged as the sweep they are
    store = RunStore(home)
    record = get_sweep(store, unrelated_report["study_id"])
    runs = store.list_runs(with_config=True).set_index("id")
    tagged = runs[runs.tags.map(lambda t: sweep_tag(record["id"]) in t)]
    assert len(tagged) == 3 + 9  # 3 pretraining runs + 3 methods × 3 seeds
    assert set(tagged.status) == {"finished"}
    pretrain = {b["seed"]: b["id"] for b in record["baselines"]}
    for entry in record["runs"]:
        run = runs.loc[entry["id"]]
        tasks = [t["name"] for t in run.config["tasks"]]
        fraction = {t["name"]: t["label_fraction"] for t in run.config["tasks"]}
        assert fraction["y1"] == 0.05 and fraction.get("y2", 1.0) == 1.0
        method = entry["settings"]["method"]
        assert tasks == (["y1", "y2"] if method == "mtl" else ["y1"])
        if method == "transfer":
            assert run.parent == pretrain[entry["seed"]]
        else:
            assert pd.isna(run.parent)
    assert record["id"] in set(sweeps(store)["id"])  # listed with the sweeps


def test_stopping_the_study_stops_its_runs(home: Path) -> None:
    store = RunStore(home)
    config = presets.load("synthetic-related").with_overrides({"train.epochs": 5000})
    study_id = launch_transfer_study(store, config, "y1", (0.1, 1.0), 2, max_running=1)
    record = get_sweep(store, study_id)
    first = record["baselines"][0]["id"]
    wait_for(lambda: store.get_run(first)["status"] == "running", what="the first run starts")
    ended = stop_sweep(store, study_id)
    ids = [r["id"] for r in record["runs"]] + [b["id"] for b in record["baselines"]]
    assert set(ended) == set(ids)  # every run was queued or running
    statuses = {store.get_run(i)["status"] for i in ids}
    assert statuses == {"stopped"}
    assert not (set(store.list_runs()["status"]) & {s.value for s in ACTIVE})
    assert all(s in TERMINAL for s in ended.values())


def test_cli_stop_and_bad_input_are_one_line(home: Path, tmp_path: Path) -> None:
    assert_user_error(
        run_cli(
            "study", "transfer", "--preset", "synthetic-related", "--target", "nope", home=home
        ),
        "target task 'nope' is not a task",
    )
    assert_user_error(
        run_cli(
            "study",
            "transfer",
            "--preset",
            "synthetic-related",
            "--target",
            "y1",
            "--fractions",
            "0.5,2",
            home=home,
        ),
        "'2' is outside (0, 1]",
    )
    assert_user_error(run_cli("study", "stop", "../x", home=home), "is not a sweep id")
    assert RunStore(home).list_runs().empty  # nothing was queued


@pytest.mark.parametrize(
    ("target", "fractions", "seeds", "message"),
    [
        ("y1", "abc", 3, "shares of the target's labels: 'abc' is not a number"),
        ("y1", "0.5,2", 3, "shares of the target's labels: '2' is outside (0, 1]"),
        ("nope", "0.5", 3, "target task 'nope' is not a task of the config"),
        ("y1", "0.5", 0, "seeds per point: 0 must be between 1 and 20"),
    ],
)
def test_bad_settings_are_named_in_words_not_flags(
    target: str, fractions: str, seeds: int, message: str
) -> None:
    """The Transfer page shows these messages: they name the setting, never a CLI flag."""
    config = presets.load("synthetic-related")
    with pytest.raises(SweepError) as info:
        study_configs(config, target, parse_fractions(fractions), seeds)
    assert message in str(info.value) and "--" not in str(info.value)


def test_study_configs_mask_only_the_target_and_share_one_pretraining_per_seed() -> None:
    config = presets.load("synthetic-related")
    pretrain, grid = study_configs(config, "y2", (0.05, 1.0), 2)
    assert [(seed, [t.name for t in c.tasks]) for seed, c in pretrain] == [(0, ["y1"]), (1, ["y1"])]
    assert len(grid) == 2 * 2 * 3
    mtl = [c for m, f, s, c in grid if m == "mtl" and f == 0.05]
    assert {t.name: t.label_fraction for t in mtl[0].tasks} == {"y1": 1.0, "y2": 0.05}
    with pytest.raises(SweepError, match="at least two tasks"):
        study_configs(config.model_copy(update={"tasks": config.tasks[:1]}), "y1", (0.5,), 1)


def test_parse_fractions() -> None:
    assert parse_fractions("1, 5%,0.25,0.05") == (0.05, 0.25, 1.0)
    for bad in ("0", "abc", "150%", ""):
        with pytest.raises(SweepError):
            parse_fractions(bad)


def test_summarize_flags_by_the_seed_spread() -> None:
    rows = []
    values = {"single": [0.5, 0.6, 0.7], "mtl": [0.8, 0.8, 0.8], "transfer": [0.1, 0.2, 0.3]}
    for method, vals in values.items():
        for seed, v in enumerate(vals):
            rows.append(
                {
                    "id": f"{method}{seed}",
                    "method": method,
                    "fraction": 0.1,
                    "seed": seed,
                    "status": "finished",
                    "value": v,
                    "cost_s": 2.0,
                }
            )
    rows.append(
        {
            "id": "x",
            "method": "mtl",
            "fraction": 0.1,
            "seed": 3,
            "status": "running",
            "value": math.nan,
            "cost_s": math.nan,
        }
    )
    frame = pd.DataFrame(rows)
    frame.attrs.update(metric="r2", target="y1")
    out = summarize(frame).set_index("method")
    spread = 0.1  # the sample std of 0.5, 0.6, 0.7
    assert out.loc["single", "mean"] == pytest.approx(0.6)
    assert out.loc["single", "std"] == pytest.approx(spread)
    assert out.loc["mtl", "n"] == 3 and out.loc["mtl", "vs_single"] == pytest.approx(0.2)
    assert out.loc["mtl", "better"] and not out.loc["mtl", "negative"]
    assert out.loc["transfer", "negative"] and not out.loc["transfer", "better"]
    mse = frame.assign(value=frame.value)  # lower is better: the signs flip
    mse.attrs.update(metric="mse", target="y1")
    flipped = summarize(mse).set_index("method")
    assert flipped.loc["transfer", "better"] and flipped.loc["mtl", "negative"]


def test_summarize_flags_nothing_with_one_seed() -> None:
    rows = [
        {"id": m, "method": m, "fraction": 0.1, "seed": 0, "status": "finished", "value": v,
         "cost_s": 1.0}
        for m, v in (("single", 0.5), ("mtl", 0.9), ("transfer", 0.1))
    ]  # fmt: skip
    frame = pd.DataFrame(rows)
    frame.attrs.update(metric="r2", target="y1")
    out = summarize(frame).set_index("method")
    assert out.loc["mtl", "vs_single"] == pytest.approx(0.4)  # the difference is still given
    assert out.loc["transfer", "vs_single"] == pytest.approx(-0.4)
    assert not out[["better", "negative"]].to_numpy().any()  # one seed: no spread to judge by
    from mtl.commands.study import study_text

    printed = study_text(summarize(frame))  # what `study transfer` prints: no claim either
    assert printed.count("no spread (1 seed)") == 2 and "within spread" not in printed
    assert "No verdict" in printed and "NEGATIVE" not in printed


def test_study_results_before_any_run_ends(home: Path) -> None:
    store = RunStore(home)
    config = presets.load("synthetic-related")
    study_id = launch_transfer_study(
        store, config, "y1", (0.5,), 1, max_running=1, validate_data=False
    )
    stop_sweep(store, study_id)
    results = study_results(store, study_id)
    assert list(results.method) == ["single", "mtl", "transfer"]
    assert results.value.isna().all() and results.attrs["pending"] == 0
    assert summarize(results).empty
