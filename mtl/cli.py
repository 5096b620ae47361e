"""``python -m mtl …``: list datasets and presets, run experiments, manage recorded runs.

This module holds the entry point and the shared options; every command lives in
:mod:`mtl.commands` (one module per command or family of commands). Exit codes are those
of :mod:`mtl.errors`.

User errors (a bad config, bad data, an unknown run) print one line starting with
``error:`` on stderr and exit with code 2; no traceback. A run that diverges exits 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from mtl.commands import add_all
from mtl.errors import (  # re-exported: commands raise mtl.cli.UserError
    EXIT_USER_ERROR,
    USER_ERRORS,
    UserError,
    error_line,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the process exit code."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)  # a usage error: one line, exit 2 (Parser.error)
    try:
        if extra:  # named with the (sub)command they were given to
            command = " ".join(
                c for c in ("python -m mtl", args.command, getattr(args, "study", None)) if c
            )
            raise UserError(
                f"unrecognized arguments: {' '.join(extra)} (`{command} --help` shows the usage)"
            )
        if not getattr(args, "command", None):
            raise UserError("give a command; `python -m mtl --help` lists them")
        return int(args.handler(args) or 0)
    except USER_ERRORS as err:
        # ValueError covers ConfigError, DataError and the other user errors of mtl.errors.
        print(error_line(err), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's user-error form: a bad or missing argument is one line,
    ``error: <what> (`<command> --help` shows the usage)``, and exit code 2 (not argparse's
    usage block). ``--help`` is unchanged. Subcommand parsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"error: {message} (`{self.prog} --help` shows the usage)\n")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", default=None, help="run store folder (default $MTL_HOME or ./mtl-runs)"
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON")
    limit = argparse.ArgumentParser(add_help=False)
    limit.add_argument(
        "--max-running",
        type=int,
        default=None,
        help="concurrency limit for launched runs (default $MTL_MAX_RUNNING or 1)",
    )

    parser = Parser(prog="python -m mtl", description="MTL Lab: multi-task learning experiments.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    add_all(sub, {"home": common, "json": as_json, "limit": limit})
    return parser


__all__ = ["UserError", "main"]
