"""Shared pieces of the browser tests: a real `streamlit run` on a free local port and
Debian's headless Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import contextlib
import os
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
