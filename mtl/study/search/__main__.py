"""``python -m mtl.study.search --home H [--tuning] SWEEP_ID``: drive a recorded search (or,
with ``--tuning``, a verdict's TPE tuning) to its end (started by
:func:`mtl.study.sweeps.launch.start_driver`; its output goes to ``<home>/sweeps/<SWEEP_ID>.log``)."""

from __future__ import annotations

import argparse

from mtl.runs.store import RunStore
from mtl.study.search.driver import run_search
from mtl.study.search.tuning import run_tuning


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mtl.study.search")
    parser.add_argument("--home", required=True)
    parser.add_argument("--tuning", action="store_true", help="a verdict's TPE tuning")
    parser.add_argument("sweep_id")
    args = parser.parse_args()
    (run_tuning if args.tuning else run_search)(RunStore(args.home), args.sweep_id)


if __name__ == "__main__":
    main()
