"""The Experiment page's form as plain data: config ↔ widget values, and validation.

Widget values live in a flat mapping (Streamlit's session state) under keys that start
with ``exp.``; :func:`to_widgets` fills it from a config (a preset or an uploaded YAML)
and :func:`to_config` builds the config dict back. :func:`check` validates a config the
way Start does: the config itself, then the data (a one-class target, a missing
column…) with the same preparation the worker will run, without training anything.

Also: uploads saved under the user's base name (:func:`save_upload`, shown with
:func:`mtl.viz.labels.dataset_label`), the form remembered across pages (:func:`remember`,
:func:`restore`), and which columns become features and why the others do not
(:func:`column_roles`).
"""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Collection, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import pandas as pd
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from mtl.config import ConfigError, ExperimentConfig, suggest_task_name
from mtl.data.catalog import DataError, get_dataset
from mtl.data.columns import REASONS, Reason, column_problem, usable_columns
from mtl.data.datasets.csv import PARQUET_SUFFIXES
from mtl.data.images import FILE_COLUMN, LABELS, ZIP_MAX_BYTES, extract_zip, find_root
from mtl.data.tasks import infer_kind
from mtl.models.plan import TextBranch, text_branches

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


@dataclass(frozen=True)
class Widget:
    """How the Experiment page draws one config field, read from the pydantic field alone.

    ``kind`` is ``checkbox`` (a bool), ``select`` (a ``Literal``: ``choices``), ``float``
    or ``int`` (a number input within ``min_value``/``max_value``, the field's ``ge``/``le``)
    or ``text`` (any other string).
    """

    kind: Literal["checkbox", "select", "float", "int", "text"]
    label: str
    default: Any
    choices: tuple[Any, ...] = ()
    min_value: float | None = None
    max_value: float | None = None


def widget_for(name: str, info: FieldInfo, label: str | None = None) -> Widget | None:
    """The widget of field ``name`` (``None`` for a list or other non-scalar field).

    Args:
        name: the field's name.
        info: its pydantic field (type, default, bounds, ``title``, ``description``).
        label: the widget's label; default ``"<name>: <description>"``.
    """
    default = info.get_default(call_default_factory=True)
    label = label or f"{name}: {info.description}"
    if get_origin(info.annotation) is Literal:
        return Widget("select", label, default, choices=get_args(info.annotation))
    if isinstance(default, bool):
        return Widget("checkbox", label, default)
    if isinstance(default, float | int):
        number = float if isinstance(default, float) else int
        bounds: dict[str, float | None] = {"ge": None, "le": None}
        for meta in info.metadata:
            for attr in bounds:
                if getattr(meta, attr, None) is not None:
                    bounds[attr] = number(getattr(meta, attr))
        kind: Literal["float", "int"] = "float" if number is float else "int"
        return Widget(kind, label, default, min_value=bounds["ge"], max_value=bounds["le"])
    if isinstance(default, str):
        return Widget("text", label, default)
    return None


def choices(model: type[BaseModel], field: str) -> list[Any]:
    """The values a ``Literal`` field of ``model`` allows, in declared order (for a selectbox)."""
    return list(get_args(model.model_fields[field].annotation))


def field_of(message: str) -> str | None:
    """The dotted key a config error message starts with (``"train.lr: …"`` → ``"train.lr"``)."""
    head = message.split(":", 1)[0].strip()
    if " " in head or "." not in head:
        return None
    return head


