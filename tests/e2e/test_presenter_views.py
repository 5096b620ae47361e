"""Views a presenter relies on, in headless Chromium against a real `streamlit run app.py`:

- presenter links (``?present=1``) hide Streamlit's toolbar, status widget (its Stop
  button) and header, every view has a title, and no raw config key is on screen;
- Evaluate shows Δm without a reload once the baseline it started has trained (a real
  worker process);
- Compare with 200 runs in the store draws all of them; the load time is printed (the
  budget, 3 s, is checked by ``benchmarks/compare_load.py``, not asserted here).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import app_server, chromium, require_chromium, settled
from mtl import presets
from mtl.runs.store import RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")

MANY = 200
HIDDEN = ["stToolbar", "stStatusWidget", "stHeader", "stMainMenu", "stDecoration"]
HIDDEN_JS = (
    "testid => [...document.querySelectorAll(`[data-testid='${testid}']`)]"
    ".every(e => e.getClientRects().length === 0)"
)  # display: none on it or a parent
RAW_KEYS = re.compile(r"\b(model\.sharing|loss\.weighting|delta_m|train\.lr|hidden)\b")


def fill(store: RunStore, count: int) -> None:
    """``count`` finished runs written straight into the store (no training)."""
    config = presets.load("seed-example").to_dict()
    for i in range(count):
        run_id = store.create_run(
            f"bulk-{i:03d}", config, status="running", pid=os.getpid(), tags=["bulk"]
        )
        store.add_metrics(
            run_id,
            [(e, e, float(e), "label", "val", "accuracy", 0.5 + e / 10, None) for e in range(3)],
        )
        summary = {
            "test": {"label": {"accuracy": 0.5 + i / 1000}, "regression": {"r2": 0.1 + i / 1000}}
        }
        store.set_status(run_id, "finished", summary=summary)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """200 stored runs and one really trained multi-task run (newest)."""
    from mtl.runs.worker import execute

    folder = tmp_path_factory.mktemp("views-home")
    store = RunStore(folder)
    fill(store, MANY)
    config = presets.load("seed-example").with_overrides({"train.epochs": 3, "name": "demo"})
    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    assert execute(store, run_id, config).status == "finished"
    return folder, run_id


@pytest.fixture(scope="module")
def url(home: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with app_server(home[0], tmp_path_factory.mktemp("views-server")) as address:
        yield address


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


def test_presenter_views_hide_streamlit_chrome_and_show_titles(
    url: str, home: tuple[Path, str], browser
) -> None:  # type: ignore[no-untyped-def]
    run_id = home[1]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    # the normal view has Streamlit's toolbar (the theme menu): the CSS is what hides it
    page.goto(url + "/compare")
    settled(page)
    assert page.locator('[data-testid="stToolbar"]').is_visible()
    for path, title in [
        ("/?present=1", "MTL Lab"),
        (f"/compare?runs={run_id}&present=1", "Compare runs"),
        (f"/evaluate?run={run_id}&present=1", "Evaluate"),
        ("/sweep?present=1", "Sweeps"),
    ]:
        page.goto(url + path)
        settled(page)
        assert page.locator("h1").first.inner_text().strip() == title, path
        for testid in HIDDEN:  # the presenter CSS applies once the script's first elements arrive
            page.wait_for_function(HIDDEN_JS, arg=testid, timeout=30_000)
        text = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        assert "built-in demos" not in text and "<home>" not in text, path  # no docstring
        assert not RAW_KEYS.search(text), (path, RAW_KEYS.search(text))
    page.close()


def test_delta_m_appears_without_a_reload(url: str, home: tuple[Path, str], browser) -> None:  # type: ignore[no-untyped-def]
    run_id = home[1]
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{url}/evaluate?run={run_id}")
    settled(page)
    page.get_by_role("button", name="Train the single-task baseline").click()
    page.get_by_text("Δm appears here when it finishes").wait_for(timeout=60_000)
    # no goto / reload from here on: the page must notice the baseline's end by itself
    page.get_by_text("Δm against the single-task baseline").wait_for(timeout=240_000)
    assert not page.get_by_text("Δm appears here when it finishes").count()
    store = RunStore(home[0])
    baselines = store.list_runs("finished")
    assert (
        baselines["created_at"] > store.get_run(run_id)["created_at"]
    ).sum() == 1  # the baseline it trained
    page.close()


def test_compare_draws_200_runs(url: str, home: tuple[Path, str], browser) -> None:  # type: ignore[no-untyped-def]
    total = len(RunStore(home[0]).list_runs())  # 200 stored, the trained one (and its baseline)
    assert total > MANY
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    drawn: dict[str, float] = {}
    for visit in ("first", "second", "third"):  # the first one also pays for the server's imports
        started = time.monotonic()
        page.goto(f"{url}/compare")
        page.get_by_text(f"{total} of {total} runs", exact=False).first.wait_for(timeout=60_000)
        page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=60_000)
        drawn[visit] = time.monotonic() - started
        print(
            f"\nCompare with {total} runs, {visit} visit: table drawn {drawn[visit]:.2f} s after the request"
        )
    # The product target (a page with 200 runs loads in at most 3 s), on the better of two
    # warm visits: measured 0.75 s median on a loaded machine, so a 4x margin.
    assert min(drawn["second"], drawn["third"]) <= 3.0, drawn
    grid = page.locator('[data-testid="stDataFrame"] [role="grid"]').first
    assert grid.get_attribute("aria-rowcount") == str(total + 1)  # the header row + every run
    page.close()


def test_home_shows_a_run_ending_without_a_reload(
    url: str, home: tuple[Path, str], browser
) -> None:  # type: ignore[no-untyped-def]
    store = RunStore(home[0])
    config = presets.load("seed-example").to_dict()
    run_id = store.create_run("ends-while-watched", config, status="running", pid=os.getpid())
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(url)
    settled(page)
    row = page.locator('[data-testid="stDataFrame"] [role="row"]', has_text="ends-while-watched")
    row.get_by_text("running", exact=True).wait_for(state="attached", timeout=60_000)
    store.set_status(run_id, "finished", summary={"test": {}})
    # no reload: the page polls the pending statuses and reruns when this one has ended
    row.get_by_text("finished", exact=True).wait_for(state="attached", timeout=60_000)
    page.close()
