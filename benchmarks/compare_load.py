"""How fast Compare opens with 200 runs in the store, in headless Chromium.

Fills a run store with 200 finished runs (rows written with the real RunStore, each with
test results and a short validation curve), starts `streamlit run app.py` on a free local
port, and times a browser visit to /compare until the runs table is drawn ("200 of 200
runs" shown and the grid's canvas attached). The first visit also pays for the server's
imports; the following visits are what a user waits for.

Target: median of the warm visits <= 3 s. Prints the table-build time on the server side
(``runs_table`` from one store query) beside it. Exit status 1 if the target is missed.

    python benchmarks/compare_load.py            # 200 runs, 5 warm visits
    python benchmarks/compare_load.py --runs 500
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from test_presenter_views import fill  # noqa: E402

from browser_support import chromium, streamlit_server  # noqa: E402
from mtl.runs.store import RunStore  # noqa: E402
from mtl.viz.runs_table import runs_table  # noqa: E402

TARGET_S = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--visits", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home, logs = Path(folder) / "home", Path(folder) / "logs"
        logs.mkdir(parents=True)
        store = RunStore(home)
        fill(store, args.runs)
        started = time.perf_counter()
        runs_table(store.list_runs(with_config=True))
        build_s = time.perf_counter() - started
        times = []
        env = {"MTL_HOME": str(home), "MTL_WARM_WORKER": "0"}
        with streamlit_server(ROOT / "app.py", logs, env=env) as url, chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            for _ in range(args.visits + 1):
                started = time.perf_counter()
                page.goto(f"{url}/compare")
                page.get_by_text(f"{args.runs} of {args.runs} runs", exact=False).first.wait_for(
                    timeout=120_000
                )
                page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=120_000)
                times.append(time.perf_counter() - started)
    warm = statistics.median(times[1:])
    print(f"runs in the store                 {args.runs}")
    print(f"server: runs_table (one query)    {build_s * 1000:8.1f} ms")
    print(f"browser: first visit (cold)       {times[0]:8.2f} s")
    print(
        f"browser: warm visits, median      {warm:8.2f} s   target {TARGET_S:.1f} s   "
        f"ratio {warm / TARGET_S:.2f}"
    )
    return 0 if warm <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
