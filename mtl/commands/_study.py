"""The ``study`` command family: ``python -m mtl study <kind> …`` (one module per kind adds its
subcommand here through :func:`study_commands`, whichever module loads first)."""

from __future__ import annotations

import argparse

__all__ = ["study_commands"]


def study_commands(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subcommands action of ``study``, creating the ``study`` command on first use."""
    parser = sub.choices.get("study")
    if parser is None:
        parser = sub.add_parser(
            "study", help="studies made of ordinary runs: transfer, verdict, stop"
        )
        parser.set_defaults(handler=lambda args: parser.print_help() or 2)
        return parser.add_subparsers(dest="study", metavar="STUDY")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="study", metavar="STUDY")
