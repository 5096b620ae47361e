"""``python -m mtl note RUN TEXT [--append]``: set a run's notes, or add a line to them.

``--append`` is atomic in the store: lines appended at the same time from several
processes are all kept.
"""

from __future__ import annotations

import argparse
import json
import unicodedata

from mtl.runs.store import RunStore


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the ``note`` subcommand."""
    p = sub.add_parser(
        "note",
        parents=[parents["home"], parents["json"]],
        help="set a run's notes (or --append a line)",
    )
    p.add_argument("run_id", metavar="RUN", help="run id (`python -m mtl runs` lists them)")
    p.add_argument("text", metavar="TEXT", help="the notes ('' clears them)")
    p.add_argument(
        "--append", action="store_true", help="add TEXT as a new line instead of replacing"
    )
    p.set_defaults(handler=cmd_note)


def check_note(text: str) -> str:
    """``text`` as given; a ``ValueError`` if it holds control characters other than newline and tab."""
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) == "Cc":
            raise ValueError(f"the note holds the control character {ch!r}; use plain text")
    return text


def cmd_note(args: argparse.Namespace) -> int:
    text = check_note(args.text)
    store = RunStore(args.home)
    if args.append:
        if not text.strip():
            raise ValueError("--append needs some text to append")
        notes = store.append_notes(args.run_id, text)
    else:
        store.set_notes(args.run_id, text)
        notes = text
    if args.json:
        print(json.dumps({"run_id": args.run_id, "notes": notes}))
    else:
        print(
            f"run {args.run_id} notes updated ({len(notes.splitlines())} line{'s' if len(notes.splitlines()) != 1 else ''})"
        )
    return 0
