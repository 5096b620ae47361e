"""Searches beyond grids (Optuna ask-and-tell): spec validation, the n-objective front by hand,
and real searches of real runs in a real store, driven from the CLI: TPE's best trial, NSGA-II's
front and the median pruner, each checked against numbers read back from the store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import assert_user_error, run_cli, run_python
from mtl import presets
from mtl.runs.store import RunStore
from mtl.study.sweeps import (
    SweepError,
    SweepSpec,
    get_sweep,
    non_dominated,
    search_state,
    sweep_tag,
)
from mtl.study.sweeps.records import read_records
from mtl.study.sweeps.spec import check_search, search_objectives

LR = {"train.lr": {"low": 1e-3, "high": 3e-2, "log": True}}


def spec(**changes: object) -> SweepSpec:
    data: dict[str, object] = {"name": "s", "base": "seed-example", "search": "tpe", "ranges": LR}
    data.update(changes)
    return SweepSpec.from_dict(data)


@pytest.fixture
def search_home(home: Path) -> Iterator[Path]:
    """The store home; the search drivers recorded in it are ended at teardown (by pid)."""
    yield home
    if (home / "sweeps").is_dir():
        for record in read_records(RunStore(home)):
            pid = (record.get("search") or {}).get("driver_pid")
            if pid and search_state(record) == "running":
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)


# ---- the spec ------------------------------------------------------------------------------


def test_search_spec_defaults_and_objectives() -> None:
    tpe = spec(trials=7)
    assert (tpe.size, tpe.pruning, tpe.search_seed) == (7, "none", 0)
    assert spec().size == 10  # the default budget
    assert spec(trials=4, seeds=[0, 1, 2]).size == 12  # a trial is one run per seed
    base = check_search(tpe)
    assert search_objectives(tpe, base) == [("label/accuracy", True)]
    front = spec(search="nsga2")
    assert search_objectives(front, base) == [("label/accuracy", True), ("regression/r2", True)]
    chosen = spec(search="nsga2", objective=["label/loss", "regression/rmse"])
    assert search_objectives(chosen, base) == [("label/loss", False), ("regression/rmse", False)]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"search": "nsga2", "pruning": "median"}, "pruning needs a single objective"),
        ({"trials": 0}, "trials must be at least 1, found 0"),
        ({"search": "bayes"}, "search: Input should be 'grid', 'random', 'tpe' or 'nsga2'"),
        (
            {"ranges": {"train.lr": {"low": 0.1, "high": 0.01}}},
            "ranges.train.lr: low 0.1 is above high 0.01",
        ),
        ({"ranges": {"train.lr": {"low": 0, "high": 0.1, "log": True}}}, "needs low > 0"),
        ({"search": "grid", "trials": 3}, "trials, ranges only apply to a search"),
        ({"trials": 400, "seeds": [0, 1, 2]}, "1200 runs (trials × seeds); at most 1000"),
        ({"objective": ["label/accuracy", "regression/r2"]}, "use search: nsga2"),
        ({"objective": "label/speed"}, "is not '<task>/<metric>'"),
        ({"grid": {"train.lr": [0.01]}}, "train.lr is both in grid and in ranges"),
        ({"ranges": {}}, "needs ranges or grid choices"),
    ],
)
def test_bad_search_specs_are_one_line(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(SweepError) as info:
        spec(**changes)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_search_is_checked_against_the_config() -> None:
    with pytest.raises(SweepError, match="model.dropout=3: model.dropout"):
        check_search(spec(ranges={"model.dropout": {"low": 0, "high": 3}}))
    with pytest.raises(SweepError, match="objective 'nope/accuracy': no task 'nope'"):
        check_search(spec(objective="nope/accuracy"))
    with pytest.raises(SweepError, match="a regression task reports mse, rmse, mae, r2, loss"):
        check_search(spec(objective="regression/accuracy"))
    with pytest.raises(SweepError, match="ranges key 'train.lrr'"):
        check_search(spec(ranges={"train.lrr": {"low": 0.1, "high": 0.2}}))


def test_cli_refuses_bad_searches_with_one_line_and_queues_nothing(
    search_home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "s.yaml"
    cases = [
        ("search: nsga2\npruning: median\n", [], "pruning needs a single objective"),
        ("search: tpe\n", ["--trials", "0"], "trials must be at least 1"),
        ("search: bayes\n", [], "search: Input should be"),
        ("search: tpe\n", ["--search", "nsga2", "--pruning", "median"], "pruning needs"),
    ]
    for head, flags, fragment in cases:
        ranges = "ranges:\n  train.lr: {low: 0.001, high: 0.03, log: true}\n"
        path.write_text(f"name: bad\nbase: seed-example\n{head}{ranges}", encoding="utf-8")
        assert_user_error(run_cli("sweep", str(path), *flags, home=search_home), fragment)
    path.write_text(
        "name: bad\nbase: seed-example\nsearch: tpe\nranges:\n  train.lr: {low: 0.1, high: 0.01}\n",
        encoding="utf-8",
    )
    assert_user_error(run_cli("sweep", str(path), home=search_home), "low 0.1 is above high 0.01")
    assert not (search_home / "sweeps").exists()


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5"])
def test_cli_refuses_a_bad_seed_count_with_one_line(
    value: str, search_home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: bad\nbase: seed-example\nsearch: tpe\n"
        "ranges:\n  train.lr: {low: 0.001, high: 0.03, log: true}\n",
        encoding="utf-8",
    )
    result = run_cli("sweep", str(path), f"--seeds={value}", home=search_home)
    assert_user_error(result, "--seeds takes a whole number of seeds ≥ 1, found")
    assert not (search_home / "sweeps").exists()


def test_the_cli_and_the_sweeps_package_never_load_optuna() -> None:
    code = (
        "import sys, mtl.cli, mtl.commands.sweep, mtl.study.sweeps;"
        "print(sorted(m for m in ('optuna', 'torch') if m in sys.modules))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ---- the front by hand -------------------------------------------------------------------


def pareto_by_hand(points: list[tuple[float, ...]], higher: list[bool]) -> set[int]:
    """Indices of the points no other point dominates (loops, independent of the package)."""
    oriented = [tuple(v if h else -v for v, h in zip(p, higher, strict=True)) for p in points]
    front = set()
    for i, p in enumerate(oriented):
        beaten = any(
            all(b >= a for a, b in zip(p, q, strict=True))
            and any(b > a for a, b in zip(p, q, strict=True))
            for j, q in enumerate(oriented)
            if j != i
        )
        if not beaten:
            front.add(i)
    return front


def test_non_dominated_matches_the_hand_front_in_three_objectives() -> None:
    points = [(1, 5, 2), (2, 4, 2), (1, 5, 1), (0, 0, 9), (2, 4, 2), (3, 1, 1), (1, 1, 1)]
    frame = pd.DataFrame(points, columns=["a", "b", "c"])
    higher = [True, True, False]
    got = non_dominated(frame, ["a", "b", "c"], higher)
    assert set(frame.index[got]) == pareto_by_hand(points, higher) == {1, 2, 4, 5}
    frame.loc[5, "b"] = float("nan")  # a missing value: never on the front, dominates nothing
    assert not non_dominated(frame, ["a", "b", "c"], higher)[5]


# ---- real searches ------------------------------------------------------------------------


def search_cli(tmp_path: Path, home: Path, text: str, *flags: str) -> dict[str, Any]:
    """Run ``python -m mtl sweep`` on the spec ``text`` with ``flags`` and ``--json``; it must
    exit 0 (a pruned trial is not a failure). Its JSON report."""
    path = tmp_path / "search.yaml"
    path.write_text(text, encoding="utf-8")
    result = run_cli("sweep", str(path), *flags, "--json", home=home, timeout=900)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def val(run: dict[str, Any], objective: str) -> float:
    task, _, metric = objective.rpartition("/")
    return float(run["summary"]["val"][task][metric])


def test_tpe_search_trains_its_trials_as_runs_and_reports_the_stored_best(
    search_home: Path, tmp_path: Path
) -> None:
    report = search_cli(
        tmp_path,
        search_home,
        "name: tpe\nbase: seed-example\noverrides: {train.epochs: 1}\nsearch: tpe\ntrials: 6\n"
        "ranges:\n  train.lr: {low: 1.0e-4, high: 0.05, log: true}\n"
        "grid:\n  loss.weighting: [equal, uncertainty]\n",
        "--max-running",
        "2",
    )
    search = report["search"]
    assert search["state"] == "done" and search["method"] == "tpe"

    store = RunStore(search_home)
    runs = store.list_runs(with_config=True)
    assert len(runs) == 6 and set(runs["status"]) == {"finished"}
    tag = sweep_tag(report["sweep_id"])
    assert all(tag in tags for tags in runs["tags"])
    # every trial's settings are its run's config
    for trial in search["trials"]:
        config = store.get_run(trial["id"])["config"]
        assert config["train"]["lr"] == pytest.approx(trial["train.lr"])
        assert config["loss"]["weighting"] == trial["loss.weighting"]
        assert 1e-4 <= trial["train.lr"] <= 0.05
    # the best trial is the argmax of the stored validation accuracy, computed here
    # (on a tie, the first trial: one epoch often gives several trials the same accuracy)
    stored = {row["id"]: val(row, "label/accuracy") for row in runs.to_dict("records")}
    in_order = [t["id"] for t in sorted(search["trials"], key=lambda t: t["trial"])]
    best = next(i for i in in_order if stored[i] == max(stored.values()))
    assert search["best"]["id"] == best
    assert search["best"]["val label/accuracy"] == pytest.approx(stored[best])
    assert set(search["importance"]["label/accuracy"]) == {"train.lr", "loss.weighting"}
    assert sum(search["importance"]["label/accuracy"].values()) == pytest.approx(1.0)

    shown = run_cli("sweeps", report["sweep_id"], home=search_home)
    assert shown.returncode == 0, shown.stderr
    assert f"best trial: #{search['best']['trial']} ({best})" in shown.stdout
    assert "hyperparameter importance for label/accuracy" in shown.stdout


def last_val(store: RunStore, run_id: str, objective: str) -> float:
    """The run's last validation value of ``objective``, from its stored metric rows."""
    task, _, metric = objective.rpartition("/")
    rows = store.metrics(run_id)
    mine = rows[(rows["split"] == "val") & (rows["task"] == task) & (rows["metric"] == metric)]
    return float(mine.sort_values("epoch")["value"].iloc[-1])


