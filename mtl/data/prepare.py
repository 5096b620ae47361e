"""Turn a config's data section and tasks into train/val/test arrays and task specs.

Imputation, scaling and one-hot encoding are fitted on the training split only
(scikit-learn), and so are the vocabularies of free-text columns (:mod:`mtl.data.text`),
whose token ids follow the tabular features in each row. A row whose label is missing for one task still trains the others:
each task has its own label mask. Regression targets are standardised with the
training split's mean and standard deviation; :class:`TaskSpec` keeps both so metrics
are reported in original units.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from mtl.data.catalog import DataError, Dataset, get_dataset
from mtl.data.columns import (
    REASONS,
    Reason,
    check_finite_column,
    check_finite_inputs,
    is_constant,
    usable_columns,
)
from mtl.data.images import FILE_COLUMN, Augment, ImageArray, find_root
from mtl.data.tasks import TaskSpec, resolve_kind
from mtl.data.text import TextLayout, TextSettings, Tokenizer

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from collections.abc import Mapping

    from mtl.config import DataConfig, ExperimentConfig

SPLITS = ("train", "val", "test")


@dataclass
class Split:
    """One split: inputs, per-task targets and label masks, and the source row numbers."""

    x: np.ndarray | ImageArray  # (N, *input_shape) float32; image folders decode lazily
    y: dict[
        str, np.ndarray
    ]  # class ids (N,) int64 | binary (N,) float32 | regression (N, k) float32
    mask: dict[str, np.ndarray]  # (N,) bool, True where the task's label is present
    rows: np.ndarray  # (N,) row numbers in the dataset's table
    # regression tasks: the targets as read, (N, k) float64 (NaN where missing), so the
    # true values shown beside predictions are the data's own, not an inverse transform
    raw: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class PreparedData:
    """The prepared dataset, ready for a model."""

    train: Split
    val: Split
    test: Split
    tasks: list[TaskSpec]
    input_shape: tuple[int, ...]
    input_columns: list[str]
    feature_names: list[str]
    preprocessor: ColumnTransformer
    warnings: list[str] = field(default_factory=list)
    text: list[Tokenizer] = field(default_factory=list)  # fitted, in the order of their ids

    @property
    def text_layout(self) -> TextLayout | None:
        """Where the text columns' ids sit in a row; ``None`` without text columns."""
        if not self.text:
            return None
        width = int(np.prod(self.input_shape)) - sum(t.width for t in self.text)
        return TextLayout.of(width, self.text)

    def split(self, name: str) -> Split:
        """The split called ``train``, ``val`` or ``test``."""
        return {"train": self.train, "val": self.val, "test": self.test}[name]


def load_frame(config: ExperimentConfig) -> tuple[pd.DataFrame, Dataset]:
    """The configured dataset's table and its catalog entry."""
    dataset = get_dataset(config.data.dataset)
    return dataset.frame(config.data.dataset, config.data.options, config.data.path), dataset


def prepare(config: ExperimentConfig, frame: pd.DataFrame | None = None) -> PreparedData:
    """Load (unless ``frame`` is given), check, split and preprocess the data for ``config``."""
    if frame is None:
        frame, dataset = load_frame(config)
    else:
        dataset = get_dataset(config.data.dataset)
    frame = frame.reset_index(drop=True)
    warnings: list[str] = []

    targets = [c for t in config.tasks for c in t.targets]
    missing = [c for c in dict.fromkeys(targets) if c not in frame.columns]
    if missing:
        raise DataError(
            f"target column(s) {missing} not in the data; available columns: {preview_names(frame.columns)}"
        )
    kinds = {t.name: resolve_kind(t, frame) for t in config.tasks}
    if dataset.image_folder:
        return _prepare_images(config, frame, dataset, kinds, warnings)
    train_rows, val_rows, test_rows = split_rows(config, frame, kinds, warnings)
    inputs = fit_inputs(config, frame, train_rows, dataset, warnings)
    tasks, kept = fit_tasks(config, frame.iloc[train_rows], kinds)
    prepared = PreparedData(
        train=inputs.split(frame.iloc[train_rows], train_rows, tasks),
        val=inputs.split(frame.iloc[val_rows], val_rows, tasks),
        test=inputs.split(frame.iloc[test_rows], test_rows, tasks),
        tasks=tasks,
        input_shape=inputs.input_shape,
        input_columns=inputs.input_columns,
        feature_names=inputs.feature_names,
        preprocessor=inputs.preprocessor,
        warnings=warnings,
        text=inputs.tokenizers,
    )
    _mask_left_out(prepared, kept)
    _check_labelled(prepared)
    return prepared


