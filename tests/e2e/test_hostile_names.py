"""Hostile user strings stay text on every page, in headless Chromium against a real
`streamlit run app.py`.

Runs are written with the real RunStore: their name, task names, tags and notes are
HTML, markdown images pointing at a local server that counts hits, `javascript:` links
and bold markers. Every page (and its presenter view) is walked; none may run a script
(``window.__pwned``), open a dialog or fetch the image, and the strings show literally.
The Transfer and Verdict pages get a study and a verdict whose recorded tasks are hostile
too (a path, HTML), as a store written by an older version or another tool can hold.
Also checks the DNS-rebinding guard: with the repository's `.streamlit/config.toml`,
a WebSocket whose Host header is not localhost is refused.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from browser_support import REPO, app_server, chromium, free_port, require_chromium
from mtl import presets
from mtl.runs.store import RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")

IMAGE_PORT = free_port()
IMG = "<img src=x onerror=window.__pwned=1>"
IFRAME = '<iframe srcdoc="<script>parent.__pwned=1</script>">'
MD_IMAGE = f"![x](http://127.0.0.1:{IMAGE_PORT}/x.png)"
BOLD = "**bold**"
JS_LINK = "[click](javascript:window.__pwned=1)"
RUN_NAME = f"{IMG} {BOLD}"
TASKS = [IFRAME, MD_IMAGE]  # the two tasks of the seed-example preset, renamed
TAGS = [JS_LINK, IMG]
NOTES = f"{MD_IMAGE} {IFRAME}"
SWEEP_NAME = "sweep **bold** <b>x</b>"
TRAVERSAL = "../../etc/passwd"
TARGET = f"{TRAVERSAL} {IMG}"  # the transfer study's target task


class Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[list[str]]:
    server = http.server.HTTPServer(("127.0.0.1", IMAGE_PORT), Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Counter.hits
    server.shutdown()
    server.server_close()


def hostile_config(task_names: bool = True) -> dict:
    """The seed-example preset under a hostile run name; its tasks renamed to hostile names too
    unless ``task_names`` is false (the config refuses such task names today, but a store can
    hold runs recorded before that rule, or written by other tools)."""
    config = presets.load("seed-example").to_dict()
    if task_names:
        for task, name in zip(config["tasks"], TASKS, strict=True):
            task["name"] = name
    config["name"] = RUN_NAME
    return config


def finish(store: RunStore, run_id: str, accuracy: float) -> None:
    """A finished run with a validation curve and test results for each hostile task."""
    rows = []
    for epoch in range(3):
        rows.append(
            (
                epoch * 10,
                epoch,
                float(epoch),
                TASKS[0],
                "val",
                "accuracy",
                accuracy - 0.1 / (1 + epoch),
                None,
            )
        )
        rows.append(
            (epoch * 10, epoch, float(epoch), TASKS[0], "val", "loss", 1.0 / (1 + epoch), None)
        )
        rows.append(
            (epoch * 10, epoch, float(epoch), TASKS[1], "val", "loss", 2.0 / (1 + epoch), None)
        )
        rows.append((epoch * 10, epoch, float(epoch), TASKS[1], "val", "r2", 0.5, None))
    store.add_metrics(run_id, rows)
    scores = {
        TASKS[0]: {"accuracy": accuracy, "f1": 0.7},
        TASKS[1]: {"r2": 0.5, "rmse": 0.3 + accuracy / 10},
        TARGET: {"accuracy": accuracy},  # the transfer study's target
    }
    store.set_status(run_id, "finished", summary={"test": scores, "val": scores})


def rename_tasks(store: RunStore, record_id: str, names: list[str], **fields: str) -> None:
    """Rename the recorded base config's tasks (and set ``fields``) in a study's record."""
    from mtl.study.sweeps.records import get_sweep, write_record

    record = get_sweep(store, record_id)
    for task, name in zip(record["base_config"]["tasks"], names, strict=True):
        task["name"] = name
    write_record(store, {**record, **fields})


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, str, str]:
    from mtl.config import ExperimentConfig
    from mtl.study.sweeps import SweepSpec, launch_sweep
    from mtl.study.transfer import launch_transfer_study
    from mtl.study.verdict import VerdictOptions, start_verdict

    folder = tmp_path_factory.mktemp("hostile-home")
    store = RunStore(folder)
    run_id = store.create_run(
        RUN_NAME, hostile_config(), status="running", pid=os.getpid(), tags=TAGS
    )
    store.set_notes(run_id, NOTES)
    finish(store, run_id, 0.9)
    # a sweep of two settings, its runs recorded as finished here (no worker trains them)
    spec = SweepSpec.from_dict(
        {
            "name": SWEEP_NAME,
            "base": hostile_config(task_names=False),
            "grid": {"model.sharing": ["hard", "independent"]},
            "seeds": [0],
        }
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTL_MAX_RUNNING", "100")
        patch.setattr(
            "mtl.runs.local_executor._spawn_worker", lambda store, run_id, limit: os.getpid()
        )
        sweep_id = launch_sweep(store, spec)
        base = ExperimentConfig.from_dict(hostile_config(task_names=False))
        transfer_id = launch_transfer_study(
            store, base, "label", [0.25, 1.0], 2, validate_data=False
        )
        verdict = VerdictOptions(budget=1, methods=("equal", "uncertainty"), weights=2)
        verdict_id = start_verdict(store, base, verdict, validate_data=False, start=False)
    rename_tasks(
        store, transfer_id, [TARGET, TASKS[1]], target=TARGET, name=f"{RUN_NAME} on {TARGET}"
    )
    rename_tasks(store, verdict_id, TASKS)
    for i, run in enumerate(store.list_runs(["running", "queued"]).itertuples()):
        if run.status == "queued":
            store.set_status(run.id, "running", pid=os.getpid())
        finish(store, run.id, 0.8 + 0.05 * i)
    return folder, run_id, sweep_id, transfer_id, verdict_id


@pytest.fixture(scope="module")
def url(
    home: tuple[Path, str, str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("hostile-server")
    shutil.copytree(REPO / ".streamlit", cwd / ".streamlit")  # the repository's server settings
    with app_server(home[0], cwd) as address:
        yield address


def pages(run_id: str, sweep_id: str, transfer_id: str, verdict_id: str) -> list[tuple[str, str]]:
    """(path, a literal string that page must show as text)."""
    return [
        ("/", RUN_NAME),
        ("/experiment", "Experiment"),  # with the hostile config loaded: below
        (f"/live?run={run_id}", RUN_NAME),
        (f"/compare?run={run_id}", RUN_NAME),
        (f"/evaluate?run={run_id}", IFRAME),
        (f"/sweep?sweep={sweep_id}", TASKS[0]),  # the name is in the picker (an input's value)
        ("/?present=1", "MTL Lab"),
        (f"/live?run={run_id}&present=1", RUN_NAME),
        (f"/compare?runs={run_id}&present=1", TASKS[0]),
        (f"/evaluate?run={run_id}&present=1", RUN_NAME),
        (f"/sweep?sweep={sweep_id}&present=1", SWEEP_NAME),  # the heading
        (f"/transfer?study={transfer_id}", TRAVERSAL),  # the plot's title and axis
        (f"/transfer?study={transfer_id}&present=1", f"{RUN_NAME} on {TARGET}"),  # the heading
        (f"/verdict?verdict={verdict_id}", TASKS[0]),  # the task pickers and the front's axes
        (f"/verdict?verdict={verdict_id}&present=1", f"verdict {RUN_NAME}"),  # the heading
    ]


def test_hostile_strings_stay_text_on_every_page(
    url: str, home: tuple[Path, str, str, str, str], image_server: list[str], tmp_path: Path
) -> None:
    _, run_id, sweep_id, transfer_id, verdict_id = home
    dialogs: list[str] = []
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1280, "height": 1600}).new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path, literal in pages(run_id, sweep_id, transfer_id, verdict_id):
            page.goto(url + path)
            # as text: in a heading, a picker, or a table cell (tables draw on a canvas and keep
            # their cells' text in the DOM for screen readers, hence "attached")
            page.get_by_text(literal, exact=False).first.wait_for(state="attached", timeout=60_000)
            page.locator(
                '[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]'
            ).wait_for(
                state="detached", timeout=60_000
            )  # the script run is over: everything is drawn
            assert page.evaluate("() => window.__pwned") is None, path
            assert page.evaluate(
                "() => [...document.querySelectorAll('iframe')].every(f => !f.srcdoc)"
            ), path
            assert not page.locator("img[src='x']").count(), path
            assert not page.locator("a[href^='javascript']").count(), path
            assert not page.locator("strong:text-is('bold')").count(), (
                path
            )  # **bold** was not made bold
        # the config with hostile names, loaded into the Experiment form
        config = tmp_path / "hostile.yaml"
        config.write_text(yaml.safe_dump(hostile_config(), allow_unicode=True), encoding="utf-8")
        page.goto(url + "/experiment")
        page.locator("input[type=file]").first.set_input_files(str(config))
        page.get_by_text(TASKS[0], exact=False).first.wait_for(state="attached", timeout=60_000)
        assert page.evaluate("() => window.__pwned") is None
        page.close()
    assert not dialogs
    assert not image_server, f"the markdown image was fetched: {image_server}"


def upgrade_status(url: str, host: str) -> int:
    """The HTTP status of a WebSocket handshake on /_stcore/stream sent with ``Host: host``."""
    port = int(url.rsplit(":", 1)[1])
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request.encode())
        status_line = conn.recv(1024).split(b"\r\n", 1)[0].decode()
    return int(status_line.split()[1])


def test_a_foreign_host_header_is_refused(url: str) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 cannot open the app's socket."""
    port = url.rsplit(":", 1)[1]
    assert upgrade_status(url, f"127.0.0.1:{port}") == 101
    assert upgrade_status(url, f"localhost:{port}") == 101
    assert upgrade_status(url, f"evil.example:{port}") != 101