def test_a_trial_on_two_seeds_is_two_runs_judged_on_their_mean(
    search_home: Path, tmp_path: Path
) -> None:
    report = search_cli(
        tmp_path,
        search_home,
        "name: seeds\nbase: seed-example\noverrides: {train.epochs: 1}\nsearch: random\n"
        "trials: 3\nranges:\n  train.lr: {low: 1.0e-5, high: 0.05, log: true}\n",
        "--seeds",
        "2",
        "--max-running",
        "2",
    )
    search = report["search"]
    store = RunStore(search_home)
    record = get_sweep(store, report["sweep_id"])
    assert record["spec"]["seeds"] == [0, 1] and len(store.list_runs()) == 6
    by_trial: dict[int, list[str]] = {}
    for entry in record["runs"]:
        by_trial.setdefault(entry["trial"], []).append(entry["id"])
    assert sorted(by_trial) == [0, 1, 2]
    stats = {}
    for trial, ids in by_trial.items():
        runs = [store.get_run(i) for i in ids]
        assert [r["status"] for r in runs] == ["finished", "finished"]
        assert sorted(r["config"]["train"]["seed"] for r in runs) == [0, 1]
        assert runs[0]["config"]["train"]["lr"] == runs[1]["config"]["train"]["lr"]
        values = [last_val(store, i, "label/accuracy") for i in ids]
        stats[trial] = (values, sum(values) / 2, statistics.stdev(values))
    # the seeds matter here, so a value from one run alone would not pass for the mean
    assert any(values[0] != values[1] for values, _, _ in stats.values())
    told = {t["trial"]: t for t in record["search"]["told"]}
    rows = {t["trial"]: t for t in search["trials"]}
    for trial, (_, mean, sd) in stats.items():
        assert told[trial]["state"] == "complete"
        assert told[trial]["values"] == [pytest.approx(mean)]  # what Optuna was told
        assert rows[trial]["val label/accuracy"] == pytest.approx(mean)
        assert rows[trial]["val label/accuracy std"] == pytest.approx(sd)
        assert sorted(rows[trial]["seeds"]) == [0, 1] and rows[trial]["runs"] == 2
    best = max(sorted(stats), key=lambda t: stats[t][1])  # the first trial on a tie
    assert search["best"]["trial"] == best
    assert sorted(search["best"]["ids"]) == sorted(by_trial[best])

    shown = run_cli("sweeps", report["sweep_id"], home=search_home)
    assert shown.returncode == 0, shown.stderr
    assert "3/3 trials finished on 2 seeds each" in shown.stdout
    assert f"best trial: #{best} ({', '.join(by_trial[best])})" in shown.stdout


