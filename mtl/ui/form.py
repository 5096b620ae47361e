"""The Experiment page's form as plain data: config ↔ widget values, and validation.

Widget values live in a flat mapping (Streamlit's session state) under keys that start
with ``exp.``; :func:`to_widgets` fills it from a config (a preset or an uploaded YAML)
and :func:`to_config` builds the config dict back. :func:`check` validates a config the
way Start does: the config itself, then the data (a one-class target, a missing
column…) with the same preparation the worker will run, without training anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mtl.config import ConfigError, ExperimentConfig
from mtl.data.catalog import DataError, get_dataset
from mtl.data.tasks import infer_kind

PREFIX = "exp."
SECTIONS = ("data", "model", "loss", "train")
"""Sections whose scalar keys map one-to-one to widgets ``exp.<section>.<key>``."""


@dataclass(frozen=True)
class Problem:
    """A validation message and the config key it is about (``None`` when general)."""

    field: str | None
    message: str


def to_widgets(config: ExperimentConfig) -> dict[str, Any]:
    """Widget values for every config key (tasks under ``exp.tasks``, a list of dicts)."""
    data = config.to_dict()
    values: dict[str, Any] = {f"{PREFIX}name": data["name"]}
    for section in SECTIONS:
        for key, value in data[section].items():
            if isinstance(value, dict):  # data.options, loss.options: one widget per entry
                for sub, item in value.items():
                    values[f"{PREFIX}{section}.{key}.{sub}"] = item
            else:
                values[f"{PREFIX}{section}.{key}"] = value
    values[f"{PREFIX}tasks"] = [dict(t) for t in data["tasks"]]
    return values


def to_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The config dict the widget values describe (validated later by :func:`check`)."""
    config: dict[str, Any] = {"name": values.get(f"{PREFIX}name", "experiment")}
    for section in SECTIONS:
        part: dict[str, Any] = {}
        for key, value in values.items():
            if not key.startswith(f"{PREFIX}{section}."):
                continue
            name, _, sub = key.removeprefix(f"{PREFIX}{section}.").partition(".")
            if sub:
                part.setdefault(name, {})[sub] = value
            else:
                part[name] = value
        config[section] = part
    config["tasks"] = [dict(t) for t in values.get(f"{PREFIX}tasks", [])]
    return config


def field_of(message: str) -> str | None:
    """The dotted key a config error message starts with (``"train.lr: …"`` → ``"train.lr"``)."""
    head = message.split(":", 1)[0].strip()
    if " " in head or "." not in head:
        return None
    return head


def check(config: dict[str, Any], frame: pd.DataFrame | None = None) -> tuple[ExperimentConfig | None, list[Problem]]:
    """Validate a config dict and its data; the config when it can run, and the problems.

    ``frame`` is the dataset's table when already loaded (an uploaded CSV).
    """
    if not config.get("tasks"):
        return None, [Problem("tasks", "pick at least one target column to become a task")]
    try:
        parsed = ExperimentConfig.from_dict(config)
    except ConfigError as err:
        return None, [Problem(field_of(str(err)), str(err))]
    from mtl.data.prepare import prepare  # scikit-learn only; no torch

    try:
        prepare(parsed, frame)
    except (DataError, ConfigError) as err:
        return None, [Problem(None, str(err))]
    return parsed, []


def column_overview(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per column: type, missing values, distinct values and the task kind it suggests."""
    rows = []
    for column in frame.columns:
        values = frame[column]
        present = values.dropna()
        kind = infer_kind(values) if present.nunique() >= 2 else "—"
        rows.append(
            {
                "column": str(column),
                "type": "number" if pd.api.types.is_numeric_dtype(values) else "text / category",
                "missing": int(values.isna().sum()),
                "missing %": round(100.0 * values.isna().mean(), 1),
                "distinct": int(present.nunique()),
                "as a task": kind,
            }
        )
    return pd.DataFrame(rows)


def load_dataset(name: str, options: dict[str, Any], path: str | None) -> pd.DataFrame:
    """The dataset's table (a clear :class:`DataError`/:class:`ConfigError` otherwise)."""
    return get_dataset(name).frame(name, options, path)


def save_upload(content: bytes, filename: str, home: Path) -> Path:
    """Keep an uploaded CSV under ``<home>/uploads/`` (content-addressed) so workers can read it."""
    folder = home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(content).hexdigest()[:16]
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(filename).stem)[:40] or "upload"
    path = folder / f"{stem}-{digest}.csv"
    if not path.exists():
        path.write_bytes(content)
    return path


def task_from_column(column: str, frame: pd.DataFrame) -> dict[str, Any]:
    """A task dict for a target column, with its kind inferred."""
    kind = infer_kind(frame[column]) if frame[column].dropna().nunique() >= 2 else "binary"
    return {"name": column, "target": column, "kind": kind, "weight": 1.0, "start_epoch": 0}


def model_inputs(config: ExperimentConfig, frame: pd.DataFrame | None = None) -> tuple[tuple[int, ...], dict[str, int]]:
    """The input shape the model will see (after encoding) and each task's output width."""
    from mtl.data.prepare import prepare

    data = prepare(config, frame)
    return tuple(data.input_shape), {t.name: t.out_dim for t in data.tasks}
