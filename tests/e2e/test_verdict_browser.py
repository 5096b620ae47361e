"""A verdict started from the dashboard (real `streamlit run app.py`, headless Chromium, real
worker processes) shows its Δm intervals, its front and its plain-language verdict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import app_server, chromium, enter, require_chromium, settled
from mtl.runs.store import RunStore

require_chromium()
expect = pytest.importorskip("playwright.sync_api").expect

VERDICT_START = ("Sharing helps", "Sharing does not help", "No evidence that sharing helps")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    home = tmp_path / "home"
    with app_server(home, tmp_path, MTL_MAX_RUNNING="2") as address:
        yield address, home


def set_number(page, label: str, value: int) -> None:  # type: ignore[no-untyped-def]
    enter(page, label, value, exact=False)
    settled(page)


def test_verdict_from_the_dashboard_shows_front_and_verdict(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, home = server
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/verdict")
        settled(page)
        set_number(page, "Epochs per run", 2)
        set_number(page, "Seeds", 3)
        set_number(page, "Search budget per method", 1)
        set_number(page, "Static weight vectors (front)", 1)
        # the size before Start, counted as the launch counts (the record's runs, below)
        page.get_by_text("This starts 12 runs and 3 single-task baselines").wait_for(timeout=60_000)
        page.get_by_role("button", name="Start the verdict").click()
        # no reload from here on: the page follows the runs by itself
        page.get_by_text("The verdict", exact=True).wait_for(timeout=90_000)
        page.get_by_text("12 of 12 runs ended · 3 of 3 single-task baselines").wait_for(
            timeout=900_000
        )
        verdict = page.get_by_text(VERDICT_START[0]).or_(page.get_by_text(VERDICT_START[1]))
        verdict.or_(page.get_by_text(VERDICT_START[2])).first.wait_for(timeout=60_000)
        assert not page.get_by_text("Provisional").count()
        settled(page)  # a rerun (e.g. the size caption's, once measured) may briefly show two
        front = page.locator(".js-plotly-plot").filter(has_text="Where every method lands")
        expect(front).to_have_count(1, timeout=60_000)  # the last rerun's chart is the one left
        legend = front.locator(".legend").text_content() or ""
        for name in ("static weights (front)", "single-task baselines", "equal", "pcgrad"):
            assert name in legend, legend
        assert page.locator(".js-plotly-plot").filter(has_text="Δm against").count() == 1
        store = RunStore(home)
        runs = store.list_runs()
        # 3 baselines + 3 methods × 1 setting × 3 seeds + 1 weight vector × 3 seeds
        assert len(runs) == 15 and set(runs["status"]) == {"finished"}
        record = next((home / "sweeps").glob("*.json"))
        assert json.loads(record.read_text())["kind"] == "verdict"
        page.screenshot(path=str(tmp_path / "verdict.png"), full_page=True)
        page.close()