def test_the_pruner_gets_the_mean_over_seeds_of_the_epochs_every_run_reached(
    home: Path,
) -> None:
    import optuna

    from mtl.study.search.driver import _Live, _report, _Run

    store = RunStore(home)
    ids = [store.create_run(f"r{i}", {}) for i in range(2)]
    curves = {ids[0]: [0.5, 0.6, 0.7], ids[1]: [0.3, 0.4]}  # the second run is one epoch behind
    for run_id, values in curves.items():
        rows = [(10 * e, e, 0.0, "label", "val", "accuracy", v, None) for e, v in enumerate(values)]
        rows.append((0, 0, 0.0, "label", "train", "accuracy", 0.99, None))  # not validation
        store.add_metrics(run_id, rows)
    study = optuna.create_study(direction="maximize")
    state = _Live(study.ask(), [_Run({"id": i}) for i in ids])
    assert _report(store, state, "label/accuracy")
    assert study.trials[0].intermediate_values == {0: pytest.approx(0.4), 1: pytest.approx(0.5)}
    assert not _report(store, state, "label/accuracy")  # nothing new
    store.add_metrics(ids[1], [(20, 2, 0.0, "label", "val", "accuracy", 0.9, None)])
    assert _report(store, state, "label/accuracy")
    assert study.trials[0].intermediate_values[2] == pytest.approx(0.8)


