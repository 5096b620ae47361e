"""What the dashboard says when a page fails: plain words for a dashboard user (Streamlit-free).

A failure of the run store itself (a damaged or foreign file, a full disk, a read-only
folder) is not followed by "the runs are kept in the store": the store is what broke. Its
message names the file and says what to do from the dashboard (move the file aside, free
space, then reload), without the CLI's ``--home`` flag or environment variable.
"""

from __future__ import annotations

import re
from pathlib import Path

from mtl.errors import StoreError, StoreFullError
from mtl.runs.store_db import DB_NAME, HOME_ENV_VAR

__all__ = ["SQLITE_HEADER", "page_error_text"]

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_CLI_ADVICE = re.compile(
    rf"[,;:]?\s*(?:or\s+|use a home of your own:\s*)?choose another home with --home or "
    rf"\${HOME_ENV_VAR}"
)  # the CLI's way out, which a dashboard user has no flag for


def _damaged(db_path: Path) -> bool:
    """Whether the store file exists but is not an SQLite database (or cannot be read)."""
    try:
        with db_path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return bool(head) and head != SQLITE_HEADER


def page_error_text(err: BaseException, home: Path) -> str:
    """The one-paragraph message a failed page shows (plain text: escape it for markdown).

    Args:
        err: what the page raised.
        home: the dashboard's store home (its file is ``<home>/store.sqlite``).
    """
    db_path = home / DB_NAME
    if isinstance(err, StoreFullError):
        return (
            f"The run store cannot save anything: the disk holding {db_path} is full. "
            "Free some space (deleting old runs on Compare frees their files), then reload "
            "this page."
        )
    if isinstance(err, StoreError) and _damaged(db_path):
        return (
            f"The run store file {db_path} is damaged or is not an MTL Lab store, so no run "
            "can be listed, started or saved. Move that file out of its folder or rename it "
            "(keep it if its runs matter to you), then reload this page: a new, empty store "
            "is created in its place."
        )
    if isinstance(err, StoreError):
        text = _CLI_ADVICE.sub("", str(err)).rstrip(" ;,.")
        return f"The run store cannot be used: {text}. Then reload this page."
    return f"This page could not be shown: {err}. Nothing was lost; the runs are kept in the store."
