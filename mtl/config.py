"""The experiment config: one typed, validated object that describes a run completely.

The UI builds it, the CLI reads it from YAML or JSON, the run store saves it and a re-run
uses it. The same config with the same seed gives the same numbers.

Five sections plus a name: ``data``, ``tasks``, ``model``, ``loss``, ``train``. Unknown
keys and out-of-range values raise :class:`ConfigError` with a one-line message naming
the key and what is allowed. ``docs/config.md`` is generated from the field
descriptions below (``python -m mtl config-docs``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mtl.data import DATASETS
from mtl.data.catalog import get_dataset
from mtl.errors import ConfigError, format_validation_error  # re-exported: mtl.config.ConfigError
from mtl.models import ARCHITECTURES
from mtl.models.plan import shared_parameters_problem
from mtl.models.text_encoders import TEXT_ENCODERS
from mtl.registry import parse_options as parse_entry_options
from mtl.weighting import WEIGHTINGS
from mtl.weighting.options import level, loss_level_names, parse_options

TaskKind = Literal["binary", "multiclass", "regression"]

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""What a run id may be (the run store's rule): it names the run's folder, so nothing else is read."""


class _Section(BaseModel):
    # allow_inf_nan=False: an infinite or NaN number anywhere in the config is refused by name.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


TASK_NAME_RULE = (
    "1–64 characters: letters, digits, spaces and _ - . ( ) + % #; "
    "not starting with '.' or a space, not ending with a space"
)
"""What a task name may be (it names files such as ``predictions/<task>.csv``)."""


def _one_of(value: str, what: str, names: list[str]) -> str:
    """``value`` when it is one of ``names`` (a registry's entries), else a one-line error."""
    if value not in names:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {', '.join(names)}")
    return value


_TASK_NAME = re.compile(r"[^\W_]|[ _\-.()+%#]")