def test_nsga2_front_is_the_non_dominated_set_of_the_stored_metrics(
    search_home: Path, tmp_path: Path
) -> None:
    search = search_cli(
        tmp_path,
        search_home,
        "name: front\nbase: seed-example\noverrides: {train.epochs: 1}\nsearch: nsga2\ntrials: 6\n"
        "objective: [label/accuracy, regression/rmse]\n"
        "ranges:\n  train.lr: {low: 1.0e-4, high: 0.05, log: true}\n"
        "  tasks.0.weight: {low: 0.1, high: 2.0}\n",
        "--max-running",
        "2",
    )["search"]
    assert search["objectives"] == ["label/accuracy", "regression/rmse"]
    assert search["higher_is_better"] == [True, False]

    store = RunStore(search_home)
    ids = [t["id"] for t in search["trials"]]
    points = [
        (val(store.get_run(i), "label/accuracy"), val(store.get_run(i), "regression/rmse"))
        for i in ids
    ]
    expected = {ids[k] for k in pareto_by_hand(points, [True, False])}
    assert {row["id"] for row in search["front"]} == expected
    assert search["best"] is None and set(search["importance"]) == {
        "label/accuracy",
        "regression/rmse",
    }


def test_median_pruning_stops_a_hopeless_trial_and_keeps_its_rows(
    search_home: Path, tmp_path: Path
) -> None:
    # Random draws with search seed 55 give (lr, epochs) = (1e-7, 20), (0.003, 20), (1e-7, 2000):
    # the first trial (never pruned, the pruner's start-up) sets a bad median with the second;
    # the third, as hopeless, is below it after its second epoch and is asked to stop. Its 2000
    # epochs (~180,000 steps) cannot end before the driver acts, however loaded the machine:
    # the outcome does not depend on timing.
    report = search_cli(
        tmp_path,
        search_home,
        "name: prune\nbase: seed-example\n"
        "overrides: {train.batch_size: 8}\nsearch: random\nsearch_seed: 55\n"
        "trials: 3\npruning: median\ngrid:\n  train.lr: [0.003, 1.0e-7]\n"
        "  train.epochs: [20, 2000]\n",
        "--max-running",
        "1",
    )
    search = report["search"]
    assert [(t["train.lr"], t["train.epochs"]) for t in search["trials"]] == [
        (1e-7, 20),
        (0.003, 20),
        (1e-7, 2000),
    ]
    pruned = [t for t in search["trials"] if t["pruned"]]
    assert [t["trial"] for t in pruned] == [2]
    store = RunStore(search_home)
    run = store.get_run(pruned[0]["id"])
    assert run["status"] == "stopped"
    rows = store.metrics(run["id"])
    epochs = rows.loc[rows["split"] == "val", "epoch"]
    assert 2 <= epochs.nunique() < 2000  # rows kept, and stopped before the end
    finished = [store.get_run(t["id"]) for t in search["trials"] if not t["pruned"]]
    assert [r["status"] for r in finished] == ["finished", "finished"]
    assert search["pruned"] == 1
    assert search["steps"] == pytest.approx(
        sum(float(store.metrics(t["id"])["step"].max()) for t in search["trials"]), abs=3 * 3
    )
    record = get_sweep(store, report["sweep_id"])
    assert [r["pruned"] for r in record["runs"]] == [False, False, True]


