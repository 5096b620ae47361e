"""What one ``python -m mtl`` call costs the test suite: forked from the warm server vs fresh.

The tests call the CLI through ``conftest.run_cli``, which forks each call from one warm
interpreter (``tests/cli_server.py``) that already imported numpy, pandas, scikit-learn and
torch; ``fresh=True`` starts a new interpreter as before. This times both ways side by side,
interleaved (so a busy machine slows both alike), on three calls the suite makes often: a
listing, a config error (exit 2) and a one-epoch ``seed-example`` run. Prints the median wall
time per call each way and the ratio warm / fresh.

    python benchmarks/cli_fork_server.py            # 5 rounds
    python benchmarks/cli_fork_server.py --rounds 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import conftest  # noqa: E402

CALLS = {
    "presets --json": ["presets", "--json"],
    "config error": ["run", "--preset", "penguins", "--set", "train.epoch=3"],
    "seed-example, 1 epoch": ["run", "--preset", "seed-example", "--set", "train.epochs=1"],
}


def timed(args: list[str], home: Path, fresh: bool) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    result = conftest.run_cli(*args, home=home, fresh=fresh)
    assert result.returncode in (0, 2), result.stderr
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    home = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    conftest.run_cli("presets", home=home)  # start the server outside the timings
    print(f"load average {os.getloadavg()[0]:.1f}, {rounds} rounds, median per call")
    print(f"{'call':24} {'fresh':>8} {'warm':>8} {'warm/fresh':>10}")
    try:
        for name, args in CALLS.items():
            fresh: list[float] = []
            warm: list[float] = []
            for _ in range(rounds):
                fresh.append(timed(args, home, fresh=True))
                warm.append(timed(args, home, fresh=False))
            fw, ww = statistics.median(fresh), statistics.median(warm)
            print(f"{name:24} {fw:7.2f}s {ww:7.2f}s {ww / fw:10.2f}")
    finally:
        for server in conftest._cli_servers.values():
            server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
