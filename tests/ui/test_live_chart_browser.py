"""Browser test of mtl.ui.live_chart: a real `streamlit run` + headless Chromium.

Proves that the live chart grows in place, keeps the user's zoom and legend
toggles, never blanks (same DOM node, never zero-sized) and loads plotly.js from
the local Streamlit server only.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from browser_support import chromium, require_chromium, streamlit_server

APP = Path(__file__).with_name("live_chart_app.py")
PLOT = '.st-key-demo-loss [data-testid="stBidiComponentRegular"] .js-plotly-plot'

require_chromium()
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Run a copy of the app from a temp dir, so the app's static/ folder (where
    # live_chart puts plotly.js) and any .streamlit/ config stay out of the repo.
    workdir = tmp_path_factory.mktemp("live_chart_app")
    app = workdir / APP.name
    shutil.copyfile(APP, app)
    with streamlit_server(app, workdir) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


class Page:
    """A page on the demo app that records requests and websocket frames."""

    def __init__(self, browser, url: str, color_scheme: str = "light") -> None:
        self.requests: list[str] = []
        self.frames: list[int] = []  # websocket frames received (bytes)
        self.context = browser.new_context(
            viewport={"width": 1000, "height": 800}, color_scheme=color_scheme
        )
        self.page = self.context.new_page()
        self.page.on("request", lambda req: self.requests.append(req.url))
        self.page.on("websocket", self._on_ws)
        self.page.goto(url)
        self.page.wait_for_selector(PLOT, timeout=20_000)
        self.wait_points(8)

    def _on_ws(self, ws) -> None:
        ws.on("framereceived", lambda payload: self.frames.append(len(payload)))

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def wait(self, seconds: float) -> None:
        # not time.sleep: the sync API only dispatches events while it is called
        self.page.wait_for_timeout(seconds * 1000)

    def points(self) -> int:
        return self.js(
            "(sel) => { const d = document.querySelector(sel);"
            " return d && d.data && d.data.length ? d.data[0].x.length : -1; }",
            PLOT,
        )

    def wait_points(self, n: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while (got := self.points()) < n:
            assert time.monotonic() < deadline, f"chart stuck at {got} points, wanted {n}"
            self.wait(0.05)
        return got

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(server: str, browser) -> Iterator[Page]:
    p = Page(browser, server)
    try:
        yield p
    finally:
        p.close()


def test_chart_appears_and_grows(page: Page) -> None:
    first = page.points()
    assert first >= 8
    page.wait(3)
    assert page.points() >= first + 4  # run_every=0.5 s -> ~6 new points in 3 s
    # the plot lives inside the v2 component, and there is exactly one
    assert page.js("(sel) => document.querySelectorAll(sel).length", PLOT) == 1


def test_zoom_and_legend_survive_updates(page: Page) -> None:
    # what a drag-zoom does
    page.js("(sel) => Plotly.relayout(document.querySelector(sel), {'xaxis.range': [2, 6]})", PLOT)
    # a real click on the legend entry of the second trace ("val") hides it
    page.page.locator(f"{PLOT} .legend .traces").nth(1).click()
    before = page.points()
    after = page.wait_points(before + 3)  # >= 3 more updates
    state = page.js(
        """(sel) => { const d = document.querySelector(sel);
            return {range: d._fullLayout.xaxis.range, auto: d._fullLayout.xaxis.autorange,
                    vis: d._fullData.map(t => t.visible)}; }""",
        PLOT,
    )
    assert after >= before + 3
    assert state["range"] == pytest.approx([2, 6])
    assert state["auto"] is False
    assert state["vis"] == [True, "legendonly"]


def test_no_flicker_same_dom_node(page: Page) -> None:
    page.js(
        """(sel) => {
            const d = document.querySelector(sel);
            d.__marker = 123;
            const s = window.__flicker = {samples: 0, missing: 0, zero: 0, swapped: 0, removed: 0};
            window.__flickerTimer = setInterval(() => {
                s.samples++;
                const now = document.querySelector(sel);
                if (!now) { s.missing++; return; }
                if (now.__marker !== 123) s.swapped++;
                const r = now.getBoundingClientRect();
                const svg = now.querySelector('svg.main-svg');
                if (r.width === 0 || r.height === 0 || !svg) s.zero++;
            }, 20);
            window.__flickerObs = new MutationObserver((muts) => {
                for (const m of muts) for (const n of m.removedNodes)
                    if (n === d || (n.contains && n.contains(d))) s.removed++;
            });
            window.__flickerObs.observe(document.body, {childList: true, subtree: true});
        }""",
        PLOT,
    )
    before = page.points()
    page.wait(2.2)
    stats = page.js(
        "() => { clearInterval(window.__flickerTimer); window.__flickerObs.disconnect();"
        " return window.__flicker; }"
    )
    assert page.points() >= before + 3  # updates really happened meanwhile
    assert page.js("(sel) => document.querySelector(sel).__marker", PLOT) == 123
    assert stats["samples"] >= 50, stats
    assert stats == {**stats, "missing": 0, "zero": 0, "swapped": 0, "removed": 0}


def test_plotly_js_is_local_and_loaded_once(page: Page) -> None:
    page.wait_points(page.points() + 4)  # several updates after the first render

    def host(url: str) -> str:
        if url.startswith("blob:"):
            url = url[len("blob:") :]
        return urlparse(url).hostname or ""

    remote = [u for u in page.requests if not u.startswith("data:") and host(u) != "127.0.0.1"]
    assert remote == []
    plotly_reqs = [u for u in page.requests if "plotly" in u and u.endswith(".min.js")]
    assert len(plotly_reqs) == 1, plotly_reqs
    assert urlparse(plotly_reqs[0]).path.startswith("/app/static/vendor/plotly-")
    assert page.js("() => document.querySelectorAll('script[data-mtl-plotly]').length") == 1
    # the component's own module is also fetched once; updates re-send only a stub
    module_reqs = [u for u in page.requests if "/app/static/vendor/live_chart-" in u]
    assert len(module_reqs) == 1, module_reqs

    # Data cost: no websocket frame may carry plotly.js (4.8 MB); updates are small.
    start, n0 = len(page.frames), page.points()
    page.wait(3)
    updates = page.points() - n0
    sizes = [n for n in page.frames[start:] if n > 1000]  # skip small control messages
    assert updates >= 3 and len(sizes) >= updates - 1, (updates, sizes)
    assert max(page.frames) < 1_000_000
    print(f"\nwebsocket frames with a chart update over 3 s: {len(sizes)}, sizes {sizes} B")


def test_theme_resize_and_unmount(server: str, browser) -> None:
    # Streamlit follows the OS colour scheme; start dark, switch to light live.
    page = Page(browser, server, color_scheme="dark")
    try:
        look = """(sel) => {
            const d = document.querySelector(sel), L = d._fullLayout;
            const probe = document.createElement('span');  // any CSS colour -> rgb()
            probe.style.color = L.font.color;
            document.body.appendChild(probe);
            const rgb = getComputedStyle(probe).color.match(/[\\d.]+/g).slice(0, 3).map(Number);
            probe.remove();
            return {brightness: (rgb[0] + rgb[1] + rgb[2]) / 3, paper: L.paper_bgcolor,
                    width: L.width, height: L.height};
        }"""

        page.js("(sel) => { document.querySelector(sel).__marker = 7; }", PLOT)
        dark = page.js(look, PLOT)
        assert dark["brightness"] > 180, dark  # light text on the dark theme
        assert dark["paper"].replace(" ", "") == "rgba(0,0,0,0)"  # the app background shows through
        assert dark["height"] == 320

        page.page.emulate_media(color_scheme="light")
        page.wait_points(page.points() + 2)
        light = page.js(look, PLOT)
        assert light["brightness"] < 100, light  # dark text on the light theme

        # responsive: the plot follows its container's width
        page.page.set_viewport_size({"width": 600, "height": 800})
        page.wait_points(page.points() + 2)
        narrow = page.js(look, PLOT)
        assert narrow["width"] < dark["width"] - 100, (dark, narrow)
        assert page.js("(sel) => document.querySelector(sel).__marker", PLOT) == 7

        # unmount: the component's cleanup purges the plot and removes it
        page.js("(sel) => { window.__oldPlot = document.querySelector(sel); }", PLOT)
        page.page.get_by_text("Show chart").click()
        page.page.wait_for_selector(PLOT, state="detached", timeout=10_000)
        page.wait(0.5)
        gone = page.js(
            "() => ({inDom: document.contains(window.__oldPlot),"
            " purged: window.__oldPlot._fullLayout === undefined})"
        )
        assert gone == {"inDom": False, "purged": True}
    finally:
        page.close()


STREAM = ".st-key-demo-stream .js-plotly-plot"
STATS = (
    "() => (window.__mtlLive && window.__mtlLive.charts['demo-stream']) || {react: 0, extend: 0}"
)
# x of the smoothed trace (the second: raw first when smoothing) as the chart holds it
STREAM_X = f"() => Array.from(document.querySelector('{STREAM}')._fullData[1].x)"


def test_streamed_chart_appends_and_asks_for_its_history_after_a_remount(page: Page) -> None:
    page.page.wait_for_selector(STREAM, timeout=20_000)
    start = page.js(STATS)
    page.page.wait_for_function(
        f"() => ({STATS})().extend >= {start['extend'] + 3}", timeout=20_000
    )
    stats = page.js(STATS)
    assert stats["react"] == 1, stats  # the figure once, then only new points
    xs = page.js(STREAM_X)
    assert xs == list(range(int(xs[0]), int(xs[0]) + len(xs)))  # no point lost or repeated

    # unmount the chart while points keep coming, then show it again: the new chart has
    # only what the server sends next, notices, and asks for (and gets) the whole history
    box = page.page.get_by_text("Show streamed chart")
    box.click()
    page.page.wait_for_selector(STREAM, state="detached", timeout=10_000)
    page.wait_points(page.points() + 3)
    box.click()
    page.page.wait_for_selector(STREAM, timeout=20_000)
    page.page.wait_for_function(
        f"() => {{ const d = document.querySelector('{STREAM}'); return d && d._fullData && d._fullData[1]"
        f" && d._fullData[1]._length > {len(xs) + 3}; }}",
        timeout=20_000,
    )
    again = page.js(STREAM_X)
    assert again[0] == xs[0]  # the history from the first point on
    assert again == list(range(int(again[0]), int(again[0]) + len(again)))


def test_an_off_screen_chart_is_not_redrawn_until_it_is_visible(page: Page) -> None:
    page.page.wait_for_selector(STREAM, timeout=20_000)
    page.page.wait_for_function(f"() => ({STATS})().extend >= 1", timeout=20_000)
    move = "(top) => { document.querySelector('.st-key-demo-stream .mtl-live-chart').style.top = top; }"
    page.js(
        "() => { document.querySelector('.st-key-demo-stream .mtl-live-chart').style.position = 'relative'; }"
    )
    page.js(move, "6000px")  # far below the fold: the IntersectionObserver reports it hidden
    page.wait(0.5)  # a draw already under way may finish
    hidden = page.js(STATS)
    page.wait_points(page.points() + 4)  # four more polls (the other chart counts them)
    assert page.js(STATS) == hidden  # points arrived, nothing was drawn
    page.js(move, "0px")
    page.page.wait_for_function(f"() => ({STATS})().extend > {hidden['extend']}", timeout=20_000)
    xs = page.js(STREAM_X)
    assert xs == list(range(int(xs[0]), int(xs[0]) + len(xs)))  # the buffered points, in order
