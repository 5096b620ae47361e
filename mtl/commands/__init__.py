"""More CLI subcommands, one module each: every module here defines

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


def add_all(sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]) -> None:
    """Let every command module add its subcommands."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").add_parser(sub, parents)