@dataclass
class FittedInputs:
    """The input preprocessing fitted on the training split: turns any rows into model inputs.

    Picklable and small (no rows): it is what a data-parallel run fits once and sends to
    every rank, which then transforms its own rows (:mod:`mtl.data.shards`).
    """

    numeric: list[str]
    categorical: list[str]
    tokenizers: list[Tokenizer]
    preprocessor: ColumnTransformer
    feature_names: list[str]
    tabular_width: int
    input_shape: tuple[int, ...]

    @property
    def input_columns(self) -> list[str]:
        """The table's columns the inputs are made of (tabular first, then text)."""
        return self.numeric + self.categorical + [t.column for t in self.tokenizers]

    def transform(self, part: pd.DataFrame) -> np.ndarray:
        """The model inputs of the rows of ``part``: (N, *input_shape) float32."""
        if len(part) == 0:  # data.val_fraction: 0 (scikit-learn refuses to transform no rows)
            x = np.zeros((0, len(self.feature_names)), dtype=np.float32)
        else:
            features = _clean_categoricals(part[self.numeric + self.categorical], self.categorical)
            x = np.asarray(self.preprocessor.transform(features), dtype=np.float32)
            x = x.reshape(len(part), self.tabular_width)  # (N, tabular)
            ids = [t.encode(part[t.column]) for t in self.tokenizers]  # (N, width) each
            x = np.concatenate([x, *ids], axis=1).astype(np.float32)  # ids < 2**24: exact
        check_finite_inputs(x, self.feature_names, "the prepared data")
        return x.reshape((len(part), *self.input_shape))

    def split(self, part: pd.DataFrame, rows: np.ndarray, tasks: list[TaskSpec]) -> Split:
        """The :class:`Split` of the rows ``part`` (the table's rows ``rows``, in order)."""
        y, mask = {}, {}
        for spec in tasks:
            y[spec.name], mask[spec.name] = encode_targets(spec, part)
        x = self.transform(part)
        return Split(x=x, y=y, mask=mask, rows=rows, raw=raw_targets(tasks, part))


def fit_inputs(
    config: ExperimentConfig,
    frame: pd.DataFrame,
    train_rows: np.ndarray,
    dataset: Dataset,
    warnings: list[str],
) -> FittedInputs:
    """Choose the input columns of ``frame`` and fit their preprocessing on ``train_rows``.

    Imputation, scaling and one-hot encoding (scikit-learn) and the text vocabularies are
    fitted on the training rows only; a column without a training value is left out.
    """
    targets = [c for t in config.tasks for c in t.targets]
    numeric, categorical, text = select_features(
        frame, targets, dataset, config.data.features, warnings, config.data.text
    )
    columns = numeric + categorical
    if dataset.image_shape is None:  # a column with no training value cannot be imputed
        unseen = [c for c in columns if frame[c].iloc[train_rows].isna().all()]
        for column in unseen:
            warnings.append(
                f"column {column!r} was left out: it has no value in the training split"
            )
        numeric = [c for c in numeric if c not in unseen]
        categorical = [c for c in categorical if c not in unseen]
        columns = numeric + categorical
    tokenizers = fit_tokenizers(
        frame, text, train_rows, config.data, warnings, explicit=config.data.text is not None
    )
    if dataset.image_shape is None and not columns and not tokenizers:
        raise DataError(
            "no usable feature: no feature or text column has a value in the training split"
        )
    use_image = (
        dataset.image_shape is not None
        and config.model.encoder != "mlp"
        and config.data.features is None
        and len(columns) == int(np.prod(dataset.image_shape))
    )
    if config.model.encoder == "cnn" and not use_image:
        raise DataError(
            "model.encoder 'cnn' needs an image dataset with all pixel columns as features; use 'mlp' or 'auto'"
        )
    preprocessor = build_preprocessor(numeric, categorical, config, image=use_image)
    preprocessor.fit(_clean_categoricals(frame[columns].iloc[train_rows], categorical))
    feature_names = [str(n) for n in preprocessor.get_feature_names_out()]
    tabular_width = len(feature_names)
    feature_names += [f"{t.column}:id{i}" for t in tokenizers for i in range(t.width)]
    input_shape: tuple[int, ...] = dataset.image_shape if use_image else (len(feature_names),)  # type: ignore[assignment]
    return FittedInputs(
        numeric, categorical, tokenizers, preprocessor, feature_names, tabular_width, input_shape
    )


