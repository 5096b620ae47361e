"""The ``study`` command family: ``python -m mtl study <kind> …`` (one module per kind adds its
subcommand here through :func:`study_commands`, whichever module loads first)."""

from __future__ import annotations

import argparse
from functools import partial

from mtl.errors import UserError

__all__ = ["study_commands"]


def study_commands(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subcommands action of ``study``, creating the ``study`` command on first use."""
    parser = sub.choices.get("study")
    if parser is None:
        parser = sub.add_parser(
            "study", help="studies made of ordinary runs: transfer, verdict, stop"
        )
        kinds = parser.add_subparsers(dest="study", metavar="STUDY")
        parser.set_defaults(handler=partial(_no_kind, kinds))
        return kinds
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="study", metavar="STUDY")


def _no_kind(kinds: argparse._SubParsersAction, args: argparse.Namespace) -> int:
    """``python -m mtl study`` without a kind: a user error naming the kinds."""
    raise UserError(
        f"give a study: {', '.join(kinds.choices)}; `python -m mtl study --help` describes them"
    )