def task_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid task name (see :data:`TASK_NAME_RULE`), or ``None``."""
    if not 1 <= len(name) <= 64:
        return f"it has {len(name)} characters"
    bad = sorted({c for c in name if not _TASK_NAME.fullmatch(c)})
    if bad:
        return f"it contains {', '.join(repr(c) for c in bad)}"
    if name[0] == ".":
        return "it starts with '.'"
    if name[0] == " " or name[-1] == " ":
        return "it starts or ends with a space"
    return None


def suggest_task_name(column: str) -> str:
    """A valid task name close to ``column`` (other characters become ``_``, cut to 64)."""
    cleaned = "".join(c if _TASK_NAME.fullmatch(c) else "_" for c in str(column))[:64].rstrip(" ")
    cleaned = cleaned.lstrip(". ")
    return cleaned or "task"


class DataConfig(_Section):
    """Where the rows come from and how they are prepared (fitted on the training split only)."""

    dataset: str = Field(
        "penguins",
        description="Dataset name from the catalog (`python -m mtl datasets`), or `csv`.",
    )
    path: str | None = Field(
        None,
        description="CSV or Parquet (`.parquet`, `.pq`) file to read when `dataset` is `csv`; the image folder when it is `images`.",
    )
    features: list[str] | None = Field(
        None,
        description="Feature columns; default: every non-target column except ID-like ones and free text "
        "(which `data.text` covers).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Dataset-specific settings (for `synthetic`: p, n_tasks, samples, …).",
    )
    text: list[str] | None = Field(
        None,
        description="Free-text columns fed to the text encoder; default: those detected as free text "
        "(mostly distinct strings of several words) unless `features` is set; `[]` = none.",
    )
    text_encoder: str = Field(
        "bag",
        description="Text encoder: `bag` (mean of word and n-gram embeddings, fast) or `gru` "
        "(bidirectional GRU over the words).",
    )
    text_embedding: int = Field(
        32, ge=2, le=1024, description="Width of the word embeddings (and of the GRU's state)."
    )
    text_vocab_size: int = Field(
        10_000, ge=2, le=1_000_000, description="At most this many words get their own embedding."
    )
    text_min_freq: int = Field(
        2, ge=1, description="A word needs this many occurrences in the training split."
    )
    text_max_length: int = Field(
        64, ge=1, le=4096, description="Words kept per text (the rest is cut)."
    )
    text_lowercase: bool = Field(
        True, description="Lower-case text before splitting it into words."
    )
    text_ngrams: int = Field(
        1, ge=1, le=3, description="Word n-grams up to this length (hashed); 1 = words only."
    )
    text_char_ngrams: bool = Field(
        False, description="Also hashed character trigrams of each word (helps with typos)."
    )
    text_buckets: int = Field(
        10_000, ge=1, le=1_000_000, description="Hash buckets of the word and character n-grams."
    )
    val_fraction: float = Field(
        0.15, ge=0.0, lt=0.9, description="Share of rows held out for validation."
    )
    test_fraction: float = Field(
        0.15, gt=0.0, lt=0.9, description="Share of rows held out for the final test."
    )
    stratify: str | None = Field(
        None,
        description="Task name to stratify the split on; default: the first classification task.",
    )
    impute: Literal["median", "mean", "most_frequent"] = Field(
        "median",
        description="How missing numeric features are filled (categoricals use the most frequent value).",
    )
    scale: Literal["standard", "minmax", "none"] = Field(
        "standard", description="Numeric feature scaling."
    )
    standardize_targets: bool = Field(
        True,
        description="Standardize regression targets for training; metrics are reported in original units.",
    )
    augment: bool = Field(
        False,
        description="Light augmentation for image datasets: random 1-pixel shifts of whole "
        "batches (`images` also has per-image `flip` and `shift` options).",
    )

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        return _one_of(value, "dataset", DATASETS.names())

    @field_validator("text_encoder")
    @classmethod
    def _known_text_encoder(cls, value: str) -> str:
        return _one_of(value, "text encoder", TEXT_ENCODERS.names())

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        get_dataset(self.dataset).parse_options(self.dataset, self.options)
        if self.val_fraction + self.test_fraction >= 0.9:
            raise ValueError(
                f"data.val_fraction + data.test_fraction = {self.val_fraction + self.test_fraction:g} "
                "leaves too few training rows; keep the sum below 0.9"
            )
        overlap = sorted(set(self.text or ()) & set(self.features or ()))
        if overlap:
            raise ValueError(
                f"data.text and data.features both name {overlap}; a column is either text or a feature"
            )
        if self.dataset == "csv" and not self.path:
            raise ValueError(
                "data.path is required when data.dataset is 'csv'; give the CSV file to read"
            )
        if get_dataset(self.dataset).image_folder and not self.path:
            raise ValueError(
                f"data.path is required when data.dataset is {self.dataset!r}; give the image folder"
            )
        return self


class TaskConfig(_Section):
    """One task: a target column (or several, for a multi-output regression) and how it is learned."""

    name: str = Field(
        ...,
        description=f"Task name shown in charts and tables and used in file names ({TASK_NAME_RULE}).",
    )
    target: str | list[str] = Field(
        ..., description="Target column, or a list of columns for a k-output regression."
    )
    kind: TaskKind | None = Field(
        None,
        description="`binary`, `multiclass` or `regression`; inferred from the column when left out.",
    )
    weight: float = Field(
        1.0, ge=0.0, le=1e6, description="Loss weight used by `loss.weighting: manual`."
    )
    start_epoch: int = Field(
        0, ge=0, description="Epoch at which this task starts contributing to the loss."
    )
    loss: Literal["auto", "ce", "bce", "mse", "huber"] = Field(
        "auto", description="Loss function; `auto` = cross-entropy / BCE / MSE by kind."
    )
    class_weights: bool = Field(
        False,
        description="Weight classes inversely to their training frequency (imbalanced labels).",
    )
    label_fraction: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Share of this task's training labels used (the rest are masked, chosen with "
        "`train.seed`; at least one is kept); validation and test labels are never masked.",
    )

    @property
    def targets(self) -> list[str]:
        """The target columns as a list."""
        return [self.target] if isinstance(self.target, str) else list(self.target)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        problem = task_name_problem(value)
        if problem:
            raise ValueError(f"task name {value!r} is not allowed: {problem}; use {TASK_NAME_RULE}")
        return value

    @field_validator("target")
    @classmethod
    def _nonempty_target(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and not value:
            raise ValueError("needs at least one column")
        return value

    @model_validator(mode="after")
    def _loss_fits_kind(self) -> TaskConfig:
        allowed = {
            "binary": {"auto", "bce"},
            "multiclass": {"auto", "ce"},
            "regression": {"auto", "mse", "huber"},
        }
        if self.kind is not None and self.loss not in allowed[self.kind]:
            raise ValueError(
                f"loss {self.loss!r} does not fit a {self.kind} task; use one of {sorted(allowed[self.kind])}"
            )
        if len(self.targets) > 1 and self.kind not in (None, "regression"):
            raise ValueError("several target columns are only allowed for a regression task")
        return self


class ModelConfig(_Section):
    """Architecture: an encoder (MLP for tables, CNN for images) shared per `sharing` mode."""

    sharing: str = Field(
        "hard", description="Parameter-sharing architecture (`python -m mtl architectures`)."
    )
    encoder: Literal["auto", "mlp", "cnn"] = Field(
        "auto", description="`auto` = CNN for image datasets, MLP otherwise; `mlp` flattens images."
    )
    hidden: list[int] = Field(
        default_factory=lambda: [64, 64],
        description="Widths of the encoder's fully connected layers.",
    )
    channels: list[int] = Field(
        default_factory=lambda: [16, 32],
        description="CNN encoder: channels of each 3×3 conv block.",
    )
    activation: Literal["relu", "gelu", "tanh", "leaky_relu", "elu"] = Field(
        "relu", description="Activation."
    )
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout after each hidden layer.")
    batch_norm: bool = Field(False, description="Batch normalisation in each hidden layer.")
    branch_depth: int | None = Field(
        None,
        ge=0,
        description="`hard`: number of encoder layers shared before the heads branch; "
        "default = all of them (heads on the last shared layer); 0 = no shared layer.",
    )
    head_hidden: list[int] = Field(
        default_factory=list, description="Extra task-specific hidden layers in each head."
    )
    soft_lambda: float = Field(
        1e-3,
        title="Soft-sharing strength λ",
        ge=0.0,
        le=1e4,
        description="`soft`: strength of the L2 penalty between corresponding tower layers.",
    )
    experts: int = Field(4, ge=1, le=64, title="Experts", description="`mmoe`: number of experts.")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="The sharing architecture's own settings, if it declares any (its spec's options).",
    )
    init_from: str | None = Field(
        None,
        description="Transfer learning: start from the weights of this finished run (its id, "
        "`python -m mtl runs`), then fine-tune on this run's tasks.",
    )
    init_layers: Literal["encoder", "all"] = Field(
        "encoder",
        description="With `init_from`: copy the shared encoder only, or all matching layers "
        "(the encoder plus the heads of tasks with the same name).",
    )
    freeze_epochs: int | Literal["all"] = Field(
        0,
        description="With `init_from`: keep the copied layers fixed for this many epochs "
        "(`all` = for good); 0 = train them from the start.",
    )
    init_lr_factor: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="With `init_from`: the copied layers train with the learning rate times this factor.",
    )

    @field_validator("init_from")
    @classmethod
    def _run_id(cls, value: str | None) -> str | None:
        if value is not None and not RUN_ID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a run id (letters, digits, '.', '_' and '-'; "
                "`python -m mtl runs` lists them)"
            )
        return value

    @field_validator("freeze_epochs")
    @classmethod
    def _freeze(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError(f"must be ≥ 0 or 'all', found {value}")
        return value

    @model_validator(mode="after")
    def _transfer_needs_source(self) -> ModelConfig:
        if self.init_from is None:
            changed = [
                name
                for name, default in (
                    ("init_layers", "encoder"),
                    ("freeze_epochs", 0),
                    ("init_lr_factor", 1.0),
                )
                if getattr(self, name) != default
            ]
            if changed:
                raise ValueError(
                    f"model.{changed[0]} applies to transferred layers; set model.init_from too"
                )
        return self

    @field_validator("hidden", "channels", "head_hidden")
    @classmethod
    def _positive_widths(cls, value: list[int]) -> list[int]:
        bad = [w for w in value if w < 1]
        if bad:
            raise ValueError(f"layer widths must be ≥ 1, found {bad}")
        return value

    @field_validator("sharing")
    @classmethod
    def _known_sharing(cls, value: str) -> str:
        return _one_of(value, "sharing", ARCHITECTURES.names())

    @model_validator(mode="after")
    def _known_options(self) -> ModelConfig:
        spec = ARCHITECTURES.spec(self.sharing)
        parse_entry_options(spec.options, "model.options", "sharing", self.sharing, self.options)
        return self


class LossConfig(_Section):
    """How per-task losses are combined into one training loss."""

    weighting: str = Field(
        "manual",
        description="Weighting strategy (`python -m mtl weightings`); `manual` uses `tasks[].weight`.",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="The weighting strategy's own hyperparameters."
    )
    huber_delta: float = Field(
        1.0, gt=0.0, le=1e6, description="Delta of the Huber loss (in standardized units)."
    )

    @field_validator("weighting")
    @classmethod
    def _known_weighting(cls, value: str) -> str:
        return _one_of(value, "weighting", WEIGHTINGS.names())

    @model_validator(mode="after")
    def _known_options(self) -> LossConfig:
        parse_options(self.weighting, self.options)
        return self


class TrainConfig(_Section):
    """The optimisation loop."""

    epochs: int = Field(30, ge=1, le=100_000, description="Maximum number of epochs.")
    batch_size: int = Field(64, ge=1, description="Rows per training step.")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="Peak learning rate.")
    optimizer: Literal["adam", "adamw", "sgd"] = Field("adam", description="Optimizer.")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum.")
    weight_decay: float = Field(
        0.0, ge=0.0, le=10.0, description="L2 regularisation (decoupled for AdamW)."
    )
    l1: float = Field(
        0.0, ge=0.0, le=10.0, description="L1 penalty on all weights, added to the loss."
    )
    grad_clip: float | None = Field(
        None, gt=0.0, le=1e9, description="Clip the global gradient norm to this value."
    )
    schedule: Literal["constant", "step", "cosine", "plateau"] = Field(
        "constant", description="Learning-rate schedule (per epoch)."
    )
    step_size: int = Field(10, ge=1, description="`step`: epochs between LR drops.")
    gamma: float = Field(
        0.5, gt=0.0, le=1.0, description="`step` and `plateau`: LR multiplier at a drop."
    )
    plateau_patience: int = Field(
        5, ge=1, description="`plateau`: epochs without improvement before a drop."
    )
    warmup_epochs: int = Field(0, ge=0, description="Linear LR warm-up over this many epochs.")
    early_stopping: int | None = Field(
        None,
        ge=1,
        description="Stop after this many epochs without a better validation loss; best weights restored.",
    )
    seed: int = Field(0, ge=0, description="Seed for the split, initialisation and batch order.")
    log_every: int = Field(
        10, ge=1, description="Report per-task losses and weights every this many steps."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="`auto` = CUDA when available, else CPU."
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Data-parallel processes training this run (`torch.distributed`: gloo on CPU, "
        "NCCL on GPU), each on its shard of the training rows; `batch_size` stays the global batch "
        "and every weighting gives the update of one process (docs/scale.md).",
    )
    diagnostics_every: int | None = Field(
        None,
        ge=1,
        description="Every this many steps, record each task's gradient norm on the shared parameters "
        "and the pairwise cosine of task gradients (split `diag`); costs about one gradient-level step each time.",
    )
    affinity: bool = Field(
        False,
        description="With `diagnostics_every`: also record the lookahead inter-task affinity "
        "(Fifty et al. 2021), one extra forward pass per task each time.",
    )

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ValueError(
                f"train.warmup_epochs ({self.warmup_epochs}) must be below train.epochs ({self.epochs})"
            )
        if self.affinity and self.diagnostics_every is None:
            raise ValueError(
                "train.affinity is measured with the diagnostics; set train.diagnostics_every too"
            )
        return self


class ExperimentConfig(_Section):
    """A complete, reproducible description of one training run."""

    name: str = Field("experiment", min_length=1, description="Run name.")
    data: DataConfig = Field(default_factory=DataConfig)
    tasks: list[TaskConfig] = Field(
        ..., min_length=1, description="The tasks, one per target (group)."
    )
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        names = [t.name for t in self.tasks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"task names must be unique; repeated: {', '.join(dupes)}")
        if self.loss.weighting == "manual" and all(t.weight == 0 for t in self.tasks):
            raise ValueError(
                "every task weight is 0, so nothing would be learned; give at least one task a weight > 0"
            )
        if self.data.stratify is not None and self.data.stratify not in names:
            raise ValueError(
                f"data.stratify {self.data.stratify!r} is not a task; choose one of: {', '.join(names)}"
            )

        unshared = shared_parameters_problem(self.model)
        if unshared and level(self.loss.weighting) == "gradient":
            raise ValueError(
                f"loss.weighting {self.loss.weighting!r} needs shared parameters; {unshared}; use a loss-level "
                f"weighting ({', '.join(loss_level_names())}) or a model that shares layers"
            )
        if unshared and self.train.diagnostics_every is not None:
            raise ValueError(
                f"train.diagnostics_every measures task gradients on the shared parameters; {unshared}; "
                "leave it unset for this model"
            )
        if self.model.freeze_epochs != 0 and (
            level(self.loss.weighting) == "gradient" or self.train.diagnostics_every is not None
        ):
            raise ValueError(
                "model.freeze_epochs fixes the shared layers that "
                + (
                    f"loss.weighting {self.loss.weighting!r}"
                    if level(self.loss.weighting) == "gradient"
                    else "train.diagnostics_every"
                )
                + " differentiates; use init_lr_factor instead, or a loss-level weighting "
                "without diagnostics"
            )
        late = [t.name for t in self.tasks if t.start_epoch >= self.train.epochs]
        if late:
            raise ValueError(
                f"tasks {', '.join(late)} start at or after train.epochs ({self.train.epochs}) and would never train"
            )
        return self

    # ---- serialisation -------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """YAML text that :meth:`from_yaml` reads back to an equal config."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        """JSON text that :meth:`from_json` reads back to an equal config."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentConfig:
        """Validate a dict; raise :class:`ConfigError` with one readable line on bad input."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"a config must be a mapping of sections, found {type(data).__name__}"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            raise ConfigError(format_validation_error(err, cls)) from None

    @classmethod
    def from_yaml(cls, text: str) -> ExperimentConfig:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"the config is not valid YAML: {str(err).splitlines()[0]}") from None
        return cls.from_dict(data)

    @classmethod
    def from_json(cls, text: str) -> ExperimentConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"the config is not valid JSON: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> ExperimentConfig:
        """Read a ``.yaml``/``.yml`` or ``.json`` file."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} not found")
        text = path.read_text(encoding="utf-8")
        return cls.from_json(text) if path.suffix == ".json" else cls.from_yaml(text)

    def with_overrides(self, overrides: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted keys replaced, e.g. ``{"train.epochs": 5, "tasks.0.weight": 2}``."""
        data = self.to_dict()
        for dotted, value in overrides.items():
            set_dotted(data, dotted, value)
        return ExperimentConfig.from_dict(data)


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``; list items by index or task name."""
    parts = dotted.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part, ".".join(parts[: i + 1]))
            if last:
                node[index] = value
            else:
                node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if part not in node or node[part] is None:
                    node[part] = {}
                node = node[part]
        else:
            raise ConfigError(f"cannot set {dotted!r}: {'.'.join(parts[:i])!r} is not a section")


def _list_index(items: list[Any], part: str, where: str) -> int:
    if part.lstrip("-").isdigit():
        index = int(part)
        if not -len(items) <= index < len(items):
            raise ConfigError(f"{where!r}: index out of range (there are {len(items)} items)")
        return index
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    raise ConfigError(f"{where!r}: no item named {part!r}")
