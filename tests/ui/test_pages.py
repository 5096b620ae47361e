"""Every dashboard page through Streamlit's AppTest, against a real run store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.runs.store import RunStore

APP = str(ROOT / "app.py")
TIMEOUT = 60


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A store holding two finished seed-example runs (trained in this process)."""
    from mtl.runs.worker import execute

    home = tmp_path_factory.mktemp("ui-home")
    store = RunStore(home)
    ids = []
    for sharing in ("hard", "independent"):
        config = presets.load("seed-example").with_overrides(
            {"train.epochs": 3, "model.sharing": sharing, "name": f"toy-{sharing}"}
        )
        run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
        execute(store, run_id, config)
        ids.append(run_id)
    return home, ids[0], ids[1]


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, str, str]) -> AppTest:
    monkeypatch.setenv("MTL_HOME", str(trained[0]))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", ["home", "experiment", "live", "compare", "evaluate", "transfer"])
def test_every_page_runs_on_an_empty_store(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MTL_HOME", str(tmp_path / "empty"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(f"app_pages/{page}.py").run()
    no_exception(at)


def bare_strings(path: Path) -> list[int]:
    """Lines of string literals standing alone outside functions, after the module docstring:
    Streamlit's "magic" prints those on the page (developer text on screen)."""
    import ast

    found = []

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):
                found.append(statement.lineno)
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # docstrings of functions are not printed
            for field in ("body", "orelse", "finalbody", "handlers"):
                visit([s for s in getattr(statement, field, []) if isinstance(s, ast.stmt)])

    visit(ast.parse(path.read_text(encoding="utf-8")).body[1:])
    return found


@pytest.mark.parametrize(
    "page", ["app.py", *(f"app_pages/{p.name}" for p in sorted((ROOT / "app_pages").glob("*.py")))]
)
def test_no_page_prints_a_bare_string(page: str) -> None:
    assert bare_strings(ROOT / page) == []


def test_home_lists_runs_and_presets(app: AppTest, trained: tuple[Path, str, str]) -> None:
    at = app.run()
    no_exception(at)
    assert {"penguins", "digits", "synthetic-related", "synthetic-unrelated", "seed-example"} <= {
        b.label for b in at.button
    }
    table = at.dataframe[0].value
    assert set(table["run id"]) == {trained[1], trained[2]}
    assert not [c for c in table.columns if "." in c or "_" in c]  # human headers, no raw keys
    # no developer text: a bare string literal would be printed by Streamlit's "magic"
    assert not [m.value for m in at.markdown if "<home>" in m.value or "built-in demos" in m.value]
    assert at.title[0].value == "MTL Lab"


def test_live_shows_a_finished_run_from_the_url(
    app: AppTest, trained: tuple[Path, str, str]
) -> None:
    at = app.run()
    at.switch_page("app_pages/live.py")
    at.query_params["run"] = trained[1]
    at.run()
    no_exception(at)
    assert at.selectbox(key="live.picker").value == trained[1]
    assert any("finished" in s.value for s in at.subheader)
    best = at.dataframe[0].value
    assert {"label", "regression"} <= set(best["task"])
    # the choice follows the user to another page (state across pages)
    at.switch_page("app_pages/evaluate.py").run()
    no_exception(at)
    assert at.selectbox(key="evaluate.picker").value == trained[1]


def test_compare_table_has_every_run_with_results(
    app: AppTest, trained: tuple[Path, str, str]
) -> None:
    at = app.run()
    at.switch_page("app_pages/compare.py").run()
    no_exception(at)
    assert at.title[0].value == "Compare"
    table = at.dataframe[0].value  # the editable runs table
    shown = [c for c in table.columns if c not in ("select", "run id")]  # the id column is hidden
    assert shown == [
        "run",
        "dataset",
        "status",
        "created",
        "tags",  # editable, so before the results: one column per task pushes these off-screen
        "notes",
        "label · accuracy (test)",
        "regression · R² (test)",
    ]
    assert set(table["run id"]) == {trained[1], trained[2]}
    store = RunStore(trained[0])
    for run_id, value in zip(table["run id"], table["label · accuracy (test)"], strict=True):
        assert value == pytest.approx(store.get_run(run_id)["summary"]["test"]["label"]["accuracy"])
    # the settings are one pick away, under readable names
    at.multiselect(key="cmp.columns").set_value(
        ["sharing", "learning rate", "label · accuracy (best val)"]
    ).run()
    no_exception(at)
    table = at.dataframe[0].value
    assert {"hard", "independent"} == set(table["sharing"])
    best = (
        store.extremes("val")
        .query("task == 'label' and metric == 'accuracy'")
        .set_index("run_id")["max"]
    )
    for run_id, value in zip(table["run id"], table["label · accuracy (best val)"], strict=True):
        assert value == pytest.approx(best[run_id])


