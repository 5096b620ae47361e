"""Predictions of a finished run's model on new rows (a table or a CSV file).

The rows go through the preprocessing fitted at training time (``preprocessing.json``
beside the checkpoint): missing values are imputed the same way, categories unseen in
training become all-zero one-hot vectors, text columns are split into the training
vocabulary's word ids (unknown words share one id, a missing text is empty), image
datasets are reshaped to their input shape. Problems the user can fix raise :class:`DataError` with one line naming the column.

Image models (``data.dataset: images``) predict image files instead (:func:`predict_images`):
a folder or a zip, with or without its ``labels.csv``; each image is decoded as in training.

The result is one wide table, one row per input row::

    row                      the input's row number (0 = first data row)
    file                     image models: the image's path inside the folder
    <task> (label)           image models, when labels.csv has the task's column: the label given
    <task>                   classification: the predicted class label
    <task> p(<class>)        classification: the probability of each class
    <task>                   regression with one target: the value in original units
    <task>:<target>          regression with k targets: one column per target

Nothing here unpickles: the preprocessing is JSON and the checkpoint is read with
``weights_only=True``. An old run folder holding only ``preprocessor.joblib`` (a pickle)
is refused, never loaded.
"""

from __future__ import annotations

import difflib
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mtl.csv_safe import to_csv
from mtl.data.catalog import DataError
from mtl.data.columns import check_finite_column, check_finite_inputs
from mtl.data.datasets.csv import read_rows
from mtl.data.images import (
    FILE_COLUMN,
    ImageArray,
    extract_zip,
    find_root,
    list_images,
    read_folder,
)
from mtl.data.preprocessing import PREPROCESSING, Preprocessing, PreprocessingFormatError
from mtl.data.tasks import TaskSpec
from mtl.errors import NoModelError  # re-exported from here too
from mtl.runs.output_file import check_output_path, write_output
from mtl.train.checkpoint import CHECKPOINT, LEGACY_PREPROCESSOR, Checkpoint, load_checkpoint
from mtl.train.predictions import prediction_frame

__all__ = [
    "BATCH",
    "NoModelError",
    "predict_csv",
    "predict_frame",
    "predict_images",
    "read_input_csv",
]

BATCH = 1024  # rows per forward pass
IMAGE_BATCH = 256  # images decoded per forward pass
ROW_COLUMN = "row"