def kept_labels(config: ExperimentConfig, train: pd.DataFrame) -> dict[str, np.ndarray]:
    """The training rows (positions in ``train``) whose labels each task with a
    ``label_fraction`` below 1 keeps (seeded).

    The kept rows are drawn among the labelled ones with ``train.seed`` (and the task's
    name), so two runs with the same seed and fraction see the same labels, whatever
    the other tasks. At least one label is kept; validation and test labels are untouched.
    The target's scaling and classes are fitted on the kept labels only
    (:func:`_with_kept_labels`), so the labels left out leak nothing into training.
    """
    kept: dict[str, np.ndarray] = {}
    for task in config.tasks:
        if task.label_fraction >= 1.0:
            continue
        labelled = np.flatnonzero(train[task.targets].notna().all(axis=1).to_numpy())
        keep = max(1, round(task.label_fraction * len(labelled)))
        rng = np.random.default_rng([config.train.seed, zlib.crc32(task.name.encode())])
        kept[task.name] = np.sort(
            rng.choice(labelled, size=min(keep, len(labelled)), replace=False)
        )
    return kept


def fit_tasks(
    config: ExperimentConfig, train: pd.DataFrame, kinds: Mapping[str, str]
) -> tuple[list[TaskSpec], dict[str, np.ndarray]]:
    """Each task's spec fitted on its kept training labels, and the kept rows
    (:func:`kept_labels`) that :func:`_mask_left_out` applies to the training split."""
    kept = kept_labels(config, train)
    tasks = [
        _task_spec(
            t, kinds[t.name], _with_kept_labels(train, t, kept), config.data.standardize_targets
        )
        for t in config.tasks
    ]
    return tasks, kept


def _mask_left_out(prepared: PreparedData, kept: dict[str, np.ndarray]) -> None:
    """Mask the training labels that ``label_fraction`` leaves out (in place)."""
    for name, rows in kept.items():
        mask = np.zeros_like(prepared.train.mask[name])
        mask[rows] = prepared.train.mask[name][rows]
        prepared.train.mask[name] = mask


def _with_kept_labels(train: pd.DataFrame, task: Any, kept: dict[str, np.ndarray]) -> pd.DataFrame:
    """``train`` with ``task``'s labels that ``label_fraction`` leaves out set to missing."""
    if task.name not in kept:
        return train
    part = train.copy()
    dropped = np.setdiff1d(np.arange(len(part)), kept[task.name])
    part.iloc[dropped, [part.columns.get_loc(c) for c in task.targets]] = np.nan
    return part


def _check_labelled(prepared: PreparedData) -> None:
    """Refuse a task without a single label in the training split."""
    for spec in prepared.tasks:
        if not prepared.train.mask[spec.name].any():
            raise DataError(f"task {spec.name!r} has no labelled rows in the training split")


def _prepare_images(
    config: ExperimentConfig,
    frame: pd.DataFrame,
    dataset: Dataset,
    kinds: Mapping[str, str],
    warnings: list[str],
) -> PreparedData:
    """An image folder's splits: lazy :class:`ImageArray` inputs (augmented in training only)."""
    options = dataset.parse_options(config.data.dataset, config.data.options).model_dump()
    size, color = int(options["size"]), options["color"]
    warnings.extend(frame.attrs.get("warnings", []))
    root = Path(frame.attrs.get("image_root") or find_root(str(config.data.path)))
    clash = [c for t in config.tasks for c in t.targets if c == FILE_COLUMN]
    if clash:
        raise DataError(f"the {FILE_COLUMN!r} column names the images; it cannot be a task target")
    if config.data.features:
        warnings.append("data.features is ignored for an image folder: the images are the input")
    train_rows, val_rows, test_rows = split_rows(config, frame, kinds, warnings)
    tasks, kept = fit_tasks(config, frame.iloc[train_rows], kinds)
    files = frame[FILE_COLUMN].astype(str).tolist()
    augment = Augment(
        flip=bool(options["flip"]),
        shift=int(options["shift"]),
        seed=config.train.seed + 2,
    )

    def make_split(rows: np.ndarray, train: bool) -> Split:
        x = ImageArray(root, [files[r] for r in rows], size, color, augment if train else None)
        part = frame.iloc[rows]
        y, mask = {}, {}
        for spec in tasks:
            y[spec.name], mask[spec.name] = encode_targets(spec, part)
        return Split(x=x, y=y, mask=mask, rows=rows, raw=raw_targets(tasks, part))

    no_columns = ColumnTransformer([], verbose_feature_names_out=False).fit(frame[[]])
    prepared = PreparedData(
        train=make_split(train_rows, True),
        val=make_split(val_rows, False),
        test=make_split(test_rows, False),
        tasks=tasks,
        input_shape=(1 if color == "grey" else 3, size, size),
        input_columns=[],
        feature_names=[],
        preprocessor=no_columns,
        warnings=warnings,
    )
    _mask_left_out(prepared, kept)
    _check_labelled(prepared)
    return prepared


