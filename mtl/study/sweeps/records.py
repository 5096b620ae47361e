"""Where a sweep is recorded: ``<home>/sweeps/<sweep_id>.json`` (spec, resolved base config, run
ids and their settings), beside the run store, whose SQLite schema a sweep leaves unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mtl.errors import SweepError
from mtl.runs.store import RunStore

__all__ = [
    "SWEEPS_DIR",
    "get_sweep",
    "new_sweep_id",
    "read_records",
    "record_path",
    "sweep_tag",
    "write_record",
]

SWEEPS_DIR = "sweeps"  # <home>/sweeps/<sweep_id>.json


def sweep_tag(sweep_id: str) -> str:
    """The tag every run of the sweep carries: ``sweep:<sweep_id>``."""
    return f"sweep:{sweep_id}"


def _sweeps_dir(store: RunStore) -> Path:
    return store.home / SWEEPS_DIR


def record_path(store: RunStore, sweep_id: str) -> Path:
    """The record file of ``sweep_id``; an id that could leave the folder is refused."""
    if not sweep_id or "/" in sweep_id or "\\" in sweep_id or sweep_id.startswith("."):
        raise SweepError(f"{sweep_id!r} is not a sweep id; `python -m mtl sweeps` lists them")
    return _sweeps_dir(store) / f"{sweep_id}.json"


def write_record(store: RunStore, record: Mapping[str, Any]) -> None:
    """Write the record atomically (a temporary file, then a rename)."""
    path = record_path(store, record["id"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".json.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def new_sweep_id(store: RunStore) -> str:
    """A new sweep id, ``<UTC time>-<4 hex digits>``, not yet recorded."""
    now = time.time()
    while True:
        sweep_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + secrets.token_hex(2)
        if not record_path(store, sweep_id).exists():
            return sweep_id


def get_sweep(store: RunStore, sweep_id: str, *, what: str = "sweep") -> dict[str, Any]:
    """The sweep's record: id, name, created_at, spec, base_config, settings, runs.

    Args:
        what: what the caller asked for, as the error names it (``"study or sweep"``…).

    Raises:
        SweepError: no such sweep in this store.
    """
    path = record_path(store, sweep_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SweepError(
            f"no {what} '{sweep_id}' in {store.home}; `python -m mtl sweeps` lists them"
        ) from None
    except (OSError, json.JSONDecodeError) as err:
        raise SweepError(f"the sweep record {path} cannot be read ({err}); move it aside") from None


def read_records(store: RunStore) -> list[dict[str, Any]]:
    """Every readable sweep record, newest first (unreadable files are skipped)."""
    folder = _sweeps_dir(store)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError, json.JSONDecodeError):
            out.append(json.loads(path.read_text(encoding="utf-8")))
    return sorted(out, key=lambda r: r.get("created_at", 0), reverse=True)