def test_compare_shows_the_file_name_of_an_uploaded_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path / "csv-home")
    config = {
        "name": "from-csv",
        "data": {"dataset": "csv", "path": str(tmp_path / "uploads" / "sales-2024.csv")},
        "tasks": [{"name": "y", "target": "y", "kind": "binary"}],
    }
    store.create_run("from-csv", config)
    monkeypatch.setenv("MTL_HOME", str(tmp_path / "csv-home"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/compare.py").run()
    no_exception(at)
    assert list(at.dataframe[0].value["dataset"]) == ["sales-2024.csv"]


def test_evaluate_shows_test_metrics(app: AppTest, trained: tuple[Path, str, str]) -> None:
    at = app.run()
    at.switch_page("app_pages/evaluate.py")
    at.query_params["run"] = trained[2]
    at.run()
    no_exception(at)
    classification, regression = at.dataframe[0].value, at.dataframe[1].value  # one table per kind
    assert list(classification.index) == ["label"] and list(regression.index) == ["regression"]
    summary = RunStore(trained[0]).get_run(trained[2])["summary"]["test"]
    assert classification.loc["label", "accuracy"] == pytest.approx(summary["label"]["accuracy"])
    assert regression.loc["regression", "R²"] == pytest.approx(summary["regression"]["r2"])
    assert (
        "MSE" not in classification and "accuracy" not in regression
    )  # no column that cannot apply
    assert all(
        d.proto.placeholder == "—" for d in at.dataframe
    )  # a missing value reads "—", never "None"
    assert "weights_only" not in " ".join(b.label for b in at.get("download_button"))


def test_evaluate_delta_m_has_no_none_cells_and_a_typeset_formula(
    app: AppTest, trained: tuple[Path, str, str]
) -> None:
    at = app.run()
    at.switch_page("app_pages/evaluate.py")
    at.query_params["run"] = trained[1]  # the hard-sharing run; the independent one is its baseline
    at.run()
    no_exception(at)
    assert [m.label for m in at.metric] == ["Δm against the single-task baseline"]
    changes = at.dataframe[2].value
    assert list(changes["task"]) == ["label", "regression"]
    assert "None" not in changes.astype(str).to_numpy() and at.dataframe[2].proto.placeholder == "—"
    assert at.latex and "\\frac" in at.latex[0].value
    assert not [c.value for c in at.caption if "Σ" in c.value]  # no raw one-line formula


def test_experiment_validation_messages(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/experiment.py").run()
    no_exception(at)
    # the penguins preset fills the form; every weight to 0 with manual weighting is refused
    at.selectbox(key="exp.loss.weighting").set_value("manual").run()
    for task in ("species", "sex", "body_mass"):
        at.slider(key=f"task.{task}.weight").set_value(0.0)
    at.run()
    at.button(key="exp.start").click().run()
    no_exception(at)
    assert any("every task weight is 0" in e.value for e in at.error)


def test_experiment_no_task_picked(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/experiment.py").run()
    at.multiselect[0].set_value([]).run()
    no_exception(at)
    assert any("Pick at least one target column" in w.value for w in at.warning)


def test_experiment_one_class_target_is_refused_in_plain_words(
    app: AppTest, tmp_path: Path
) -> None:
    data = tmp_path / "one.csv"
    data.write_text(
        "a,b,y\n" + "".join(f"{i * 0.5},{i % 3},yes\n" for i in range(40)), encoding="utf-8"
    )
    at = app.run()
    at.switch_page("app_pages/experiment.py").run()
    at.session_state["exp.data.dataset"] = "csv"
    at.session_state["exp.data.path"] = str(data)
    at.session_state["exp.tasks"] = [
        {"name": "y", "target": "y", "kind": "binary", "weight": 1.0, "start_epoch": 0}
    ]
    at.run()
    at.button(key="exp.start").click().run()
    no_exception(at)
    assert any("only one class" in e.value for e in at.error)


def test_diagnostics_show_on_live_and_affinity_on_evaluate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.runs.worker import execute

    store = RunStore(tmp_path / "diag")
    config = presets.load("seed-example").with_overrides(
        {"train.epochs": 2, "train.diagnostics_every": 3, "train.affinity": True}
    )
    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    execute(store, run_id, config)
    monkeypatch.setenv("MTL_HOME", str(tmp_path / "diag"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/live.py")
    at.query_params["run"] = run_id
    at.run()
    no_exception(at)
    assert "Task conflict" in [s.value for s in at.subheader]
    at.switch_page("app_pages/evaluate.py").run()
    no_exception(at)
    assert any("Inter-task affinity" in s.value for s in at.subheader)


def test_presenter_links_hide_the_setup_controls(
    app: AppTest, trained: tuple[Path, str, str]
) -> None:
    at = app.run()
    at.switch_page("app_pages/live.py")
    at.query_params.update({"run": trained[1], "present": "1", "x": "epoch", "smoothing": "0.3"})
    at.run()
    no_exception(at)
    assert not at.selectbox and not at.slider and not at.radio  # no picker, no chart controls
    assert any("finished" in s.value for s in at.subheader)

    at.switch_page("app_pages/compare.py")
    at.query_params.update({"runs": f"{trained[1]},{trained[2]}", "present": "1", "metric": "loss"})
    at.run()
    no_exception(at)
    assert not at.multiselect and not at.text_input  # no filters
    assert at.title[0].value == "Compare runs"
    assert set(at.dataframe[0].value["run"]) == {"toy-hard", "toy-independent"}
    assert "Curves of the selected runs" in [s.value for s in at.subheader]


def test_sweep_page_shows_the_aggregate_and_pareto_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.runs.worker import execute
    from mtl.study.sweeps import SweepSpec, launch_sweep

    home = tmp_path / "sweep"
    store = RunStore(home)
    spec = SweepSpec.from_dict(
        {
            "name": "s",
            "base": "seed-example",
            "overrides": {"train.epochs": 2},
            "grid": {"model.sharing": ["hard", "independent"]},
            "seeds": [0, 1],
        }
    )
    monkeypatch.setenv("MTL_MAX_RUNNING", "100")  # claim them all, then train them here, one by one
    monkeypatch.setattr(
        "mtl.runs.local_executor._spawn_worker", lambda store, run_id, limit: os.getpid()
    )
    sweep_id = launch_sweep(store, spec)
    for run in store.list_runs(with_config=True).itertuples():
        execute(store, run.id, ExperimentConfig.from_dict(run.config))
    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/sweep.py")
    at.query_params["sweep"] = sweep_id
    at.run()
    no_exception(at)
    subheaders = [s.value for s in at.subheader]
    assert "Mean ± std over seeds, per setting" in subheaders and "Pareto plot" in subheaders
    table = at.dataframe[0].value
    assert set(table["sharing"]) == {"hard", "independent"} and (table["runs"] == 2).all()
    assert not [
        c for c in table.columns if "." in c or "_" in c
    ]  # human headers: no model.sharing, delta_m
    assert at.title[0].value == "Sweeps"
    at.query_params["present"] = "1"
    at.run()
    no_exception(at)
    assert at.title[0].value == "Sweeps" and at.subheader[0].value == "s"
    del at.query_params["present"]
    at.query_params["sweep"] = "no-such-sweep"
    at.run()
    no_exception(at)
    assert any("No sweep 'no-such-sweep' in this store" in w.value for w in at.warning)
    assert at.selectbox(key="sw.picker").value == sweep_id  # the latest, said so
    assert at.query_params["sweep"] == sweep_id  # the URL now names the one shown


def test_experiment_explains_strategy_limits_and_diagnostics_cost(app: AppTest) -> None:
    at = app.run()
    at.switch_page("app_pages/experiment.py").run()
    at.selectbox(key="exp.model.sharing").set_value("independent").run()
    at.selectbox(key="exp.loss.weighting").set_value("pcgrad").run()
    no_exception(at)
    assert any("needs shared parameters" in e.value for e in at.error)
    at.selectbox(key="exp.model.sharing").set_value("hard").run()
    at.checkbox(key="exp.ui.diagnostics").check().run()
    no_exception(at)
    assert any("Estimated cost" in c.value for c in at.caption)


def test_a_sweep_starts_from_the_current_experiment_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.ui.form import to_widgets

    monkeypatch.setenv("MTL_HOME", str(tmp_path / "setup"))
    monkeypatch.setenv("MTL_WARM_WORKER", "0")  # and no worker: nothing trains in this test
    monkeypatch.setattr(
        "mtl.runs.local_executor._spawn_worker", lambda store, run_id, limit: os.getpid()
    )
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page("app_pages/sweep.py")
    for key, value in to_widgets(
        presets.load("penguins").with_overrides({"train.lr": 0.0123})
    ).items():
        at.session_state[key] = value  # what the Experiment form holds
    at.run()
    no_exception(at)
    assert at.selectbox(key="sw.base").value == "current"  # offered first when there is a setup
    at.text_input(key="sw.seeds").set_value("0")
    at.multiselect(key="sw.sharing").set_value(["hard"])
    at.multiselect(key="sw.weighting").set_value(["equal"])
    at.button(key="sw.start").click().run()
    no_exception(at)
    configs = RunStore(tmp_path / "setup").list_runs(with_config=True)["config"].tolist()
    assert configs and all(
        c["data"]["dataset"] == "penguins" and c["train"]["lr"] == 0.0123 for c in configs
    )
    assert {t["name"] for t in configs[0]["tasks"]} == {"species", "sex", "body_mass"}
    # the presenter view of the sweep has no setup controls
    at.query_params["present"] = "1"
    at.run()
    no_exception(at)
    assert not at.selectbox and not at.button