def select_features(
    frame: pd.DataFrame,
    targets: list[str],
    dataset: Dataset,
    explicit: list[str] | None,
    warnings: list[str],
    text: list[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """Split the input columns into numeric, categorical and free-text ones.

    With ``explicit`` columns, each must exist and not be a target; empty ones are left
    out. Otherwise the columns :func:`mtl.data.columns.usable_columns` keeps are used
    (empty, ID-like and, for tables, constant columns are left out with a warning).
    Text columns: those named in ``text`` (``data.text``), or by default (tables without
    ``explicit`` features) those :func:`~mtl.data.columns.usable_columns` finds to be free text.
    Refused with a :class:`DataError`: no column left, or only constant ones
    (a model would learn nothing from them), or a numeric column with an infinite or huge value.
    """
    image = dataset.image_shape is not None
    text_columns = _text_columns(frame, targets, dataset, explicit, text)
    if explicit is not None:
        _check_inputs(frame, targets, explicit, "data.features", "features")
        kept = [c for c in explicit if frame[c].notna().any()]
        dropped: dict[Any, Reason] = {c: "empty" for c in explicit if c not in kept}
    else:
        found, dropped = usable_columns(
            frame, targets, exclude=dataset.exclude, keep_constant=image
        )
        # Typed Hashable for any frame; the frames built here (CSV headers, dataset loaders)
        # have string column names.
        kept = cast(list[str], found)
    for column, reason in dropped.items():
        if column in text_columns or (reason == "text" and text is not None):
            continue  # a text input, or free text the config turned off (data.text)
        warnings.append(f"column {column!r} was left out: {REASONS[reason]}")
    if text is not None:
        for column in [c for c, r in dropped.items() if r == "text" and c not in text_columns]:
            warnings.append(
                f"column {column!r} was left out: it is free text not named in data.text"
            )
    kept = [c for c in kept if c not in text_columns]
    if not image and not text_columns and (not kept or all(is_constant(frame[c]) for c in kept)):
        raise DataError(_no_usable_feature(kept, dropped))
    numeric: list[str] = []
    categorical: list[str] = []
    for column in kept:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            problem = check_finite_column(values, f"feature column {column!r}")
            if problem:
                raise DataError(problem)
            numeric.append(column)
        else:
            categorical.append(column)
    return numeric, categorical, text_columns


def _text_columns(
    frame: pd.DataFrame,
    targets: list[str],
    dataset: Dataset,
    features: list[str] | None,
    text: list[str] | None,
) -> list[str]:
    """The free-text input columns: ``data.text`` checked, or those detected (tables only)."""
    if text is not None:
        _check_inputs(frame, targets, text, "data.text", "text inputs")
        return list(dict.fromkeys(text))
    if dataset.image_shape is not None or features is not None:
        return []  # data.features lists every input: free text too only if data.text names it
    _, dropped = usable_columns(frame, targets, exclude=dataset.exclude)
    return [str(c) for c, r in dropped.items() if r == "text"]


def _check_inputs(
    frame: pd.DataFrame, targets: list[str], columns: list[str], field: str, role: str
) -> None:
    """Refuse (:class:`DataError`) input ``columns`` named by config ``field`` that are not
    in ``frame`` or that are task ``targets`` (which cannot also be ``role``)."""
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise DataError(
            f"{field}: column(s) {unknown} not in the data; available: {preview_names(frame.columns)}"
        )
    clash = [c for c in columns if c in targets]
    if clash:
        raise DataError(f"{field}: {clash} are task targets and cannot also be {role}")


def text_settings(data: DataConfig) -> TextSettings:
    """The tokenizer settings of the ``data.text_*`` keys."""
    return TextSettings(
        vocab_size=data.text_vocab_size,
        min_freq=data.text_min_freq,
        max_length=data.text_max_length,
        lowercase=data.text_lowercase,
        ngrams=data.text_ngrams,
        char_ngrams=data.text_char_ngrams,
        buckets=data.text_buckets,
    )


def fit_tokenizers(
    frame: pd.DataFrame,
    columns: list[str],
    train_rows: np.ndarray,
    data: DataConfig,
    warnings: list[str],
    *,
    explicit: bool,
) -> list[Tokenizer]:
    """A tokenizer per text column, fitted on the training rows only.

    A column without words, or with a single distinct word, in the training split is
    refused (:class:`DataError`) when ``data.text`` names it, else left out with a warning.
    """
    settings = text_settings(data)
    fitted: list[Tokenizer] = []
    for column in columns:
        try:
            fitted.append(Tokenizer.fit(column, frame[column].iloc[train_rows], settings))
        except DataError as err:
            if explicit:
                raise DataError(f"data.text: {err}") from None
            warnings.append(f"column {column!r} was left out: {err}")
    return fitted


def _no_usable_feature(kept: list[Any], dropped: dict[Any, Reason]) -> str:
    """The one-line refusal when nothing informative is left to learn from."""
    parts = []
    for reason in ("text", "id", "empty", "constant"):
        names = [c for c, r in dropped.items() if r == reason]
        if names:
            label = {
                "text": "as free text",
                "id": "as IDs",
                "empty": "as empty",
                "constant": "as constant",
            }[reason]
            parts.append(f"column(s) {_quoted(names)} were left out {label}")
    if kept:
        parts.append(f"the remaining column(s) {_quoted(kept)} are constant")
    detail = "; ".join(parts) if parts else "the table has no column besides the targets"
    text = " (free text: in data.text)" if "text" in dropped.values() else ""
    return (
        f"no usable feature: {detail}; name informative columns in data.features{text} "
        "or add some to the data"
    )


def split_rows(
    config: ExperimentConfig, frame: pd.DataFrame, kinds: Mapping[str, str], warnings: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/val/test row numbers, stratified on a classification task when possible."""
    rows = np.arange(len(frame))
    seed = config.train.seed
    strat_task = config.data.stratify or next(
        (n for n, k in kinds.items() if k != "regression"), None
    )
    labels = None
    if config.data.stratify is not None and kinds[config.data.stratify] == "regression":
        warnings.append(
            f"data.stratify: task {strat_task!r} is a regression task; the split is not stratified"
        )
    if strat_task is not None and kinds[strat_task] != "regression":
        column = next(t for t in config.tasks if t.name == strat_task).targets[0]
        labels = (
            frame[column]
            .astype("object")
            .where(frame[column].notna(), "<missing>")
            .astype(str)
            .to_numpy()
        )
    n_test = max(1, round(config.data.test_fraction * len(rows)))
    n_val = round(config.data.val_fraction * len(rows))
    if len(rows) - n_test - n_val < 2:
        raise DataError(
            f"the data has only {len(rows)} rows; too few to split into train, validation and test"
        )
    try:
        rest, test = train_test_split(rows, test_size=n_test, random_state=seed, stratify=labels)
        if n_val == 0:
            return np.sort(rest), np.array([], dtype=int), np.sort(test)
        train, val = train_test_split(
            rest,
            test_size=n_val,
            random_state=seed,
            stratify=None if labels is None else labels[rest],
        )
    except ValueError:
        if labels is None:
            raise
        warnings.append(
            f"a class of task {strat_task!r} is too rare to stratify on; the split is random"
        )
        rest, test = train_test_split(rows, test_size=n_test, random_state=seed)
        if n_val == 0:
            return np.sort(rest), np.array([], dtype=int), np.sort(test)
        train, val = train_test_split(rest, test_size=n_val, random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def build_preprocessor(
    numeric: list[str], categorical: list[str], config: ExperimentConfig, image: bool
) -> ColumnTransformer:
    """Imputation + scaling for numbers, imputation + one-hot for categories (unfitted)."""
    steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy=config.data.impute))]
    if not image and config.data.scale == "standard":
        steps.append(("scale", StandardScaler()))
    elif not image and config.data.scale == "minmax":
        steps.append(("scale", MinMaxScaler()))
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("num", Pipeline(steps), numeric))
    if categorical:
        encode = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
            ]
        )
        transformers.append(("cat", encode, categorical))
    return ColumnTransformer(transformers, verbose_feature_names_out=False)


def _clean_categoricals(features: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categorical columns as object strings with NaN kept (mixed types break the encoder)."""
    features = features.copy()
    for column in categorical:
        values = features[column]
        features[column] = (
            values.astype("object")
            .where(values.notna(), np.nan)
            .map(lambda v: v if isinstance(v, float) and np.isnan(v) else str(v))
        )
    return features


def _task_spec(task: Any, kind: str, train: pd.DataFrame, standardize: bool) -> TaskSpec:
    loss = task.loss
    if kind == "regression":
        values = train[task.targets].to_numpy(dtype=np.float64)  # (N, k)
        present = ~np.isnan(values).any(axis=1)
        if standardize and present.any():
            mean = values[present].mean(axis=0)
            std = values[present].std(axis=0)
            std = np.where(std > 0, std, 1.0)
        else:
            mean, std = np.zeros(values.shape[1]), np.ones(values.shape[1])
        return TaskSpec(
            name=task.name,
            kind="regression",
            targets=task.targets,
            out_dim=len(task.targets),
            loss="mse" if loss == "auto" else loss,
            weight=task.weight,
            start_epoch=task.start_epoch,
            target_mean=mean.tolist(),
            target_std=std.tolist(),
        )
    column = task.targets[0]
    classes = _sorted_classes(train[column].dropna())
    if len(classes) < 2:
        raise DataError(
            f"task {task.name!r}: the training split has only one class of {column!r}; "
            "more rows of the other classes are needed"
        )
    class_weights = None
    if task.class_weights:
        counts = train[column].dropna().astype(str).value_counts()
        total = counts.sum()
        class_weights = [float(total / (len(classes) * counts.get(c, total))) for c in classes]
    return TaskSpec(
        name=task.name,
        kind=kind,  # type: ignore[arg-type]
        targets=[column],
        out_dim=1 if kind == "binary" else len(classes),
        loss=("bce" if kind == "binary" else "ce") if loss == "auto" else loss,
        weight=task.weight,
        start_epoch=task.start_epoch,
        classes=classes,
        class_weights=class_weights,
    )


def _sorted_classes(values: pd.Series) -> list[str]:
    unique = values.unique()
    try:
        ordered = sorted(unique)
    except TypeError:
        ordered = sorted(unique, key=str)
    return [_label(v) for v in ordered]


def _label(value: Any) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def raw_targets(tasks: list[TaskSpec], part: pd.DataFrame) -> dict[str, np.ndarray]:
    """The regression tasks' targets of the rows ``part`` as read: (N, k) float64 each."""
    return {
        spec.name: part[spec.targets].to_numpy(dtype=np.float64)
        for spec in tasks
        if spec.kind == "regression"
    }


def encode_targets(spec: TaskSpec, part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Encoded targets and the label mask of one task for some rows.

    Labels of classes unseen in training are masked out.
    """
    if spec.kind == "regression":
        values = part[spec.targets].to_numpy(dtype=np.float64)  # (N, k)
        mask = ~np.isnan(values).any(axis=1)
        mean = np.asarray(spec.target_mean)
        std = np.asarray(spec.target_std)
        y = np.where(mask[:, None], (values - mean) / std, 0.0).astype(np.float32)
        return y, mask
    column = part[spec.targets[0]]
    index = {c: i for i, c in enumerate(spec.classes or [])}
    ids = np.array(
        [index.get(_label(v), -1) if pd.notna(v) else -1 for v in column], dtype=np.int64
    )
    mask = ids >= 0
    ids = np.where(mask, ids, 0)
    if spec.kind == "binary":
        return ids.astype(np.float32), mask
    return ids, mask


def _quoted(columns: list[Any], limit: int = 6) -> str:
    return preview_names([repr(str(c)) for c in columns], limit)


def preview_names(columns: Any, limit: int = 12) -> str:
    """The first ``limit`` column names, comma-separated, and how many there are in all."""
    names = [str(c) for c in columns]
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")
