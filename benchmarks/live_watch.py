"""What watching a run live costs the run, measured in a real browser.

Starts ``streamlit run app.py`` on a free local port (a fresh store home) and headless
Chromium (Playwright, /usr/bin/chromium). Each round launches the same preset from Home
twice, alternating which comes first: once staying on the Live page the launch opens
("live"), once going straight back to Home, which does not poll ("home"). Both launches
are warm (the test waits for the app's spare worker before clicking). Per launch:

- training time: the trainer's own clock (the run's largest ``wall_time``);
- CPU used by the Streamlit server process and by the Chromium process tree while the
  run trains, in cores (CPU seconds per second, from ``/proc/<pid>/stat``); on Live from
  the first drawn point on (the page load and plotly.js's parse are a one-off);
- live only: update lag, from the moment a step's rows are readable in the store (a
  reader polls it every 25 ms) to the moment the page drew that step (the live chart's
  hook ``window.__mtlLive.draws``: the last x drawn and ``Date.now()`` per draw).

Targets: training-time ratio home / live >= 0.85; server + Chromium <= 0.3 core while
watching at the default refresh; lag p95 <= 1.0 s. Exit status 1 if one is missed.

    python benchmarks/live_watch.py                        # penguins, 3 rounds
    python benchmarks/live_watch.py --preset digits --rounds 2
    python benchmarks/live_watch.py --refresh 0.5          # another refresh interval
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from browser_support import StoreWatcher  # noqa: E402
from mtl.runs.spare import idle_spares, stop_spares  # noqa: E402
from mtl.runs.store import TERMINAL_STATUSES, RunStore  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RATIO_TARGET = 0.85
CPU_TARGET = 0.3
LAG_P95_TARGET = 1.0
TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- processes


def _stat(pid: int) -> tuple[int, str, float] | None:
    """(parent pid, command name, CPU seconds) of ``pid``."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICKS


