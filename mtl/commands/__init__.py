"""The CLI's commands, one module per command (or family of commands): each module defines

``add_parser(sub, parents) -> None``, which adds its subcommand(s) to the ``python -m mtl``
parser (``parents`` holds the shared option groups: ``"home"``, ``"json"``, ``"limit"``)
and sets ``handler`` to a function ``(args) -> int`` returning an exit code of
:mod:`mtl.errors` (``EXIT_OK``, ``EXIT_FAILED``, ``EXIT_DIVERGED``). User errors raise
``ValueError`` (or :class:`mtl.errors.UserError`): the CLI prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

# The order of ``python -m mtl --help``: listings, training, the recorded runs, then studies.
FIRST = ("catalog", "run", "runs")


def add_all(sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]) -> None:
    """Let every command module add its subcommands (:data:`FIRST`, then the rest by name)."""
    names = sorted(
        info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")
    )
    for name in (*FIRST, *(n for n in names if n not in FIRST)):
        importlib.import_module(f"{__name__}.{name}").add_parser(sub, parents)


def add_raw_csv(parser: argparse.ArgumentParser) -> None:
    """Add ``--raw-csv`` (``args.raw_csv``) to a command that writes a CSV: cells are
    spreadsheet-safe by default (:mod:`mtl.csv_safe`)."""
    parser.add_argument(
        "--raw-csv",
        action="store_true",
        help="keep cells that start with = + - @ as they are (no ' prefix)",
    )


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force`` (``args.force``) to a command that writes a user-named file: an existing
    file is replaced only with it (:func:`mtl.runs.output_file.check_output_path`)."""
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
