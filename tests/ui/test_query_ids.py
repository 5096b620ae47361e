"""Ids from the URL that the store does not have are never swapped silently (AppTest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from mtl import presets
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore
from mtl.viz.labels import markdown_text

APP = str(ROOT / "app.py")
HOSTILE = "../../etc/passwd"


def finished(store: RunStore, name: str) -> str:
    """A finished run with a test result, written straight into the store (no training)."""
    run_id = store.create_run(name, presets.load("seed-example").to_dict(), pid=os.getpid())
    store.set_status(run_id, RunStatus.RUNNING)
    store.add_metrics(run_id, [(1, 0, 1.0, "label", "val", "loss", 0.5, None)])
    summary = {"epochs": 1, "test": {"label": {"accuracy": 0.8}}}
    store.set_status(run_id, RunStatus.FINISHED, summary=summary)
    return run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str]:
    """(home, an older finished run, the latest finished run, a running run)."""
    home = tmp_path_factory.mktemp("query-ids")
    store = RunStore(home)
    older, latest = finished(store, "older"), finished(store, "latest")
    running = store.create_run("busy", presets.load("seed-example").to_dict(), pid=os.getpid())
    store.set_status(running, RunStatus.RUNNING)
    store.heartbeat(running)
    return home, older, latest, running


def page(store: tuple[Path, str, str, str], monkeypatch: pytest.MonkeyPatch, name: str, **query):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MTL_HOME", str(store[0]))
    monkeypatch.setenv("MTL_WARM_WORKER", "0")
    monkeypatch.setenv("MTL_SUPERVISOR", "0")
    monkeypatch.setenv("MTL_HEARTBEAT_TIMEOUT", "3600")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page(f"app_pages/{name}.py")
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def notice(run_id: str) -> str:
    return markdown_text(f"No run '{run_id}' in this store; showing the latest run")


def test_live_says_an_unknown_run_is_not_there_and_shows_the_latest(runs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at = page(runs, monkeypatch, "live", run=HOSTILE)
    assert warnings(at) == [notice(HOSTILE)]
    newest = RunStore(runs[0]).list_runs()["id"].iloc[0]
    assert at.selectbox(key="live.picker").value == newest
    assert at.query_params["run"] == newest  # the URL now names what is shown
    # presenter view (no picker): the same notice, the newest run
    at = page(runs, monkeypatch, "live", run="nope", present="1")
    assert warnings(at) == [notice("nope")]
    assert any("busy" in s.value for s in at.subheader)


def test_a_known_run_in_the_url_shows_no_notice(runs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at = page(runs, monkeypatch, "evaluate", run=runs[1])
    assert warnings(at) == []
    assert at.selectbox(key="evaluate.picker").value == runs[1]


def test_evaluate_tells_an_unknown_run_from_one_it_does_not_list(runs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at = page(runs, monkeypatch, "evaluate", run="nope")
    assert warnings(at) == [notice("nope")]
    assert at.selectbox(key="evaluate.picker").value == runs[2]  # the latest finished run
    at = page(runs, monkeypatch, "evaluate", run=runs[3])
    assert warnings(at) == [
        markdown_text(f"Run '{runs[3]}' is running, not listed here; showing the latest run")
    ]
    at = page(runs, monkeypatch, "evaluate", run="x" * 500, present="1")
    assert warnings(at) == [notice("x" * 79 + "…")]  # a long id is cut
    assert any("latest" in s.value for s in at.subheader)


def test_compare_presenter_view_names_the_runs_it_left_out(runs, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    at = page(runs, monkeypatch, "compare", runs=f"{runs[1]},**gone**", present="1")
    assert warnings(at) == [markdown_text("No run '**gone**' in this store; left out")]
    assert set(at.dataframe[0].value["run"]) == {"older"}


def test_query_id_on_sweep_like_pages() -> None:
    def script() -> None:
        import streamlit as st

        from mtl.ui import session

        st.text(repr(session.query_id("sweep", ["s1", "s2"], "sweep")))

    at = AppTest.from_function(script)
    at.query_params["sweep"] = "s2"
    at.run()
    assert [t.value for t in at.text] == ["'s2'"] and not at.warning
    at.query_params["sweep"] = ":red[nope]"
    at.run()
    assert [t.value for t in at.text] == ["None"]
    assert [w.value for w in at.warning] == [
        markdown_text("No sweep ':red[nope]' in this store; showing the latest sweep")
    ]
