"""Parquet input for data-parallel runs: preprocessing fitted once, each rank reading its own rows.

With a Parquet ``data.path`` and ``train.workers`` > 1, nobody loads the whole table:

1. :func:`plan_shards` (rank 0, once) reads the target columns of every row, which is all
   the split needs, and makes the one-process split from them (:func:`split_rows`: same
   seed, same stratification, so the same train/val/test rows). The task specs (label maps,
   target scaling, ``label_fraction``'s kept labels) are fitted on those training labels,
   exactly as in one process. The input preprocessing (imputation, scaling, one-hot
   categories, text vocabularies) is fitted on the training rows' inputs when the training
   split has at most :data:`FIT_ROWS` rows, else on a seeded sample of :data:`FIT_ROWS` of
   them (a warning says so). The result, a :class:`ShardPlan`, holds no data rows but the
   row numbers: it is what travels to the ranks.
2. :func:`load_shard` (every rank) reads only the rows it needs: its training rows (every
   N-th: rank r has training rows r, r + N, …, as :func:`mtl.train.distributed.shard`) and
   the validation and test rows (every rank evaluates the whole split); the Parquet file is
   read row group by row group, :data:`BATCH_ROWS` rows decoded at a time, the other rows
   dropped at once, so a rank never holds another rank's training rows. It transforms them
   with the plan's fitted preprocessing.

The columns read are the inputs and the targets only. :class:`ShardRead` says what a read
kept and the most rows it decoded at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mtl.data.catalog import DataError, get_dataset
from mtl.data.datasets.csv import PARQUET_SUFFIXES
from mtl.data.prepare import (
    FittedInputs,
    PreparedData,
    encode_targets,
    fit_inputs,
    fit_tasks,
    preview_names,
    split_rows,
)
from mtl.data.tasks import TaskSpec, resolve_kind

if TYPE_CHECKING:  # types only; mtl.config validates against this layer
    import pyarrow.parquet as pq

    from mtl.config import ExperimentConfig

__all__ = [
    "BATCH_ROWS",
    "FIT_ROWS",
    "ShardPlan",
    "ShardRead",
    "load_shard",
    "plan_shards",
    "read_parquet_rows",
    "reads_by_rank",
]

FIT_ROWS = 200_000
"""At most this many training rows' inputs are read to fit the input preprocessing."""
BATCH_ROWS = 65_536
"""Rows decoded at a time while a rank reads its rows."""


def reads_by_rank(config: ExperimentConfig) -> bool:
    """Whether the ranks of ``config``'s run read their own rows (a Parquet table, N > 1)."""
    path = config.data.path
    return (
        config.train.workers > 1
        and config.data.dataset == "csv"
        and path is not None
        and Path(path).suffix.lower() in PARQUET_SUFFIXES
    )


@dataclass(frozen=True)
class ShardRead:
    """What one :func:`read_parquet_rows` kept.

    Attributes:
        rows: the table's row numbers kept (sorted); nothing else stays in memory.
        peak_rows: the most rows decoded at once (a batch, ≤ :data:`BATCH_ROWS`).
        row_groups: how many of the file's row groups were read (those holding a kept row).
    """

    rows: np.ndarray
    peak_rows: int
    row_groups: int


@dataclass
class ShardPlan:
    """The preprocessing fitted once (no data rows), which each rank applies to its own rows.

    Attributes:
        path: the Parquet file.
        rows: ``train``, ``val``, ``test`` → the table's row numbers of the split (sorted,
            the one-process split).
        inputs: the fitted input preprocessing.
        tasks: the fitted task specs.
        kept: ``label_fraction``'s kept labels: task → positions in the training split.
        warnings: what preparing said.
        fit_rows: how many training rows the input preprocessing was fitted on.
    """

    path: str
    rows: dict[str, np.ndarray]
    inputs: FittedInputs
    tasks: list[TaskSpec]
    kept: dict[str, np.ndarray]
    warnings: list[str]
    fit_rows: int

    @property
    def n_train(self) -> int:
        """Rows in the whole training split."""
        return len(self.rows["train"])


