"""``python -m mtl tag RUN TAG… [--remove]``: add tags to a run, or remove them.

Adding is atomic in the store, so tags added at the same time from several processes (a
sweep script, the dashboard, this command) are all kept.
"""

from __future__ import annotations

import argparse
import json
import unicodedata

from mtl.runs.store import RunStore


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the ``tag`` subcommand."""
    p = sub.add_parser(
        "tag",
        parents=[parents["home"], parents["json"]],
        help="add tags to a run (or --remove them)",
    )
    p.add_argument("run_id", metavar="RUN", help="run id (`python -m mtl runs` lists them)")
    p.add_argument("tags", nargs="+", metavar="TAG", help="tags to add (or remove)")
    p.add_argument("--remove", action="store_true", help="remove these tags instead of adding them")
    p.set_defaults(handler=cmd_tag)


def check_tag(tag: str) -> str:
    """``tag`` without surrounding spaces; a ``ValueError`` if it is empty or has control characters."""
    clean = tag.strip()
    if not clean:
        raise ValueError("a tag cannot be empty")
    if any(unicodedata.category(ch) == "Cc" for ch in clean):
        raise ValueError(f"tag {clean!r} holds a control character; use plain text")
    return clean


def cmd_tag(args: argparse.Namespace) -> int:
    tags = [check_tag(tag) for tag in args.tags]
    store = RunStore(args.home)
    after = (
        store.remove_tags(args.run_id, tags) if args.remove else store.add_tags(args.run_id, tags)
    )
    if args.json:
        print(json.dumps({"run_id": args.run_id, "tags": after}))
    else:
        print(f"run {args.run_id} tags: {', '.join(after) if after else '(none)'}")
    return 0
