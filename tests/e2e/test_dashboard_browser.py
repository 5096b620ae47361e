"""End to end in headless Chromium against a real `streamlit run app.py`.

Launch a preset from Home, watch the live charts gain points, zoom one and check the
zoom survives the next updates, open a second tab on the same run, stop the run, find
it on Compare, open Evaluate. Also measures the time from the click to the first point
and the update lag (a row committed to the store → drawn in the browser); the figures
are printed (and written to ``$MTL_E2E_REPORT`` when set), not asserted: speed is
measured, not timed in tests. With ``$MTL_SCREENSHOTS`` set to a folder, each page is
saved there as a PNG (the README's screenshots come from this test).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import (
    LIVE_PLOT,
    POINTS,
    StoreWatcher,
    app_server,
    chromium,
    enter,
    live_run,
    require_chromium,
    shot,
    wait_for_points,
)
from mtl.runs.spare import idle_spares
from mtl.runs.store import RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")

MAX_X = "el => Math.max(-1, ...(el._fullData || []).flatMap(t => t.x ? Array.from(t.x).filter(Number.isFinite) : []))"
LONG_PRESET = """# Digits for long enough to watch, zoom and stop (end-to-end test)
name: demo-long
data: {dataset: digits}
tasks:
  - {name: digit, target: digit, kind: multiclass}
  - {name: parity, target: parity, kind: binary}