def plan_shards(config: ExperimentConfig, fit_rows: int = FIT_ROWS) -> ShardPlan:
    """Split the Parquet table of ``config`` and fit its preprocessing (module docstring).

    Raises:
        DataError: the file cannot be read, a target column is missing, a task has no
            training label, or what :func:`mtl.data.prepare.prepare` refuses.
    """
    path = str(config.data.path)
    dataset = get_dataset(config.data.dataset)
    options = dataset.parse_options(config.data.dataset, config.data.options)
    file = _open(path)
    n_rows = file.metadata.num_rows
    max_rows = getattr(options, "max_rows", None)
    if max_rows is not None:
        n_rows = min(n_rows, int(max_rows))
    if n_rows == 0:
        raise DataError(f"Parquet file {path!r} has columns but no data rows")
    names = list(file.schema_arrow.names)
    targets = list(dict.fromkeys(c for t in config.tasks for c in t.targets))
    missing = [c for c in targets if c not in names]
    if missing:
        raise DataError(
            f"target column(s) {missing} not in the data; available columns: {preview_names(names)}"
        )
    labels, _ = read_parquet_rows(path, np.arange(n_rows), targets)
    warnings: list[str] = []
    kinds = {t.name: resolve_kind(t, labels) for t in config.tasks}
    train, val, test = split_rows(config, labels, kinds, warnings)
    sample = train
    if len(train) > fit_rows:
        rng = np.random.default_rng([config.train.seed, 2])
        sample = np.sort(rng.choice(train, size=fit_rows, replace=False))
        warnings.append(
            f"the input preprocessing was fitted on {fit_rows} of the {len(train)} training "
            "rows (a seeded sample)"
        )
    fitted, _ = read_parquet_rows(path, sample, None)
    inputs = fit_inputs(
        config, fitted.reset_index(drop=True), np.arange(len(sample)), dataset, warnings
    )
    tasks, kept = fit_tasks(config, labels.iloc[train], kinds)
    plan = ShardPlan(
        path=path,
        rows={"train": train, "val": val, "test": test},
        inputs=inputs,
        tasks=tasks,
        kept=kept,
        warnings=warnings,
        fit_rows=len(sample),
    )
    for spec in tasks:  # as prepare(): a task needs a training label
        if not _train_mask(plan, spec, encode_targets(spec, labels.iloc[train])[1]).any():
            raise DataError(f"task {spec.name!r} has no labelled rows in the training split")
    return plan


def load_shard(plan: ShardPlan, rank: int, world: int) -> tuple[PreparedData, ShardRead]:
    """Rank ``rank``'s data: its training rows and the whole validation and test splits,
    read from the file and transformed with the plan's fitted preprocessing."""
    train = plan.rows["train"][rank::world]
    wanted = np.union1d(np.union1d(train, plan.rows["val"]), plan.rows["test"])
    targets = [c for t in plan.tasks for c in t.targets]
    columns = list(dict.fromkeys(plan.inputs.input_columns + targets))
    frame, read = read_parquet_rows(plan.path, wanted, columns)

    inputs = plan.inputs
    data = PreparedData(
        train=inputs.split(frame.loc[train], train, plan.tasks),
        val=inputs.split(frame.loc[plan.rows["val"]], plan.rows["val"], plan.tasks),
        test=inputs.split(frame.loc[plan.rows["test"]], plan.rows["test"], plan.tasks),
        tasks=plan.tasks,
        input_shape=inputs.input_shape,
        input_columns=inputs.input_columns,
        feature_names=inputs.feature_names,
        preprocessor=inputs.preprocessor,
        warnings=list(plan.warnings),
        text=inputs.tokenizers,
    )
    for spec in plan.tasks:
        if spec.name in plan.kept:
            data.train.mask[spec.name] = (
                _train_mask(plan, spec, None)[rank::world] & (data.train.mask[spec.name])
            )
    return data, read


def _train_mask(plan: ShardPlan, spec: TaskSpec, labelled: np.ndarray | None) -> np.ndarray:
    """The whole training split's label mask of ``spec`` (``labelled``, or all True) with
    the labels ``label_fraction`` leaves out masked."""
    mask = np.ones(plan.n_train, dtype=bool) if labelled is None else labelled.copy()
    if spec.name in plan.kept:
        keep = np.zeros(plan.n_train, dtype=bool)
        keep[plan.kept[spec.name]] = True
        mask &= keep
    return mask


def read_parquet_rows(
    path: str | Path, rows: np.ndarray, columns: list[str] | None, batch_rows: int = BATCH_ROWS
) -> tuple[pd.DataFrame, ShardRead]:
    """The rows ``rows`` (the table's row numbers) of a Parquet file, indexed by row number.

    Only the row groups holding one of ``rows`` are read, ``batch_rows`` rows decoded at a
    time, and of each batch only the wanted rows are kept. ``columns``: all when ``None``.
    """
    import pyarrow as pa  # why: pyarrow loads for Parquet input only

    file = _open(str(path))
    wanted = np.unique(np.asarray(rows, dtype=np.int64))
    starts = np.cumsum(
        [0] + [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
    )
    parts: list[pa.RecordBatch] = []
    peak = groups = 0
    for group in range(file.num_row_groups):
        lo, hi = np.searchsorted(wanted, starts[group : group + 2])
        if lo == hi:
            continue  # no wanted row in this group: not read
        groups += 1
        start = int(starts[group])
        for batch in file.iter_batches(batch_size=batch_rows, row_groups=[group], columns=columns):
            stop = start + batch.num_rows
            peak = max(peak, batch.num_rows)
            a, b = np.searchsorted(wanted, [start, stop])
            if b > a:
                parts.append(batch.take(pa.array(wanted[a:b] - start)))
            start = stop
    schema = file.schema_arrow
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    table = pa.Table.from_batches(parts, schema=schema) if parts else schema.empty_table()
    frame = table.to_pandas()
    frame.index = pd.Index(wanted[: len(frame)])
    return frame, ShardRead(rows=wanted[: len(frame)], peak_rows=peak, row_groups=groups)


def _open(path: str) -> pq.ParquetFile:
    """The Parquet file at ``path``; :class:`DataError` when it cannot be read."""
    import pyarrow as pa  # why: pyarrow loads for Parquet input only
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"Parquet file {path!r} cannot be read ({first})") from None