def predict_frame(run_folder: Path, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Every task's prediction for the rows of ``frame``.

    Args:
        run_folder: a run's artifact folder holding ``checkpoint.pt`` and
            ``preprocessing.json`` (``RunStore.run_dir(run_id)``).
        frame: the rows to predict, with the model's feature columns (any order). Other
            columns are ignored: task targets silently, anything else with a warning.

    Returns:
        The prediction table (columns in the module docstring) and the warnings (extra
        columns, unseen categories, imputed missing values), one sentence each.

    Raises:
        NoModelError: the folder has no checkpoint or preprocessing, or one is damaged.
        DataError: no rows, missing feature columns, text in a numeric column, infinite values.
    """
    checkpoint, preprocessor = load_model(run_folder)
    x, messages = encode_features(checkpoint, preprocessor, frame)
    outputs = run_model(checkpoint.model, x)
    return decode(checkpoint.tasks, outputs), messages


def predict_csv(
    run_folder: Path, in_csv: Path, out_csv: Path, *, raw: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`predict_frame` on a CSV file; writes the table to ``out_csv`` (no index column),
    spreadsheet-safe unless ``raw`` (:func:`mtl.csv_safe.to_csv`)."""
    out = check_output_path(out_csv, [Path(run_folder)], force=True)
    table, messages = predict_frame(run_folder, read_input_csv(in_csv))
    _write_table(table, out, raw)
    return table, messages


def predict_images(
    run_folder: Path, source: Path, out_csv: Path, *, raw: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """Every task's prediction for the images of a folder or a ``.zip`` (extracted safely
    to a temporary folder); writes the table to ``out_csv`` like :func:`predict_csv`.

    With a ``labels.csv``, its ``file`` column lists the images (rows naming a missing,
    corrupt or non-image file are skipped with a warning) and the label columns of the
    model's tasks are copied beside the predictions; without one, every PNG/JPEG under the
    folder is predicted (other files are skipped with a warning).

    Raises:
        NoModelError: no saved model in ``run_folder``.
        DataError: the run was not trained on images, no image found, a refused zip.
    """
    out = check_output_path(out_csv, [Path(run_folder)], force=True)
    checkpoint, _ = load_model(run_folder)
    if len(checkpoint.input_shape) != 3 or checkpoint.input_columns:
        raise DataError(
            "this run's model reads table columns, not image files; predict with a CSV (--csv)"
        )
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="mtl-predict-") as scratch:
        if source.is_file() and source.suffix.lower() == ".zip":
            with source.open("rb") as handle:
                folder = extract_zip(handle, Path(scratch) / "images")
        elif source.is_dir():
            folder = source
        else:
            raise DataError(f"--images {str(source)!r} is neither a folder nor a .zip file")
        table, messages = _predict_folder(checkpoint, folder)
    _write_table(table, out, raw)
    return table, messages


def _write_table(table: pd.DataFrame, out: Path, raw: bool) -> None:
    """Write the prediction table whole to the checked ``--out`` path (see :func:`predict_csv`).

    Raises:
        OutputPathError: the file cannot be written.
    """
    write_output(out, lambda tmp: to_csv(table, tmp, raw=raw))


def _predict_folder(checkpoint: Checkpoint, folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """The prediction table of the images in ``folder`` (see :func:`predict_images`)."""
    labels: pd.DataFrame | None = None
    try:
        root = find_root(folder)
    except DataError:
        root = folder
    if (root / "labels.csv").is_file():
        labels, root, messages = read_folder(root)
        files = labels[FILE_COLUMN].tolist()
    else:
        files, messages = list_images(root)
    if not files:
        raise DataError(f"no PNG or JPEG image found in {str(folder)!r}")
    channels, size = checkpoint.input_shape[0], checkpoint.input_shape[1]
    images = ImageArray(root, files, size, "grey" if channels == 1 else "rgb")
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(images), IMAGE_BATCH):
        out = run_model(checkpoint.model, images[start : start + IMAGE_BATCH])
        for name, value in out.items():
            parts.setdefault(name, []).append(value)
    table = decode(checkpoint.tasks, {k: np.concatenate(v) for k, v in parts.items()})
    table.insert(1, FILE_COLUMN, files)
    if labels is not None:
        for spec in checkpoint.tasks:
            if len(spec.targets) == 1 and spec.targets[0] in labels.columns:
                table[f"{spec.name} (label)"] = labels[spec.targets[0]].to_numpy()
    return table, messages


def read_input_csv(path: Path) -> pd.DataFrame:
    """The rows to predict from a CSV file; :class:`DataError` with a plain message otherwise."""
    return read_rows(path)


# ---- steps -------------------------------------------------------------------------


def load_model(run_folder: Path) -> tuple[Checkpoint, Preprocessing]:
    """The run's model (eval mode) and its fitted feature preprocessing."""
    folder = Path(run_folder)
    preprocessing = folder / PREPROCESSING
    if not preprocessing.is_file() and (folder / LEGACY_PREPROCESSOR).exists():
        raise NoModelError(
            f"run folder {str(folder)!r} holds a {LEGACY_PREPROCESSOR} from an older version; it is a pickle "
            "(which can run code) and is not loaded; train the run again to predict with it"
        )
    if not (folder / CHECKPOINT).is_file() or not preprocessing.is_file():
        raise NoModelError(
            f"run folder {str(folder)!r} has no saved model; only a run that finished or was stopped "
            "has one (a failed, diverged, queued or running run does not)"
        )
    try:
        prep = Preprocessing.from_json(preprocessing.read_text(encoding="utf-8"))
    except (PreprocessingFormatError, UnicodeDecodeError) as err:
        raise NoModelError(
            f"{str(preprocessing)!r} is damaged or not in this version's format ({err})"
        ) from None
    try:
        checkpoint = load_checkpoint(folder / CHECKPOINT)
    except ValueError as err:
        raise NoModelError(str(err)) from None
    text = [t.column for t in prep.text]
    if not {*prep.numeric, *prep.categorical, *text} <= {str(c) for c in checkpoint.input_columns}:
        raise NoModelError(f"{str(preprocessing)!r} does not match the checkpoint's input columns")
    return checkpoint, prep


def encode_features(
    checkpoint: Checkpoint, preprocessor: Preprocessing, frame: pd.DataFrame
) -> tuple[np.ndarray, list[str]]:
    """Check the input columns and preprocess them as in training: ``(N, *input_shape)`` float32."""
    messages: list[str] = []
    if len(frame) == 0:
        raise DataError("the input has no rows to predict")
    if not checkpoint.input_columns and len(checkpoint.input_shape) == 3:
        raise DataError(
            "this run's model reads image files, not table columns; predict with --images"
        )
    columns = list(checkpoint.input_columns)
    wanted = {str(c) for c in columns}
    by_name = {str(c): c for c in frame.columns}  # CSV headers are strings
    missing = [c for c in columns if str(c) not in by_name]
    if missing:
        raise DataError(_missing_message(missing, [n for n in by_name if n not in wanted], columns))
    targets = {str(c) for spec in checkpoint.tasks for c in spec.targets}
    extra = [name for name in by_name if name not in wanted and name not in targets]
    if extra:
        messages.append(f"ignored column(s) that are not features of this model: {_preview(extra)}")

    categorical = preprocessor.categorical
    text = {t.column for t in preprocessor.text}
    features = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in columns:
        name = str(column)
        values = frame[by_name[name]].reset_index(drop=True)
        if name in text:
            features[name] = values.astype("object")  # words outside the vocabulary: one id
        elif name in categorical:
            known = preprocessor.categories[categorical.index(name)]
            features[name] = _categorical(column, values, known, messages)
        else:
            features[name] = _numeric(column, values)
    imputed = {str(c): int(n) for c, n in features.isna().sum().items() if n}
    if imputed:
        counts = ", ".join(f"{c} ({n})" for c, n in imputed.items())
        messages.append(
            f"missing values in {counts} were filled in as in training "
            f"(numbers: {checkpoint.config.data.impute} of the training split; categories: the most frequent one; "
            "text: empty)"
        )

    x = preprocessor.transform(features).astype(np.float32)  # (N, F)
    check_finite_inputs(x, preprocessor.feature_names, "the input")
    width = int(np.prod(checkpoint.input_shape))
    if x.shape[1] != width:
        raise DataError(
            f"the preprocessed input has {x.shape[1]} features but the model expects {width}"
        )
    return x.reshape((len(x), *checkpoint.input_shape)), messages


@torch.no_grad()
def run_model(model: torch.nn.Module, x: np.ndarray, batch: int = BATCH) -> dict[str, np.ndarray]:
    """Raw outputs per task, in eval mode and in batches: task → (N, out_dim)."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(x), batch):
        out = model(torch.from_numpy(x[start : start + batch]))  # task → (B, out_dim)
        for name, value in out.items():
            parts.setdefault(name, []).append(value.cpu().numpy())
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def decode(tasks: list[TaskSpec], outputs: dict[str, np.ndarray]) -> pd.DataFrame:
    """The wide prediction table from raw outputs (see the module docstring for the columns)."""
    n = len(next(iter(outputs.values())))
    columns: dict[str, Any] = {ROW_COLUMN: np.arange(n)}
    for spec in tasks:
        part = prediction_frame(spec, outputs[spec.name])
        if spec.kind == "regression":
            for target in spec.targets:
                name = spec.name if len(spec.targets) == 1 else f"{spec.name}:{target}"
                columns[name] = part[f"pred_{target}"].to_numpy()
        else:
            columns[spec.name] = part["pred"].to_numpy()
            for label in spec.classes or []:
                columns[f"{spec.name} p({label})"] = part[f"p_{label}"].to_numpy()
    return pd.DataFrame(columns)


# ---- helpers -----------------------------------------------------------------------


def _numeric(column: Any, values: pd.Series) -> pd.Series:
    """A numeric feature as float64; text or infinite values raise a DataError naming them."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        numbers = values.astype(np.float64)
    else:
        text = values.astype("object")
        stripped = text.map(lambda v: v.strip() if isinstance(v, str) else v)
        stripped = stripped.where(stripped != "", np.nan)
        numbers = pd.to_numeric(stripped, errors="coerce").astype(np.float64)
        bad = numbers.isna() & stripped.notna()
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"column {str(column)!r} must be numeric but has text such as {text.iloc[first]!r} "
                f"(row {first}, {int(bad.sum())} such value(s)); fix or empty those cells"
            )
    problem = check_finite_column(numbers, f"column {str(column)!r}")
    if problem:
        raise DataError(problem)
    return numbers


