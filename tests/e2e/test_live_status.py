"""The Live page follows its run, in headless Chromium against a real `streamlit run app.py`.

- A run queued behind another: the badge and the picker say "queued", then "running" once the
  run's status column says so, then the end status, all without a reload (the test writes
  the status column as a worker would: no training needed, nothing else is started).
- A finished run (really trained, with diagnostics): the "Loss weights and task conflict"
  section draws its charts, whose figures carry numpy arrays as plotly typed-array specs,
  without a "Chart error".
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import REPO, chromium, require_chromium, streamlit_server
from conftest import stop_workers
from mtl import presets
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore

require_chromium()
sync_api = pytest.importorskip("playwright.sync_api")

CHARTS = "() => (window.__mtlLive && window.__mtlLive.charts) || {}"
DRAWN_ON_SCREEN = """([key, selector]) => {
  const el = document.querySelector(selector);
  if (el) el.scrollIntoView({block: "center"});
  return ((window.__mtlLive && window.__mtlLive.charts[key]) || {react: 0}).react >= 1;
}"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store with one really trained run (penguins, diagnostics on): ``trained``."""
    from mtl.runs.worker import execute

    folder = tmp_path_factory.mktemp("live-status-home")
    store = RunStore(folder)
    config = presets.load("penguins").with_overrides(
        {"train.epochs": 3, "train.diagnostics_every": 2, "name": "trained"}
    )
    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    assert execute(store, run_id, config).status == RunStatus.FINISHED
    assert not store.weights(run_id).empty
    yield folder
    stop_workers(folder)


@pytest.fixture(scope="module")
def url(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "MTL_HOME": str(home),
        "MTL_WARM_WORKER": "0",  # nothing but this test changes a run's status
        "MTL_SUPERVISOR": "0",
        "MTL_MAX_RUNNING": "1",
        "MTL_HEARTBEAT_TIMEOUT": "3600",
        "MTL_LIVE_REFRESH_S": "0.5",
        "OMP_NUM_THREADS": "1",
    }
    with streamlit_server(REPO / "app.py", tmp_path_factory.mktemp("live-status"), env=env) as a:
        yield a


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def test_status_follows_a_queued_run_without_a_reload(home: Path, url: str, browser) -> None:  # type: ignore[no-untyped-def]
    expect = sync_api.expect
    store = RunStore(home)
    config = presets.load("penguins").to_dict()
    blocker = store.create_run("blocker", config, status="running", pid=os.getpid())
    store.heartbeat(blocker)  # alive: holds the one slot
    waiting = store.create_run("waiting", config)  # queued behind it
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{url}/live?run={waiting}")
        heading = page.get_by_role("heading", name=re.compile("waiting"))
        picker = page.locator('input[aria-label="Run"]')
        expect(heading).to_contain_text("queued", timeout=60_000)
        expect(page.get_by_text("Queued, waiting for a free slot")).to_be_visible()
        loads = page.evaluate("() => performance.getEntriesByType('navigation').length")

        store.set_status(waiting, RunStatus.RUNNING)  # what the worker writes when it starts
        expect(heading).to_contain_text("running", timeout=60_000)
        expect(picker).to_have_value(f"waiting · {waiting} · running", timeout=30_000)
        expect(page.get_by_role("button", name="Stop")).to_be_visible()

        store.set_status(waiting, RunStatus.FINISHED, summary={"epochs": 0})
        expect(heading).to_contain_text("finished", timeout=60_000)
        expect(picker).to_have_value(f"waiting · {waiting} · finished", timeout=30_000)
        expect(page.get_by_role("button", name="Stop")).to_have_count(0)
        assert page.evaluate("() => performance.getEntriesByType('navigation').length") == loads
        assert page.url.endswith(f"/live?run={waiting}")  # the same page, never reloaded
    finally:
        page.close()
        store.set_status(blocker, RunStatus.STOPPED)


def test_weights_and_conflict_charts_draw_without_a_chart_error(
    home: Path,
    url: str,
    browser,  # type: ignore[no-untyped-def]
) -> None:
    store = RunStore(home)
    (trained,) = store.list_runs(RunStatus.FINISHED).query("name == 'trained'")["id"]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(f"{url}/live?run={trained}")
        section = page.locator('[data-testid="stExpander"]').filter(
            has_text="Loss weights and task conflict"
        )
        section.wait_for(timeout=60_000)
        if section.locator("details[open]").count() == 0:  # open by default on an ended run
            section.get_by_text("Loss weights and task conflict").click()
        keys = [f"live.weights.{trained}", f"live.cosine.{trained}", f"live.cosmap.{trained}"]
        for key in keys:  # a chart draws once on screen; charts above may still grow: keep it there
            page.wait_for_function(
                DRAWN_ON_SCREEN,
                arg=[key, f".st-key-{key.replace('.', '-')}"],
                polling=250,
                timeout=90_000,
            )
        charts = page.evaluate(CHARTS)
        weights = charts[keys[0]]
        assert weights["held"] > 0 and weights["lastX"] > 0  # decoded from the typed arrays
        traces = section.locator(
            f".st-key-live-weights-{trained} .js-plotly-plot .scatterlayer .trace"
        )
        assert traces.count() >= 2  # one line per task's weight
        assert section.get_by_text("Chart error").count() == 0
        assert page.get_by_text("Chart error").count() == 0
        assert not [e for e in errors if "live_chart" in e], errors
    finally:
        page.close()
