"""``python -m mtl predict RUN (--csv IN | --images DIR_OR_ZIP) --out OUT``: a finished run's
predictions for new rows, or for new image files with a model trained on an image folder.

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

from mtl.commands import add_force, add_raw_csv
from mtl.errors import UserError
from mtl.runs.output_file import check_output_path, protected_homes
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
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", metavar="IN", help="input CSV with the model's feature columns")
    source.add_argument(
        "--images",
        metavar="DIR_OR_ZIP",
        help="image folder or .zip (labels.csv optional) for a model trained on images",
    )
    p.add_argument("--out", required=True, metavar="OUT", help="output CSV of predictions")
    add_raw_csv(p)
    add_force(p)
    p.set_defaults(handler=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    store = RunStore(args.home)
    run = store.get_run(args.run_id)  # RunNotFoundError: one line, exit 2
    out = check_output_path(
        args.out, protected_homes(store.home), force=args.force, example="predictions.csv"
    )
    folder = store.run_dir(args.run_id)
    if run["status"] not in WITH_MODEL:
        because = f" ({str(run['error']).strip().splitlines()[0]})" if run.get("error") else ""
        raise UserError(
            f"run {args.run_id} is {run['status']}{because}; only a finished or stopped run has a model to predict with"
        )

    from mtl.predict import predict_csv, predict_images  # torch: only when the command runs

    predict = predict_images if args.images else predict_csv
    source = Path(args.images or args.csv)
    table, warnings = predict(folder, source, out, raw=args.raw_csv)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "run_id": args.run_id,
                    "rows": len(table),
                    "out": str(out),
                    "columns": [str(c) for c in table.columns],
                    "warnings": warnings,
                }
            )
        )
    else:
        print(f"wrote {len(table)} rows to {out}")
    return 0
