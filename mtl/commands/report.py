"""``python -m mtl report RUN… --out FILE.html``: one self-contained HTML report."""

from __future__ import annotations

import argparse
import json

from mtl.commands import add_force
from mtl.runs.output_file import check_output_path, protected_homes
from mtl.runs.store import RunStore
from mtl.viz.report import write_report


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the ``report`` subcommand."""
    p = sub.add_parser(
        "report",
        parents=[parents["home"], parents["json"]],
        help="write one self-contained HTML report of runs (works offline)",
        description="One HTML file with interactive charts (plotly.js inlined, no network needed), "
        "the configs, the metrics, Δm against a matching finished single-task baseline, and the "
        "notes and tags. One run gives a run report; several runs a comparison.",
    )
    p.add_argument("run_ids", nargs="+", metavar="RUN", help="run ids, in the order to show them")
    p.add_argument("--out", required=True, metavar="FILE.html", help="the file to write")
    p.add_argument(
        "--title", help="page title (default: the run's name, or 'Comparison of N runs')"
    )
    p.add_argument("--no-baseline", action="store_true", help="leave Δm out (no baseline lookup)")
    add_force(p)
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    out = check_output_path(
        args.out, protected_homes(store.home), force=args.force, example="report.html"
    )
    path = write_report(store, args.run_ids, out, title=args.title, baseline=not args.no_baseline)
    size = path.stat().st_size
    runs = len(dict.fromkeys(args.run_ids))
    if args.json:
        print(json.dumps({"path": str(path), "bytes": size, "runs": runs}))
    else:
        print(f"wrote {path} ({runs} run{'s' if runs != 1 else ''}, {size / 1e6:.1f} MB)")
    return 0
