"""``python -m mtl predict RUN --csv IN --out OUT``: a finished run's predictions for new rows.

Writes one row per input row (columns: see :mod:`mtl.predict`), prints how many rows it
wrote on stdout and each warning as ``warning: …`` on stderr. With ``--json``, stdout is
one JSON object ``{"run_id", "rows", "out", "columns", "warnings"}``. Torch is imported
only when the command runs, so the rest of the CLI starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mtl.errors import UserError
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore

# Statuses whose runs save a checkpoint (see mtl.train.outputs.OutputWriter).
WITH_MODEL = (RunStatus.FINISHED, RunStatus.STOPPED)


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add ``predict`` to the ``python -m mtl`` parser."""
    p = sub.add_parser(
        "predict",
        parents=[parents["home"], parents["json"]],
        help="predict every task for the rows of a CSV with a finished run's model",
    )
    p.add_argument("run_id", metavar="RUN", help="run id (`python -m mtl runs` lists them)")
    p.add_argument(
        "--csv", required=True, metavar="IN", help="input CSV with the model's feature columns"
    )
    p.add_argument("--out", required=True, metavar="OUT", help="output CSV of predictions")
    p.add_argument(
        "--raw-csv",
        action="store_true",
        help="keep cells that start with = + - @ as they are (no ' prefix)",
    )
    p.set_defaults(handler=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    run = store.get_run(args.run_id)  # RunNotFoundError: one line, exit 2
    folder = store.run_dir(args.run_id)
    if run["status"] not in WITH_MODEL:
        because = f" ({str(run['error']).strip().splitlines()[0]})" if run.get("error") else ""
        raise UserError(
            f"run {args.run_id} is {run['status']}{because}; only a finished or stopped run has a model to predict with"
        )

    from mtl.predict import predict_csv  # torch: only when the command runs

    table, warnings = predict_csv(folder, Path(args.csv), Path(args.out), raw=args.raw_csv)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": args.run_id,
                    "rows": len(table),
                    "out": str(args.out),
                    "columns": [str(c) for c in table.columns],
                    "warnings": warnings,
                }
            )
        )
    else:
        print(f"wrote {len(table)} rows to {args.out}")
    return 0
