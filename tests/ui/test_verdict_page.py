"""The Verdict page through AppTest against a real store holding a verdict (runs written with
chosen metrics), in normal and presenter view; it loads neither torch nor scikit-learn."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, stop_workers
from mtl.runs.store import RunStore
from mtl.study.sweeps.records import get_sweep, read_records

sys.path.insert(0, str(ROOT / "tests" / "study"))
from verdict_support import BASELINE, fake_verdict  # noqa: E402


def better(settings: dict, seed: int) -> tuple[float, float]:
    rmse, mae = BASELINE[seed]
    return rmse * 0.9, mae * 0.9


@pytest.fixture
def verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    home = tmp_path / "home"
    monkeypatch.setenv("MTL_HOME", str(home))
    monkeypatch.setenv("MTL_WARM_WORKER", "0")
    return home, fake_verdict(RunStore(home), better, lambda s: 0.01)


def test_page_shows_verdict_figures_and_table(verdict: tuple[Path, str]) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/verdict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Verdict"
    text = " ".join(m.value for m in at.markdown)
    assert "Sharing helps" in text
    table = at.dataframe[0].value
    assert list(table["method"]) == ["equal", "pcgrad"]
    assert list(table["helps"]) == ["yes", "yes"]
    assert len(at.get("plotly_chart")) == 2
    assert [b.label for b in at.button if b.label == "Start the verdict"]


def test_presenter_view_hides_the_setup(verdict: tuple[Path, str]) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["present"] = "1"
    at.query_params["verdict"] = verdict[1]
    at.run()
    at.switch_page("app_pages/verdict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [b for b in at.button if b.label == "Start the verdict"]
    assert len(at.get("plotly_chart")) == 2
    assert "Sharing helps" in " ".join(m.value for m in at.markdown)


def test_page_loads_neither_torch_nor_sklearn(verdict: tuple[Path, str]) -> None:
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=120).run()\n"
        "at.switch_page('app_pages/verdict.py').run()\n"
        "assert not at.exception, at.exception\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    env = {**os.environ, "MTL_HOME": str(verdict[0]), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_sweeps_page_lists_the_verdicts_runs(verdict: tuple[Path, str]) -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["sweep"] = verdict[1]
    at.run()
    at.switch_page("app_pages/sweep.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value  # mean ± std per setting: role, method, trial
    assert {"equal", "pcgrad", "static"} <= set(table["method"])


def test_tpe_tuning_chosen_on_the_page_reaches_the_verdict(
    verdict: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, first = verdict
    monkeypatch.setenv("MTL_MAX_RUNNING", "1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.switch_page("app_pages/verdict.py").run()
    assert at.radio(key="vd.search").options == ["random settings", "TPE search"]
    at.radio(key="vd.search").set_value("tpe")
    at.number_input(key="vd.epochs").set_value(1)
    at.number_input(key="vd.seeds").set_value(3)
    at.number_input(key="vd.budget").set_value(2)
    at.number_input(key="vd.weights").set_value(0)
    try:
        at.button(key="vd.start").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        store = RunStore(home)
        started = [r for r in read_records(store) if r["id"] != first]
        assert len(started) == 1
        assert started[0]["verdict"]["search"] == "tpe"
        assert started[0]["tuning"]["trials"] > len(started[0]["runs"])  # asked for later
    finally:
        stop_search_drivers(home)
        stop_workers(home)


def stop_search_drivers(home: Path) -> None:
    """Kill the verdicts' tuning drivers (by the pid each records when it starts)."""
    deadline = time.monotonic() + 60
    for record in read_records(RunStore(home)):
        if "tuning" not in record:
            continue
        while (pid := get_sweep(RunStore(home), record["id"])["tuning"]["driver_pid"]) is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