def _categorical(
    column: Any, values: pd.Series, known: list[str], messages: list[str]
) -> pd.Series:
    """A categorical feature as strings with NaN kept, as training encoded it.

    A number read from a CSV (``1.0``) matches the training category ``"1"``. Categories
    unseen in training become all-zero one-hot vectors (as the encoder does) with a warning.
    """
    known_set = set(known)

    def label(value: Any) -> Any:
        if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
            return np.nan
        text = str(value)
        if (
            text not in known_set
            and isinstance(value, float | np.floating)
            and float(value).is_integer()
        ):
            return str(int(value))
        return text

    labels = values.astype("object").map(label)
    unseen = sorted({v for v in labels.dropna() if v not in known_set})
    if unseen:
        count = int(labels.isin(unseen).sum())
        messages.append(
            f"column {str(column)!r} has categories not seen in training: {_preview(unseen, 6)} "
            f"({count} row(s)); they were encoded as none of the known categories ({_preview(known, 6)})"
        )
    return labels


def _missing_message(missing: list[Any], unused: list[str], columns: list[Any]) -> str:
    """Names the missing columns, suggests near-miss spellings among the unused ones."""
    names = [str(c) for c in missing]
    hints = []
    for name in names:
        close = [u for u in unused if u.strip().lower() == name.strip().lower()]
        close = close or difflib.get_close_matches(name, unused, n=1, cutoff=0.8)
        if close:
            hints.append(f"{close[0]!r} for {name!r}?")
    hint = f" (did you mean {', '.join(hints)})" if hints else ""
    return (
        f"the input is missing feature column(s) {names}{hint}; "
        f"the model needs {len(columns)}: {_preview([str(c) for c in columns])}"
    )


def _preview(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(map(str, names[:limit]))
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