def check(
    config: dict[str, Any], frame: pd.DataFrame | None = None
) -> tuple[ExperimentConfig | None, list[Problem]]:
    """Validate a config dict and its data; the config when it can run, and the problems.

    ``frame`` is the dataset's table when already loaded (an uploaded CSV, an image
    folder's labels).
    """
    if not config.get("tasks"):
        return None, [Problem("tasks", "pick at least one target column to become a task")]
    try:
        parsed = ExperimentConfig.from_dict(config)
    except ConfigError as err:
        return None, [Problem(field_of(str(err)), str(err))]
    # why: scikit-learn, off the Experiment page until it is needed
    from mtl.data.prepare import prepare

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
        if pd.api.types.is_numeric_dtype(values):
            kind_of_values = "number"
        elif column_problem(values, len(frame)) == "text":
            kind_of_values = "free text"
        else:
            kind_of_values = "category"
        rows.append(
            {
                "column": str(column),
                "type": kind_of_values,
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
    """Keep an uploaded table as ``<home>/uploads/<digest>/<name>.csv`` (``.parquet`` for a
    Parquet upload, which the csv dataset then reads as Parquet) so workers can read it.

    The folder is content-addressed; the file keeps the user's base name (sanitized by
    :func:`safe_stem`), so ``Path(data.path).name`` is the name to show for the dataset.
    """
    digest = hashlib.sha256(content).hexdigest()[:16]
    folder = home / "uploads" / digest
    folder.mkdir(parents=True, exist_ok=True)
    parquet = Path(str(filename).replace("\\", "/")).suffix.lower() in PARQUET_SUFFIXES
    path = folder / f"{safe_stem(filename)}{'.parquet' if parquet else '.csv'}"
    if not path.exists():
        path.write_bytes(content)
    return path


def save_zip_upload(
    content: bytes, filename: str, home: Path, max_bytes: int = ZIP_MAX_BYTES
) -> Path:
    """Unpack an uploaded zip of an image folder under ``<home>/uploads/<digest>/<name>/``
    (checked entry by entry by :func:`mtl.data.images.extract_zip`: no path outside the
    folder, no link, at most ``max_bytes`` unpacked) and return the folder holding its
    ``labels.csv``. The same upload again reuses the folder.

    Raises:
        DataError: the zip is refused or holds no ``labels.csv`` (one line).
    """
    digest = hashlib.sha256(content).hexdigest()[:16]
    dest = home / "uploads" / digest / safe_stem(filename)
    if not dest.is_dir():
        extract_zip(io.BytesIO(content), dest, max_bytes=max_bytes)
    try:
        return find_root(dest)
    except DataError:  # the message would show the server's folder: say it plainly
        shutil.rmtree(dest.parent, ignore_errors=True)
        raise DataError(
            f"the zip holds no {LABELS} at its top or in its only folder; add one with a "
            f"{FILE_COLUMN!r} column (each image's path) and one column per label"
        ) from None


def safe_stem(filename: str) -> str:
    """A file name's stem reduced to ASCII letters, digits, ``-`` and ``_`` (≤ 60 chars)."""
    stem = Path(str(filename).replace("\\", "/")).stem
    clean = "".join(c if (c.isascii() and c.isalnum()) or c in "-_" else "_" for c in stem).strip(
        "_"
    )
    return clean[:60] or "upload"


def default_run_name(filename: str) -> str:
    """The run name an upload suggests: its file name without folders and extension."""
    return Path(str(filename).replace("\\", "/")).stem.strip()[:80] or "upload"


def task_from_column(
    column: str, frame: pd.DataFrame, taken: Collection[str] = ()
) -> dict[str, Any]:
    """A task dict for a target column, with its kind inferred.

    The task is named after the column by :func:`mtl.config.suggest_task_name` (a column
    such as ``km/h`` gives ``km_h``), with `` (2)``, `` (3)``… added when the name is in ``taken``.
    """
    kind = infer_kind(frame[column]) if frame[column].dropna().nunique() >= 2 else "binary"
    base = suggest_task_name(column)
    name, n = base, 1
    while name in taken:
        n += 1
        suffix = f" ({n})"
        name = base[: 64 - len(suffix)].rstrip(" ") + suffix
    return {"name": name, "target": column, "kind": kind, "weight": 1.0, "start_epoch": 0}


def model_inputs(
    config: ExperimentConfig, frame: pd.DataFrame | None = None
) -> tuple[tuple[int, ...], dict[str, int], list[TextBranch]]:
    """The input shape the architecture will see (after encoding; text columns count with
    their text encoder's output width), each task's output width, and the text branches
    in front of the architecture (drawn by the diagram)."""
    # why: scikit-learn, off the Experiment page until it is needed
    from mtl.data.prepare import prepare

    data = prepare(config, frame)
    heads = {t.name: t.out_dim for t in data.tasks}
    layout = data.text_layout
    if layout is None or not layout.columns:
        return tuple(data.input_shape), heads, []
    branches = text_branches(layout, config.data.text_encoder, config.data.text_embedding)
    return (layout.tabular + sum(b.width for b in branches),), heads, branches


# ---- remembering the form across pages ---------------------------------------------------

FORM_KEY = "exp.form"
"""Session key of the canonical form values. Streamlit forgets a widget's value when a
page without that widget runs, so the page copies its values here on every change and
run, and restores the widget keys from here when it is entered (:func:`restore`)."""
SENTINEL = "exp.btn.reset"
"""Key of the Reset button, drawn on every run of the page (see :func:`restore`)."""
TRANSIENT = (
    "exp.form",
    "exp.btn.",
    "exp.up.",
    "exp.start",
    "exp.download",
    "exp.diagram",
    "exp.ui.targets.",
    "exp.ui.features.",
)
"""Keys never copied: buttons and uploaders (their state cannot be set), charts, and
pickers whose key names their options (rebuilt from ``exp.tasks`` / ``exp.data.features``)."""


def remembered(key: str) -> bool:
    """Whether ``key`` is a form value kept across pages."""
    return key.startswith((PREFIX, "task.")) and not key.startswith(TRANSIENT)


def remember(state: MutableMapping[str, Any]) -> None:
    """Copy every form value to :data:`FORM_KEY`."""
    state[FORM_KEY] = {k: state[k] for k in list(state.keys()) if remembered(str(k))}


def restore(state: MutableMapping[str, Any]) -> None:
    """Put the remembered form values back when the page is entered from another page.

    Streamlit drops a widget's value while another page runs, and then shows the value
    last *set through session state* (a preset's), not the user's. Entering is told by
    :data:`SENTINEL`, the key of a button the page draws on every run: it is in the
    state only when the previous run was this page's. On a rerun of the page itself only
    missing keys are filled (the widgets hold the newest values).
    """
    entering = SENTINEL not in state
    for key, value in dict(state.get(FORM_KEY, {})).items():
        if entering or key not in state:
            state[key] = value


def forget(state: MutableMapping[str, Any], prefixes: tuple[str, ...]) -> None:
    """Drop the form values whose keys start with ``prefixes``, remembered ones included."""
    saved = state.get(FORM_KEY, {})
    for key in [
        k for k in list(state.keys()) if str(k).startswith(prefixes) and remembered(str(k))
    ]:
        del state[key]
    state[FORM_KEY] = {k: v for k, v in saved.items() if not k.startswith(prefixes)}


def without_path(message: str, path: str | None) -> str:
    """``message`` with the server path of an uploaded file replaced by its file name."""
    if not path:
        return message
    return message.replace(str(path), Path(path).name).replace(str(Path(path).parent), "uploads")


def hard_without_sharing(config: ExperimentConfig) -> ExperimentConfig:
    """``hard`` sharing with ``branch_depth: 0`` shares no layer: the same model as
    ``independent``, which is how the form shows it (it never labels it "hard")."""
    if config.model.sharing == "hard" and config.model.branch_depth == 0:
        return config.with_overrides({"model.sharing": "independent", "model.branch_depth": None})
    return config


# ---- which columns become features -------------------------------------------------------


REASON_LABELS: dict[Reason, str] = {
    "empty": "empty",
    "id": "ID-like",
    "text": "text-like",
    "constant": "constant",
}
"""How the dropped-columns table names each :data:`mtl.data.columns.Reason`."""


@dataclass(frozen=True)
class ColumnRoles:
    """What the preparation does with each column of a table."""

    columns: list[str]  # every column, in the table's order
    text: list[str]  # the free-text columns, text inputs by default (``data.text: null``)
    usable: list[
        str
    ]  # what ``data.features: null`` uses: the features offered and picked by default
    dropped: pd.DataFrame  # column, reason, detail: every column that is not a feature

    def features_setting(self, chosen: list[str]) -> list[str] | None:
        """``data.features`` for the picked columns: ``None`` when they are exactly the
        preparation's default, else the list in the table's order."""
        if set(chosen) == set(self.usable):
            return None
        picked = set(chosen)
        return [c for c in dict.fromkeys(self.columns + chosen) if c in picked]


def column_roles(frame: pd.DataFrame, targets: list[str], dataset_name: str) -> ColumnRoles:
    """Which columns are usable features, and a table of the others with why.

    The rules are the preparation's own (:func:`mtl.data.columns.usable_columns`, called
    as :func:`mtl.data.prepare.select_features` calls it), so the table says what training
    with ``data.features: null`` will do. ``reason`` is ``target``, ``excluded by the
    dataset`` or the label in :data:`REASON_LABELS`; ``detail`` is the preparation's sentence.
    """
    dataset = get_dataset(dataset_name)
    usable, left_out = usable_columns(
        frame, targets, exclude=dataset.exclude, keep_constant=dataset.images
    )
    rows: list[dict[str, str]] = []
    for column in frame.columns:
        if column in targets:
            rows.append(
                {"column": str(column), "reason": "target", "detail": "a task's target column"}
            )
        elif column in dataset.exclude:
            rows.append(
                {
                    "column": str(column),
                    "reason": "excluded by the dataset",
                    "detail": "another label or an id of this dataset",
                }
            )
        elif left_out.get(column) == "text":
            continue  # a text input (the page's text picker)
        elif column in left_out:
            reason = left_out[column]
            rows.append(
                {
                    "column": str(column),
                    "reason": REASON_LABELS[reason],
                    "detail": f"left out: {REASONS[reason]}",
                }
            )
    return ColumnRoles(
        [str(c) for c in frame.columns],
        [str(c) for c, r in left_out.items() if r == "text"],
        [str(c) for c in usable],
        pd.DataFrame(rows, columns=["column", "reason", "detail"]),
    )