def test_a_combination_the_config_refuses_uses_its_trial_and_is_listed(
    search_home: Path, tmp_path: Path
) -> None:
    # each choice alone is valid (checked at launch); pcgrad with independent is not
    search = search_cli(
        tmp_path,
        search_home,
        "name: skip\nbase: seed-example\noverrides: {train.epochs: 1}\nsearch: random\n"
        "trials: 3\ngrid:\n  model.sharing: [independent]\n  loss.weighting: [pcgrad, equal]\n",
    )["search"]
    assert search["state"] == "done"
    assert [t["loss.weighting"] for t in search["trials"]] == ["equal", "equal"]
    (skipped,) = search["skipped"]
    assert skipped["settings"]["loss.weighting"] == "pcgrad"
    assert "'pcgrad' needs shared parameters" in skipped["error"]
    assert len(RunStore(search_home).list_runs()) == 2


# ---- the figure and the page (a real store, a search recorded by hand) ----------------------


def test_importance_figure_has_one_bar_per_setting_most_important_on_top() -> None:
    from mtl.viz.sweeps import importance_figure

    fig = importance_figure({"label/accuracy": {"train.lr": 0.7, "model.dropout": 0.3}})
    (bars,) = fig.data
    assert list(bars.y) == ["dropout", "learning rate"]  # plotly draws the last on top
    assert list(bars.x) == [0.3, 0.7] and bars.orientation == "h"
    two = importance_figure({"a/accuracy": {"train.lr": 1.0}, "b/r2": {"train.lr": 1.0}})
    assert len(two.data) == 2 and two.layout.showlegend


def recorded_search(home: Path) -> tuple[str, list[str]]:
    """A finished TPE search of three trials, its runs' summaries written through the store."""
    from mtl.study.sweeps import launch_search
    from mtl.study.sweeps.records import write_record

    store = RunStore(home)
    sweep_id = launch_search(store, spec(trials=3), validate_data=False, start=False)
    record = get_sweep(store, sweep_id)
    ids = []
    for trial, (lr, accuracy) in enumerate([(0.001, 0.7), (0.01, 0.9), (0.02, 0.8)]):
        run_id = store.create_run(f"s · #{trial}", {}, tags=(sweep_tag(sweep_id),))
        store.set_status(run_id, "running")
        metrics = {"label": {"accuracy": accuracy}, "regression": {"r2": accuracy / 2}}
        store.set_status(run_id, "finished", summary={"val": metrics, "test": metrics, "steps": 10})
        record["runs"].append(
            {"id": run_id, "settings": {"train.lr": lr}, "seed": 0, "trial": trial, "pruned": False}
        )
        ids.append(run_id)
    record["search"]["state"] = "done"
    record["search"]["importance"] = {"values": {"label/accuracy": {"train.lr": 1.0}}, "note": None}
    write_record(store, record)
    return sweep_id, ids