def _processes() -> dict[int, tuple[int, str, float]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            out[int(entry)] = info
    return out


def _descendants(root: int, table: dict[int, tuple[int, str, float]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class CpuMeter:
    """CPU seconds of the server process (alone: not its workers) and of every Chromium process
    below this script. Processes that exit during the window are not counted (Chromium keeps
    its processes for the session)."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def sample(self) -> tuple[float, dict[int, float]]:
        table = _processes()
        server = table.get(self.server_pid, (0, "", 0.0))[2]
        chromium = {
            pid: table[pid][2]
            for pid in _descendants(os.getpid(), table)
            if "chrom" in table[pid][1].lower()
        }
        return server, chromium

    @staticmethod
    def cores(
        before: tuple[float, dict[int, float]],
        after: tuple[float, dict[int, float]],
        seconds: float,
    ) -> tuple[float, float]:
        server = (after[0] - before[0]) / seconds
        chromium = sum(t - before[1].get(pid, 0.0) for pid, t in after[1].items()) / seconds
        return server, chromium


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(home: Path, refresh: float | None) -> Iterator[tuple[str, int]]:
    """``streamlit run app.py`` on 127.0.0.1 and a free port; (url, pid); always stopped."""
    port = _free_port()
    env = dict(
        os.environ,
        MTL_HOME=str(home),
        MTL_WARM_WORKER="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO),
    )
    if refresh is not None:
        env["MTL_LIVE_REFRESH_S"] = f"{refresh:g}"
    log = (home / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "app.py"),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1),
            ):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    f"streamlit did not start:\n{(home / 'streamlit.log').read_text()}"
                )
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        stop_spares(home)


# --------------------------------------------------------------------------- one launch


def launch(page, url: str, store: RunStore, preset: str, mode: str, meter: CpuMeter) -> dict:  # type: ignore[no-untyped-def]
    page.goto(url)
    button = page.get_by_role("button", name=preset, exact=True)
    button.wait_for(timeout=60_000)
    deadline = time.monotonic() + 180
    while not idle_spares(store):
        if time.monotonic() > deadline:
            raise SystemExit("no warm spare within 180 s")
        time.sleep(0.1)
    time.sleep(2.0)  # let the spare's start-up settle before measuring
    button.click()
    page.wait_for_url(re.compile(r".*/live\?run=.*"), timeout=60_000)
    run_id = re.search(r"run=([\w.-]+)", page.url).group(1)
    watcher = StoreWatcher(store.home, run_id, metric="loss", every=0.025)
    watcher.start()
    if mode == "home":
        page.goto(url)  # a page that does not poll
        button.wait_for(timeout=60_000)
    else:  # steady state: from the first drawn point (page load and plotly.js parse excluded)
        page.wait_for_function(
            f"() => ((window.__mtlLive || {{charts: {{}}}}).charts['live.loss.{run_id}']"
            " || {points: 0}).points > 0",
            timeout=120_000,
        )
    before, t0 = meter.sample(), time.monotonic()
    while store.get_run(run_id)["status"] not in TERMINAL_STATUSES:
        page.wait_for_timeout(100)  # keeps the browser's event loop turning
    seconds = time.monotonic() - t0
    server_cores, chromium_cores = CpuMeter.cores(before, meter.sample(), seconds)
    watcher.done.set()
    watcher.join()
    run = store.get_run(run_id)
    metrics = store.metrics(run_id)
    lags: list[float] = []
    if mode == "live":
        page.wait_for_timeout(1500)  # the last poll after the end
        draws = page.evaluate("() => (window.__mtlLive || {draws: []}).draws")
        drawn = sorted(
            (d["t"] / 1000, d["lastX"])
            for d in draws
            if d["key"] == f"live.loss.{run_id}" and d["lastX"] is not None
        )
        for step, seen in watcher.first_seen.items():
            at = next((t for t, x in drawn if x >= step), None)
            if (
                at is not None and at >= seen - 0.05
            ):  # drawn after it was readable (history excluded)
                lags.append(max(0.0, at - seen))
    return {
        "mode": mode,
        "run": run_id,
        "status": run["status"],
        "train_s": float(metrics["wall_time"].max()),
        "run_s": float(run["ended_at"] - run["started_at"]),
        "server": server_cores,
        "chromium": chromium_cores,
        "lags": lags,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="penguins")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--refresh", type=float, default=None, help="Live refresh interval (s); default: the app's"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with tempfile.TemporaryDirectory(prefix="live-watch-") as tmp:
        home = Path(tmp)
        store = RunStore(home)
        with server(home, args.refresh) as (url, server_pid), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            meter = CpuMeter(server_pid)
            for i in range(args.rounds):
                for mode in ("live", "home") if i % 2 == 0 else ("home", "live"):
                    result = launch(page, url, store, args.preset, mode, meter)
                    results.append(result)
                    lag = (
                        f"  lag p50 {statistics.median(result['lags']):.2f} s"
                        if result["lags"]
                        else ""
                    )
                    print(
                        f"round {i + 1} {mode:4s}: train {result['train_s']:6.2f} s (run {result['run_s']:6.2f} s, "
                        f"{result['status']})  server {result['server']:.2f} core  chromium "
                        f"{result['chromium']:.2f} core{lag}",
                        flush=True,
                    )
            browser.close()
    live = [r for r in results if r["mode"] == "live"]
    home_runs = [r for r in results if r["mode"] == "home"]
    ratio = statistics.median(r["train_s"] for r in home_runs) / statistics.median(
        r["train_s"] for r in live
    )
    watch_cpu = statistics.median(r["server"] + r["chromium"] for r in live)
    lags = [lag for r in live for lag in r["lags"]]
    p50, p95 = (
        (percentile(lags, 0.5), percentile(lags, 0.95)) if lags else (float("nan"), float("nan"))
    )
    refresh = f"{args.refresh:g} s" if args.refresh else "the default"
    print(f"\n{args.preset}, {args.rounds} rounds, refresh {refresh}")
    print("| | live (Live page open) | home (no polling) |\n|---|---:|---:|")
    print(
        f"| training time, median | {statistics.median(r['train_s'] for r in live):.2f} s | "
        f"{statistics.median(r['train_s'] for r in home_runs):.2f} s |"
    )
    for what in ("server", "chromium"):
        print(
            f"| {what} CPU, median | {statistics.median(r[what] for r in live):.2f} core | "
            f"{statistics.median(r[what] for r in home_runs):.2f} core |"
        )
    print(f"\nratio of training times home / live = {ratio:.2f} (target >= {RATIO_TARGET})")
    print(f"server + chromium while watching = {watch_cpu:.2f} core (target <= {CPU_TARGET})")
    print(
        f"update lag store -> drawn: p50 {p50:.2f} s, p95 {p95:.2f} s over {len(lags)} steps "
        f"(target p95 <= {LAG_P95_TARGET} s)"
    )
    missed = ratio < RATIO_TARGET or watch_cpu > CPU_TARGET or not p95 <= LAG_P95_TARGET
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
