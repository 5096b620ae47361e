"""Tags and notes of the store's runs: replace, add, remove (atomically: concurrent edits are
all kept) and append."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable

from mtl.runs.store_db import Database

__all__ = ["Annotations", "check_tags"]


def check_tags(tags: Iterable[str]) -> list[str]:
    if isinstance(tags, str):
        raise ValueError(f"tags must be a list of strings, found the string {tags!r}")
    out = list(tags)
    for tag in out:
        if not isinstance(tag, str):
            raise ValueError(f"tags must be strings, found {tag!r} ({type(tag).__name__})")
    return out


class Annotations(Database):
    """Tags and notes of :class:`mtl.runs.store.RunStore` (a mixin over :class:`Database`)."""

    def set_tags(self, run_id: str, tags: Iterable[str]) -> None:
        """Replace the run's tags."""
        self._update(run_id, "tags = ?", (json.dumps(check_tags(tags)),))

    def set_notes(self, run_id: str, notes: str) -> None:
        """Replace the run's free-text notes."""
        if not isinstance(notes, str):
            raise ValueError(f"notes must be a string, found {type(notes).__name__}")
        self._update(run_id, "notes = ?", (notes,))

    def add_tags(self, run_id: str, tags: Iterable[str]) -> list[str]:
        """Add tags the run does not have yet (atomically: concurrent adds are all kept).

        Returns:
            The run's tags afterwards, in the order they were first added.
        """
        new = check_tags(tags)
        return self._edit_tags(
            run_id, lambda old: old + [t for t in dict.fromkeys(new) if t not in old]
        )

    def remove_tags(self, run_id: str, tags: Iterable[str]) -> list[str]:
        """Remove these tags from the run (atomically); tags it does not have are ignored.

        Returns:
            The run's tags afterwards.
        """
        gone = set(check_tags(tags))
        return self._edit_tags(run_id, lambda old: [t for t in old if t not in gone])

    def append_notes(self, run_id: str, text: str) -> str:
        """Append ``text`` to the run's notes as a new line (atomically).

        Returns:
            The run's notes afterwards.
        """
        if not isinstance(text, str):
            raise ValueError(f"notes must be a string, found {type(text).__name__}")

        def op(conn: sqlite3.Connection) -> str:
            with self._transaction(conn):
                (notes,) = self._require(conn, run_id, "notes")
                notes = f"{notes}\n{text}" if notes else text
                conn.execute("UPDATE runs SET notes = ? WHERE id = ?", (notes, run_id))
            return notes

        return self._call(op)

    def _edit_tags(self, run_id: str, edit: Callable[[list[str]], list[str]]) -> list[str]:
        """Read, change and write the run's tags in one write transaction (no lost update)."""

        def op(conn: sqlite3.Connection) -> list[str]:
            with self._transaction(conn):
                (raw,) = self._require(conn, run_id, "tags")
                tags = edit(json.loads(raw) if raw else [])
                conn.execute("UPDATE runs SET tags = ? WHERE id = ?", (json.dumps(tags), run_id))
            return tags

        return self._call(op)
