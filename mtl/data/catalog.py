"""The dataset catalog: what a dataset module declares, and how the catalog lists them.

Every module in ``mtl/data/datasets/`` defines ``NAME`` and ``DATASET``. A dataset turns
its validated options into one :class:`pandas.DataFrame` (features and targets side by
side); task columns, preparation and splits are handled the same way for all of them.
Nothing is downloaded: data comes from installed packages, a generator or a user file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from mtl.data import DATASETS
from mtl.errors import ConfigError, format_validation_error
from mtl.errors import DataError as DataError  # re-exported: mtl.data.catalog.DataError

if TYPE_CHECKING:  # annotations only: listing and validating datasets does not load pandas
    import pandas as pd


class NoOptions(BaseModel):
    """Options model for datasets without settings."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Dataset:
    """A dataset in the catalog.

    Args:
        load: builds the table from validated options and the data config's ``path``.
        options: pydantic model of the dataset's settings (``data.options``).
        suggested_tasks: task dicts (``name``, ``target``, ``kind``) a preset would use.
        image_shape: ``(C, H, W)`` when the feature columns are the pixels of an image,
            in row-major order; ``None`` for tables.
        exclude: columns that are never features by default: the other label columns
            (a label left out of the tasks must not leak in as a feature) and ids.
        image_folder: the table is an image folder's labels (:mod:`mtl.data.images`): its
            inputs are the image files it names, decoded per batch, not its columns.
    """

    load: Callable[[Any, str | None], pd.DataFrame]
    options: type[BaseModel] = NoOptions
    suggested_tasks: list[dict[str, Any]] = field(default_factory=list)
    image_shape: tuple[int, int, int] | None = None
    exclude: tuple[str, ...] = ()
    image_folder: bool = False

    @property
    def images(self) -> bool:
        """Whether the model's input is an image (pixel columns or an image folder)."""
        return self.image_shape is not None or self.image_folder

    def parse_options(self, name: str, options: dict[str, Any]) -> BaseModel:
        """Validate ``data.options``; :class:`ConfigError` names the bad key."""
        if options and not self.options.model_fields:
            raise ConfigError(
                f"data.options: dataset {name!r} takes no options; remove {', '.join(map(repr, options))}"
            )
        try:
            return self.options.model_validate(options or {})
        except ValidationError as err:
            message = format_validation_error(err, self.options)
            raise ConfigError(f"data.options for dataset {name!r}: {message}") from None

    def frame(self, name: str, options: dict[str, Any], path: str | None = None) -> pd.DataFrame:
        """The dataset's table for these options."""
        return self.load(self.parse_options(name, options), path)


@dataclass(frozen=True)
class DatasetInfo:
    """What the catalog shows about a dataset."""

    name: str
    description: str
    rows: int | None
    features: list[str]
    targets: list[str]
    suggested_tasks: list[dict[str, Any]]
    image_shape: tuple[int, int, int] | None


def get_dataset(name: str) -> Dataset:
    """The registered dataset ``name``; :class:`ConfigError` lists the known names otherwise."""
    try:
        return DATASETS.get(name)
    except KeyError as err:
        raise ConfigError(f"data.dataset: {err.args[0]}") from None


def describe(name: str) -> DatasetInfo:
    """Catalog information for one dataset (loads it with default options; not for the
    datasets read from a user's path: ``csv``, ``images``)."""
    entry = DATASETS.entry(name)
    dataset = get_dataset(name)
    targets = sorted({c for t in dataset.suggested_tasks for c in _as_list(t["target"])})
    rows: int | None = None
    features: list[str] = []
    if name != "csv" and not dataset.image_folder:
        frame = dataset.frame(name, {})
        rows = len(frame)
        features = [c for c in frame.columns if c not in targets and c not in dataset.exclude]
    return DatasetInfo(
        name=name,
        description=entry.description,
        rows=rows,
        features=features,
        targets=targets,
        suggested_tasks=dataset.suggested_tasks,
        image_shape=dataset.image_shape,
    )


def _as_list(target: str | list[str]) -> list[str]:
    return [target] if isinstance(target, str) else list(target)
