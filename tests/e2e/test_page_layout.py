"""Labels that must fit at 1280×800 (and in presenter view), in headless Chromium against a
real `streamlit run app.py`: the Home preset buttons show their full names, the Compare
overlay charts show their whole titles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import REPO, chromium, require_chromium, streamlit_server
from conftest import stop_workers
from mtl import presets
from mtl.runs.store import RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")

LONG_TASK = "customer-lifetime-value-after-12-months"  # a plausible long task name
CUT = """() => [...document.querySelectorAll(
        '[data-testid="stMainBlockContainer"] :is(button, a) *')]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => e.textContent)"""  # button labels shortened (Streamlit's stMarkdownEllipsis)
TITLES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
    const svg = plot.querySelector('.main-svg').getBoundingClientRect();
    const title = plot.querySelector('.gtitle');
    if (!title || !title.textContent) return null;
    const box = title.getBoundingClientRect();
    return {text: title.textContent, inside: box.left >= svg.left - 1 && box.right <= svg.right + 1};
})"""  # each plotly title's box against its chart's: outside means clipped


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store with one run whose task has a long name and a validation curve (no training)."""
    folder = tmp_path_factory.mktemp("layout-home")
    store = RunStore(folder)
    config = presets.load("seed-example").to_dict()
    config["tasks"][0]["name"] = LONG_TASK
    run_id = store.create_run("long-names", config, status="running", pid=os.getpid())
    rows = [(e, e, float(e), LONG_TASK, "val", "loss", 1.0 / (e + 1), None) for e in range(3)]
    store.add_metrics(run_id, rows)
    store.set_status(run_id, "finished", summary={"test": {LONG_TASK: {"accuracy": 0.9}}})
    return folder, run_id


@pytest.fixture(scope="module")
def url(home: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("layout-server")
    env = {"MTL_HOME": str(home[0]), "MTL_WARM_WORKER": "0"}
    with streamlit_server(REPO / "app.py", logs, env=env) as address:
        yield address
    stop_workers(home[0])


def settled(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app's script run is over (the running icon is gone)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && document.querySelector('[data-testid=\"stMainBlockContainer\"] h1')",
        timeout=60_000,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.mark.parametrize("path", ["/", "/?present=1"])
def test_home_preset_buttons_show_their_full_names(url: str, browser, path: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url + path)
    settled(page)
    buttons = page.get_by_role("button", name="synthetic-unrelated")
    buttons.wait_for(timeout=60_000)
    for name in ("penguins", "synthetic-related", "synthetic-unrelated", "seed-example"):
        assert page.get_by_role("button", name=name, exact=True).is_visible(), name
    assert page.evaluate(CUT) == []
    page.close()


def test_compare_chart_titles_and_presenter_button_fit(
    url: str, home: tuple[Path, str], browser
) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{url}/compare")
    settled(page)
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.wait_for(timeout=60_000)
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 20, box["y"] + 35 + 17)  # the first row's ✓ cell (canvas grid)
    page.get_by_text("Curves of the selected runs").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    settled(page)
    assert page.get_by_role("link", name="Presenter view").is_visible()
    assert page.evaluate(CUT) == []
    for view in ("normal", "presenter"):
        main = page.locator('[data-testid="stMainBlockContainer"]')
        heading = main.get_by_text(LONG_TASK, exact=True)  # the chart's title, whole
        assert heading.is_visible(), view
        width = page.evaluate("() => document.documentElement.clientWidth")
        box = heading.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, view
        assert all(t["inside"] for t in page.evaluate(TITLES) if t), view  # none clipped
        page.goto(f"{url}/compare?runs={home[1]}&present=1")
        settled(page)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    page.close()