def test_sweeps_page_shows_the_best_trial_and_the_importance(home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    sweep_id, ids = recorded_search(home)
    at = AppTest.from_file(
        str(Path(__file__).parents[2] / "app_pages" / "sweep.py"), default_timeout=60
    )
    at.query_params["sweep"] = sweep_id
    at.run()
    assert not at.exception
    assert [s.value for s in at.subheader] == ["Best trial", "Trials"]
    best = at.dataframe[0].value
    assert best["trial"].tolist() == [1] and best["val label · accuracy"].tolist() == [0.9]
    assert len(at.dataframe[1].value) == 3
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) == 1  # the importance bars
    assert "TPE search" in at.caption[0].value and "30 training steps" in at.caption[0].value


def test_two_seed_trials_show_mean_and_std_and_the_best_is_the_best_mean(home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from mtl.study.sweeps import launch_search, search_summary
    from mtl.study.sweeps.records import write_record

    store = RunStore(home)
    sweep_id = launch_search(store, spec(trials=2, seeds=[0, 1]), validate_data=False, start=False)
    record = get_sweep(store, sweep_id)
    assert record["search"]["seeds"] == [0, 1]
    # trial 0 has the luckiest run (0.95) but trial 1 the better mean (0.85 against 0.8)
    for trial, (lr, accuracies) in enumerate([(0.001, (0.65, 0.95)), (0.01, (0.84, 0.86))]):
        for seed, accuracy in enumerate(accuracies):
            run_id = store.create_run(f"s · #{trial} seed={seed}", {}, tags=(sweep_tag(sweep_id),))
            store.set_status(run_id, "running")
            metrics = {"label": {"accuracy": accuracy}, "regression": {"r2": accuracy / 2}}
            summary = {"val": metrics, "test": metrics, "steps": 10}
            store.set_status(run_id, "finished", summary=summary)
            entry = {"id": run_id, "settings": {"train.lr": lr}, "seed": seed, "trial": trial}
            record["runs"].append({**entry, "pruned": False})
    record["search"]["state"] = "done"
    write_record(store, record)

    found = search_summary(store, sweep_id)
    assert found["best"] is not None
    best = found["trials"].loc[found["best"]]
    assert best["trial"] == 1 and best["val label/accuracy"] == pytest.approx(0.85)
    assert best["val label/accuracy std"] == pytest.approx(statistics.stdev([0.84, 0.86]))
    assert found["steps"] == 40

    at = AppTest.from_file(
        str(Path(__file__).parents[2] / "app_pages" / "sweep.py"), default_timeout=60
    )
    at.query_params["sweep"] = sweep_id
    at.run()
    assert not at.exception
    assert "each trial on 2 seeds" in at.caption[0].value
    shown = at.dataframe[0].value
    assert shown["trial"].tolist() == [1] and shown["runs"].tolist() == [2]
    assert shown["val label · accuracy"].tolist() == [pytest.approx(0.85)]
    table = at.dataframe[1].value
    assert table["val label · accuracy"].tolist() == [pytest.approx(0.8), pytest.approx(0.85)]
    assert table["val label · accuracy std"].tolist() == [
        pytest.approx(statistics.stdev([0.65, 0.95])),
        pytest.approx(statistics.stdev([0.84, 0.86])),
    ]


def test_sweeps_page_queues_a_search_with_several_seeds_per_trial(search_home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(
        str(Path(__file__).parents[2] / "app_pages" / "sweep.py"), default_timeout=60
    )
    at.run()
    assert at.text_input(key="sw.seeds").value == "0, 1"  # a grid's seeds
    at.selectbox(key="sw.search").set_value("random").run()
    assert not [w for w in at.text_input if w.key == "sw.seeds"]  # a search counts its seeds
    at.number_input(key="sw.trials").set_value(1)
    at.number_input(key="sw.trial_seeds").set_value(2)
    at.number_input(key="sw.epochs").set_value(1)
    at.multiselect(key="sw.sharing").set_value(["hard"])
    at.multiselect(key="sw.weighting").set_value(["equal"])
    at.button(key="sw.start").click().run()
    assert not at.exception and not at.error
    (record,) = read_records(RunStore(search_home))
    assert record["spec"]["seeds"] == [0, 1] and record["search"]["seeds"] == [0, 1]
    waited = run_cli("sweeps", record["id"], "--wait", "--json", home=search_home, timeout=600)
    assert waited.returncode == 0, waited.stderr
    (trial,) = json.loads(waited.stdout)["search"]["trials"]
    runs = [RunStore(search_home).get_run(i) for i in trial["ids"]]
    assert sorted(r["config"]["train"]["seed"] for r in runs) == [0, 1]
    assert {r["status"] for r in runs} == {"finished"}


def test_sweeps_page_refuses_a_range_that_is_not_two_numbers(home: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(
        str(Path(__file__).parents[2] / "app_pages" / "sweep.py"), default_timeout=60
    )
    at.run()
    at.selectbox(key="sw.search").set_value("tpe").run()
    at.text_input(key="sw.lr.range").set_value("0.1").run()
    at.button(key="sw.start").click().run()
    assert not at.exception
    assert any("write the lowest and the highest value" in e.value for e in at.error)
    assert not (home / "sweeps").exists()


# ---- the verdict's TPE tuning ---------------------------------------------------------------


def test_verdict_rejects_an_unknown_search() -> None:
    from mtl.study.verdict import VerdictOptions

    with pytest.raises(
        SweepError, match="search 'grid' is not a verdict search; choose from random, tpe"
    ):
        VerdictOptions(search="grid").checked()


def test_verdict_tpe_asks_each_next_setting_after_the_last_one_ended(search_home: Path) -> None:
    tiny = {"data.options.samples": 300, "train.epochs": 2, "model.hidden": [16]}
    sets = [f"--set={k}={json.dumps(v)}" for k, v in tiny.items()]
    result = run_cli(
        "study", "verdict", "--preset", "synthetic-related", *sets, "--budget", "2", "--seeds", "3",
        "--weights", "0", "--methods", "equal", "--search", "tpe", "--max-running", "2",
        "--json", home=search_home, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out["methods"]) == {"equal"} and out["done"]
    store = RunStore(search_home)
    record = get_sweep(store, out["id"])
    assert record["tuning"]["state"] == "done" and record["verdict"]["search"] == "tpe"
    runs = {r["id"]: store.get_run(r["id"]) for r in record["runs"]}
    assert {r["status"] for r in runs.values()} == {"finished"}
    by_trial: dict[int, list[dict[str, Any]]] = {}
    for entry in record["runs"]:
        by_trial.setdefault(entry["settings"]["trial"], []).append(entry)
    assert sorted(by_trial) == [0, 1]  # the budget, no more
    assert all(sorted(e["seed"] for e in by_trial[t]) == [0, 1, 2] for t in by_trial)
    first, second = by_trial[0][0]["settings"], by_trial[1][0]["settings"]
    lr = presets.load("synthetic-related").train.lr  # setting 0 is the base config's own
    assert first["train.lr"] == lr and second["train.lr"] != first["train.lr"]
    assert lr / 3 <= second["train.lr"] <= lr * 3 and 0 <= second["model.dropout"] <= 0.3
    # ask and tell: setting 1 was queued only once setting 0 had ended on every seed
    ended = max(runs[e["id"]]["ended_at"] for e in by_trial[0])
    assert min(runs[e["id"]]["created_at"] for e in by_trial[1]) >= ended
