"""The Live page in headless Chromium against a real `streamlit run app.py` started here.

A cold server start: the app itself starts the warm spare (the test only waits for it),
so the first launch from Home draws its first point within seconds and runs on a worker
that existed before the click; a second launch ten seconds later is warm too. The live
chart receives its history once (one Plotly.react) and then only appended points
(Plotly.extendTraces), counted by the component's own hook (``window.__mtlLive``). When the
run ends the page stops polling and the run picker shows the final status. A run name
written as markdown is shown as text and fetches nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from browser_support import app_server, chromium, live_run, require_chromium
from conftest import wait_for
from mtl import presets
from mtl.runs.spare import idle_spares
from mtl.runs.store import TERMINAL_STATUSES, RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")

IDLE = (
    '() => !!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\')'
)
CHARTS = "() => (window.__mtlLive && window.__mtlLive.charts) || {}"
FIRST_POINT_S = 5.0  # product target: first live point within 5 s of the click (warm spare)
HOSTILE = "![x](http://127.0.0.1:1/x.png) **bold** :red[red]"
PRESET = "penguins-watch"
# penguins for far longer than the test watches (minutes), as a preset on Home: the test
# stops each run itself, so how fast the machine trains never decides what it sees
PRESET_YAML = """name: penguins-watch
data: {dataset: penguins}
tasks:
  - {name: species, target: species, kind: multiclass}
  - {name: body_mass, target: body_mass_g, kind: regression}
model: {sharing: hard, hidden: [64, 64]}
train: {epochs: 5000, batch_size: 32, lr: 0.003, early_stopping: 5000, seed: 0}
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("live-home")
    (folder / "presets").mkdir()
    (folder / "presets" / f"{PRESET}.yaml").write_text(PRESET_YAML, encoding="utf-8")
    return folder


def loss_chart(page, run_id: str) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate(CHARTS).get(f"live.loss.{run_id}", {})


def launch_from_home(page, url: str, store: RunStore) -> tuple[str, set[int], float]:  # type: ignore[no-untyped-def]
    """Click the preset on Home; (run id, idle spares just before, click time)."""
    page.goto(url)
    button = page.get_by_role("button", name=PRESET, exact=True)
    button.wait_for(timeout=60_000)
    spares = set(wait_for(lambda: idle_spares(store), 120, "the app's warm spare is ready"))
    clicked = time.monotonic()
    button.click()
    return live_run(page, timeout=60_000), spares, clicked


def test_warm_launches_stream_appended_points_and_end_cleanly(home: Path, tmp_path: Path) -> None:
    store = RunStore(home)
    server = app_server(home, tmp_path, MTL_WARM_WORKER="1", MTL_HEARTBEAT_TIMEOUT="10")
    with server as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        frames: list[int] = []  # websocket messages from the server
        page.on(
            "websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(len(data)))
        )

        # 1. first launch on a cold server: the spare the app started takes it
        first, spares, clicked = launch_from_home(page, url, store)
        page.wait_for_function(
            f"() => (({CHARTS})()['live.loss.{first}'] || {{points: 0}}).points > 0", timeout=60_000
        )
        first_point_s = time.monotonic() - clicked
        assert store.get_run(first)["pid"] in spares
        assert first_point_s <= FIRST_POINT_S, f"first point after {first_point_s:.1f} s"

        # 2. polls append: once its series are all there (the validation lines start at the
        # first epoch end, a new trace: one more full draw), only extendTraces
        extends = f"() => ((({CHARTS})()['live.loss.{first}'] || {{}}).extend || 0)"
        page.wait_for_function(f"() => ({extends})() >= 3", timeout=60_000)
        start = loss_chart(page, first)
        page.wait_for_function(f"() => ({extends})() >= {start['extend'] + 3}", timeout=60_000)
        grown = loss_chart(page, first)
        assert grown["react"] == start["react"] <= 2, grown
        assert grown["held"] > start["held"]
        held, drawn = page.evaluate(
            f"() => [({CHARTS})()['live.loss.{first}'].held, document.querySelector("
            f"'.st-key-live-loss-{first} .js-plotly-plot')._fullData.reduce((n, t) => n + t._length, 0)]"
        )
        assert drawn == held  # what was sent and appended is what the chart holds

        # 3. a second launch ten seconds after the first is warm as well (the first is stopped
        # first: one slot)
        store.request_stop(first)
        wait_for(
            lambda: store.get_run(first)["status"] in TERMINAL_STATUSES, 300, "the first run stops"
        )
        page.wait_for_timeout(max(0.0, 10 - (time.monotonic() - clicked)) * 1000)
        second, spares2, _ = launch_from_home(page, url, store)
        wait_for(lambda: store.get_run(second)["pid"], 300, "the second run is given a worker")
        assert store.get_run(second)["pid"] in spares2  # a spare that existed before the click

        # 4. the run ends: the page shows it, stops polling, and the picker says so
        page.wait_for_function(
            f"() => (({CHARTS})()['live.loss.{second}'] || {{points: 0}}).points > 0",
            timeout=60_000,
        )
        store.request_stop(second)
        wait_for(
            lambda: store.get_run(second)["status"] in TERMINAL_STATUSES, 300, "the second run ends"
        )
        status = store.get_run(second)["status"]
        page.wait_for_function(
            "(want) => (document.querySelector('input[aria-label=\"Run\"]') || {}).value === want",
            arg=f"{PRESET} · {second} · {status}",
            timeout=30_000,
        )
        # the end-of-run page run has delivered its last message (Streamlit's own script state)
        page.wait_for_function(IDLE, timeout=60_000)
        quiet_from = len(frames)
        page.wait_for_timeout(3000)  # polling (every 1 s by default) would send messages meanwhile
        assert frames[quiet_from:] == []  # an ended run's page polls nothing

        # 5. a run named with markdown is shown as typed and fetches nothing
        hostile = store.create_run(
            HOSTILE, presets.load("penguins").with_overrides({"train.epochs": 1}).to_dict()
        )
        page.goto(f"{url}/live?run={hostile}")
        page.get_by_role("heading", name=HOSTILE).wait_for(timeout=60_000)
        assert not [r for r in requests if "127.0.0.1:1/" in r]
        page.close()
