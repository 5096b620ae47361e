"""Shared pieces of the browser tests: a real `streamlit run` on a free local port,
Debian's headless Chromium driven by Playwright (never `playwright install`), and the page
steps several tests take (wait for the script run, pick an option, upload, screenshot)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[1]
WAIT_MS = 120_000
"""How long a page step waits for the server (generous: the machine's cores are shared)."""
LIVE_PLOT = '[data-testid="stBidiComponentRegular"] .js-plotly-plot'
"""The Live page's charts (``mtl.ui.live_chart``'s component); the first is the loss chart."""
# plotly keeps the decoded arrays in _fullData (the figure's data arrives as base64 typed arrays)
POINTS = "el => (el._fullData || []).reduce((n, t) => n + (t._length || 0), 0)"
"""JS: the number of points a plotly chart element draws."""


def require_chromium() -> None:
    """Skip the module when Chromium is missing, except under CI=true, where it fails."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing and CI=true", pytrace=False)
        pytest.skip(f"{CHROMIUM} not installed; browser test skipped", allow_module_level=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process started in its own session, and its children."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextlib.contextmanager
def streamlit_server(app: Path, cwd: Path, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run ``streamlit run app`` on 127.0.0.1 and a free port; yield its URL; always stop it."""
    port = free_port()
    environment = dict(os.environ, **(env or {}))
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), environment.get("PYTHONPATH")])
    )
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.enableStaticServing", "true",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    log_path = cwd / "streamlit.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited early:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit not healthy in 30 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc)
        log.close()


@contextlib.contextmanager
def app_server(home: Path, cwd: Path, **env: str) -> Iterator[str]:
    """`streamlit run app.py` on store ``home`` (from ``cwd``, its log there); yield its URL.

    No warm spare and one torch thread per worker unless ``env`` says otherwise. At the end
    the server is stopped, then whatever it launched for ``home`` (spares, supervisor, workers).
    """
    from conftest import stop_workers

    settings = {"MTL_HOME": str(home), "MTL_WARM_WORKER": "0", "OMP_NUM_THREADS": "1", **env}
    try:
        with streamlit_server(REPO / "app.py", cwd, env=settings) as url:
            yield url
    finally:
        stop_workers(home)


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium browser (Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class StoreWatcher(threading.Thread):
    """Polls a run's metrics in the store every ``every`` s (a daemon thread).

    ``first_seen`` maps each step to the wall time (``time.time()``) its rows first became
    readable; with ``metric`` only that metric's rows count. Set ``done`` to stop it.
    """

    def __init__(
        self, home: Path, run_id: str, metric: str | None = None, every: float = 0.02
    ) -> None:
        from mtl.runs.store import RunStore

        super().__init__(daemon=True)
        self.store, self.run_id = RunStore(home), run_id
        self.metric, self.every = metric, every
        self.first_seen: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        last = 0
        while not self.done.is_set():
            rows = self.store.metrics(self.run_id, after_id=last)
            now = time.time()
            if len(rows):
                last = int(rows["id"].max())
                if self.metric is not None:
                    rows = rows[rows["metric"] == self.metric]
                for step in rows["step"].unique():
                    self.first_seen.setdefault(int(step), now)
            self.done.wait(self.every)


# ---- page steps (``page`` is a Playwright page) --------------------------------------------


def idle(page, timeout: float = WAIT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until the script run triggered by the last interaction has finished."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def settled(page, timeout: float = WAIT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app's script run is over (the running icon is gone) and a title is drawn."""
    page.locator('[data-testid="stApp"]').wait_for(timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && document.querySelector('[data-testid=\"stMainBlockContainer\"] h1')",
        timeout=timeout,
    )


def enter(page, label: str, value: object, exact: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Type ``value`` into the input labelled ``label`` and press Enter (no wait after)."""
    box = page.get_by_label(label, exact=exact)
    box.fill(str(value))
    box.press("Enter")


def choose(page, label: str, option: str, exact: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Pick ``option`` in the selectbox or multiselect labelled ``label``: type to filter
    (typing always opens the list; a click on an already focused box may close it)."""
    widget = page.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    idle(page)
    widget.locator("input").first.click()
    page.keyboard.type(option.split(" ")[0])
    page.get_by_role("option", name=option, exact=exact).first.click()
    page.keyboard.press("Escape")


def upload(page, uploader: str, path: Path) -> None:  # type: ignore[no-untyped-def]
    """Give ``path`` to the file uploader whose text holds ``uploader`` (once it is drawn)."""
    box = page.locator('[data-testid="stFileUploader"]').filter(has_text=uploader)
    box.wait_for(timeout=WAIT_MS)
    box.locator('input[type="file"]').set_input_files(str(path))


def upload_on_experiment(  # type: ignore[no-untyped-def]
    page, address: str, dataset: str, uploader: str, path: Path
) -> None:
    """Open the Experiment page at ``address``, pick ``dataset`` (an option's start, such as
    ``"csv — "``) and upload ``path`` to its uploader (``uploader``: the uploader's text)."""
    page.goto(address)
    page.get_by_text("5 · Training").wait_for(timeout=WAIT_MS)
    choose(page, "Dataset", dataset)
    upload(page, uploader, path)


def live_run(page, timeout: float = WAIT_MS) -> str:  # type: ignore[no-untyped-def]
    """Wait for the Live page a launch opens; the run id in its URL."""
    page.wait_for_url(re.compile(r".*/live\?run=.*"), timeout=timeout)
    return re.search(r"run=([\w.-]+)", page.url).group(1)  # type: ignore[union-attr]


def wait_for_points(page, above: int = 0, timeout: float = WAIT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until the first live chart on ``page`` is there and draws more than ``above`` points."""
    page.locator(LIVE_PLOT).first.wait_for(timeout=timeout)
    page.wait_for_function(
        f"() => ({POINTS})(document.querySelector('{LIVE_PLOT}')) > {above}", timeout=timeout
    )


def task_row(page, name: str):  # type: ignore[no-untyped-def]
    """The bold task name the Experiment page draws for each task."""
    return page.locator('[data-testid="stMarkdownContainer"] strong').filter(
        has_text=re.compile(f"^{re.escape(name)}$")
    )


def shot(page, name: str, full_page: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Save a screenshot ``name``.png in ``$MTL_SCREENSHOTS`` when that is set."""
    folder = os.environ.get("MTL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)