model: {sharing: hard, encoder: cnn, channels: [16, 32], hidden: [64]}
loss: {weighting: equal}
train: {epochs: 400, batch_size: 64, lr: 0.003, log_every: 5, seed: 0}
"""


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("e2e-home")
    (folder / "presets").mkdir()
    (folder / "presets" / "demo-long.yaml").write_text(LONG_PRESET, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def url(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("e2e-server")
    with app_server(home, logs, MTL_HEARTBEAT_TIMEOUT="5", MTL_WARM_WORKER="1") as address:
        yield address


def test_launch_watch_zoom_stop_compare_evaluate(url: str, home: Path) -> None:
    report: dict[str, float | int | str] = {}
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1800})
        page = context.new_page()
        external = []
        page.on("request", lambda r: external.append(r.url) if "127.0.0.1" not in r.url else None)

        page.goto(url)
        page.get_by_role("button", name="demo-long").wait_for(timeout=30_000)
        shot(page, "home", full_page=True)
        # a person reads the page for a few seconds: by then the warm spare worker is ready
        deadline = time.monotonic() + 60
        while not idle_spares(RunStore(home)) and time.monotonic() < deadline:
            time.sleep(0.1)
        clicked = time.time()
        page.get_by_role("button", name="demo-long").click()
        run_id = live_run(page, timeout=30_000)
        report["live_page_s"] = round(time.time() - clicked, 2)
        watcher = StoreWatcher(home, run_id)
        watcher.start()

        # 1. the first point appears, then the charts gain points
        loss = page.locator(LIVE_PLOT).first
        loss.wait_for(timeout=60_000)
        report["chart_ready_s"] = round(time.time() - clicked, 2)
        wait_for_points(page, timeout=60_000)
        report["first_point_s"] = round(time.time() - clicked, 2)
        if watcher.first_seen:
            report["store_first_row_s"] = round(min(watcher.first_seen.values()) - clicked, 2)
        page.evaluate(
            """([sel, maxX]) => { window.__seen = {}; const f = eval(maxX);
               setInterval(() => { const el = document.querySelector(sel); if (!el || !el._fullData) return;
                 const m = f(el); if (m >= 0 && !(m in window.__seen)) window.__seen[m] = Date.now(); }, 20); }""",
            [LIVE_PLOT, MAX_X],
        )
        start_points = loss.evaluate(POINTS)
        wait_for_points(page, above=start_points, timeout=30_000)

        # 2. zoom (what a drag does), then three more updates: the zoom stays, points keep coming
        loss.evaluate("el => { el.__marker = 4711; }")
        top = loss.evaluate(MAX_X)
        zoom = [top * 0.25, top * 0.75]
        loss.evaluate("(el, r) => Plotly.relayout(el, {'xaxis.range': r})", zoom)
        for _ in range(3):
            wait_for_points(page, above=loss.evaluate(POINTS), timeout=30_000)
        kept = loss.evaluate("el => el._fullLayout.xaxis.range")
        assert kept == pytest.approx(zoom), (kept, zoom)
        assert loss.evaluate("el => el.__marker") == 4711  # the same node: updated in place
        shot(page, "live", full_page=True)

        # 3. a second tab on the same run rebuilds the same view from the store
        second = context.new_page()
        second.goto(f"{url}/live?run={run_id}")
        wait_for_points(second, timeout=60_000)
        assert second.locator(LIVE_PLOT).first.evaluate(POINTS) >= start_points
        second.close()

        # update lag: when a step became readable in the store vs when the browser drew it
        seen = page.evaluate("() => window.__seen")
        lags = [
            t / 1000 - watcher.first_seen[int(float(s))]
            for s, t in seen.items()
            if int(float(s)) in watcher.first_seen and float(s).is_integer()
        ]
        watcher.done.set()
        assert lags, "no step was both read from the store and drawn"
        report["lag_median_s"] = round(statistics.median(lags), 2)
        report["lag_max_s"] = round(max(lags), 2)
        report["lag_samples"] = len(lags)

        # 4. stop the run from the page
        # the page's own Stop (Streamlit's header has a "Stop" of its own while a script runs)
        page.locator('[data-testid="stBaseButton-primary"]', has_text="Stop").click()
        page.get_by_text("stopped", exact=True).first.wait_for(timeout=60_000)
        run = RunStore(home).get_run(run_id)
        assert run["status"] == "stopped"

        # 5. Compare lists it (the exported table holds its row)
        page.goto(f"{url}/compare")
        page.get_by_role("button", name="Export table (CSV)").wait_for(timeout=30_000)
        shot(page, "compare", full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Export table (CSV)").click()
        exported = Path(download.value.path()).read_text(encoding="utf-8")
        assert run_id in exported and "demo-long" in exported

        # 6. Evaluate shows its test metrics and the per-task charts
        page.goto(f"{url}/evaluate?run={run_id}")
        page.get_by_text("Test metrics per task").wait_for(timeout=30_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=30_000
        )
        shot(page, "evaluate", full_page=True)

        page.goto(f"{url}/experiment")
        page.get_by_text("5 · Training").wait_for(timeout=30_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=30_000
        )
        shot(page, "experiment", full_page=True)
        context.close()

    assert not external, f"requests left this machine: {external[:5]}"
    print(f"\ne2e figures: {json.dumps(report)}")
    if os.environ.get("MTL_E2E_REPORT"):
        Path(os.environ["MTL_E2E_REPORT"]).write_text(
            json.dumps(report, indent=2), encoding="utf-8"
        )


def test_sweep_from_the_browser_shows_aggregate_and_pareto(url: str, home: Path) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(f"{url}/sweep")
        page.get_by_role("button", name="Queue the sweep").wait_for(timeout=30_000)
        enter(page, "Epochs per run", 2, exact=False)
        page.get_by_role("button", name="Queue the sweep").click()
        # 2 sharing modes × 2 strategies × 2 seeds (+ the baselines), trained one after another
        page.get_by_text("Pareto plot").wait_for(timeout=240_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=60_000
        )
        page.get_by_text("8 of 8 runs ended").or_(
            page.get_by_text("of 10 runs ended")
        ).first.wait_for(timeout=240_000)
        shot(page, "sweep", full_page=True)
    from mtl.study.sweeps import sweeps

    listing = sweeps(RunStore(home))
    assert len(listing) == 1 and int(listing["runs"].iloc[0]) >= 8
    statuses = RunStore(home).list_runs()["status"]
    assert (statuses[statuses != "stopped"] == "finished").all()
