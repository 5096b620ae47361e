"""Start a small transfer study from the dashboard (headless Chromium, real `streamlit run`,
real workers) and see the data-efficiency plot fill in without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import app_server, chromium, enter, require_chromium
from mtl.runs.store import RunStore
from mtl.study.transfer import transfer_studies

require_chromium()
pytest.importorskip("playwright.sync_api")

POINTS_JS = """() => {
  const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (!plot || !plot.data) return -1;
  return plot.data.filter(t => t.mode === 'lines+markers').reduce((n, t) => n + t.x.length, 0);
}"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    with app_server(home, tmp_path, MTL_MAX_RUNNING="2") as url:
        yield url, home


def test_start_a_study_and_watch_the_plot_fill_in(server: tuple[str, Path]) -> None:
    url, home = server
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/transfer")
        page.get_by_text("No transfer study yet").wait_for(timeout=60_000)
        enter(page, "Shares of the target's training labels", "0.1, 1", exact=False)
        for label, value in (("Seeds", "1"), ("Epochs per run", "3")):
            box = page.get_by_role("spinbutton", name=label)  # not the "Help for Seeds" button
            box.fill(value)
            box.press("Enter")
        # the size before Start, counted as the progress line below counts the runs
        page.get_by_text("This starts 6 runs and 1 pretraining run (").wait_for(timeout=60_000)
        page.get_by_role("button", name="Start the study").click()
        page.get_by_text("runs finished").first.wait_for(timeout=60_000)
        # no reload from here on: the view polls the store while runs are pending
        page.wait_for_function(f"({POINTS_JS})() > 0", timeout=300_000)
        first = page.evaluate(POINTS_JS)
        page.get_by_text("6 of 6 runs finished").wait_for(timeout=400_000)
        page.wait_for_function(f"({POINTS_JS})() === 6", timeout=60_000)
        assert 0 < first <= 6
        page.get_by_text("Multi-task vs transfer learning, measured").wait_for(timeout=30_000)
        # one seed: no spread, so no verdict either way
        page.get_by_text("Transfer learning: No verdict").wait_for(timeout=30_000)
        axis = page.evaluate(
            "() => document.querySelector('[data-testid=\"stPlotlyChart\"] .js-plotly-plot')"
            ".layout.xaxis.type"
        )
        assert axis == "log"
        page.close()
    store = RunStore(home)
    (study,) = transfer_studies(store)
    statuses = set(store.list_runs()["status"])
    assert statuses == {"finished"} and len(study["runs"]) == 6 and len(study["baselines"]) == 1
