"""The fitted feature preprocessing as plain numbers: saved as JSON, never as a pickle.

:func:`mtl.data.prepare.build_preprocessor` fits a scikit-learn ``ColumnTransformer``
(impute + scale numbers, impute + one-hot categories) on the training split.
:class:`Preprocessing` holds its fitted parameters (fill values, scaler offsets and
factors, known categories) and the text columns' vocabularies (:class:`mtl.data.text.Tokenizer`)
and applies exactly the same arithmetic with numpy, so a run
folder can be read back with ``json.loads``: loading it cannot execute code, unlike
``joblib.load`` of a pickle. Torch-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from mtl.data.text import Tokenizer
from mtl.errors import PreprocessingFormatError  # re-exported from here too

__all__ = ["FORMAT", "PREPROCESSING", "Preprocessing", "PreprocessingFormatError"]

FORMAT = 1
PREPROCESSING = "preprocessing.json"
"""File name of the saved preprocessing, beside the checkpoint."""

Scaling = Literal["standard", "minmax", "none"]


@dataclass(frozen=True)
class Preprocessing:
    """Fitted preprocessing of the feature columns, in the order the model sees them.

    Numbers (``numeric``): a missing value becomes ``fill``; then ``standard`` scaling is
    ``(x - offset) / factor`` and ``minmax`` is ``x * factor + offset`` (scikit-learn's
    ``StandardScaler`` and ``MinMaxScaler``). Categories (``categorical``): a missing value
    becomes ``category_fill``, then one 0/1 column per known category (an unseen category
    gives all zeros). Text (``text``): each column's token ids (a missing text is all
    padding). Output: the numeric columns, the one-hot columns, then the token ids.
    """

    numeric: list[str]
    fill: list[float]
    scaling: Scaling
    offset: list[float]
    factor: list[float]
    categorical: list[str]
    category_fill: list[str]
    categories: list[list[str]]
    text: list[Tokenizer] = field(default_factory=list)

    # ---- from scikit-learn ----------------------------------------------------------

    @classmethod
    def from_fitted(cls, transformer: Any, text: Sequence[Tokenizer] = ()) -> Preprocessing:
        """The parameters of a fitted ``ColumnTransformer`` from ``build_preprocessor``,
        plus the fitted text tokenizers (``PreparedData.text``).

        Columns without any training value are left out, as scikit-learn's imputer does.
        """
        parts = {
            name: (step, list(cols))
            for name, step, cols in transformer.transformers_
            if name in ("num", "cat")
        }
        numeric: list[str] = []
        fill: list[float] = []
        scaling: Scaling = "none"
        offset: list[float] = []
        factor: list[float] = []
        if "num" in parts:
            pipeline, columns = parts["num"]
            stats = np.asarray(pipeline.named_steps["impute"].statistics_, dtype=np.float64)
            kept = [i for i, v in enumerate(stats) if not math.isnan(v)]
            numeric = [str(columns[i]) for i in kept]
            fill = [float(stats[i]) for i in kept]
            scaler = pipeline.named_steps.get("scale")
            if scaler is not None and hasattr(scaler, "mean_"):
                scaling, offset, factor = "standard", _floats(scaler.mean_), _floats(scaler.scale_)
            elif scaler is not None:
                scaling, offset, factor = "minmax", _floats(scaler.min_), _floats(scaler.scale_)
        categorical: list[str] = []
        category_fill: list[str] = []
        categories: list[list[str]] = []
        if "cat" in parts:
            pipeline, columns = parts["cat"]
            stats = pipeline.named_steps["impute"].statistics_
            kept = [i for i, v in enumerate(stats) if not (isinstance(v, float) and math.isnan(v))]
            categorical = [str(columns[i]) for i in kept]
            category_fill = [str(stats[i]) for i in kept]
            categories = [
                [str(c) for c in cats] for cats in pipeline.named_steps["onehot"].categories_
            ]
        return cls(
            numeric,
            fill,
            scaling,
            offset,
            factor,
            categorical,
            category_fill,
            categories,
            list(text),
        )

    # ---- JSON -----------------------------------------------------------------------

    def to_json(self) -> str:
        """JSON text that :meth:`from_json` reads back to an equal object."""
        data = {**self.__dict__, "text": [t.to_dict() for t in self.text]}
        return json.dumps({"format": FORMAT, **data}, indent=1, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Preprocessing:
        """Parse and check saved preprocessing; :class:`PreprocessingFormatError` otherwise."""
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, ValueError) as err:
            raise PreprocessingFormatError(f"not valid JSON ({str(err).splitlines()[0]})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise PreprocessingFormatError(f"not a preprocessing file of format {FORMAT}")
        fields = {k: v for k, v in data.items() if k != "format"}
        fields.setdefault("text", [])  # files saved before text inputs existed
        expected = set(cls.__dataclass_fields__)
        if set(fields) != expected:
            raise PreprocessingFormatError(
                f"expected the keys {sorted(expected)}, found {sorted(fields)}"
            )
        n_num, n_cat = _length(fields, "numeric"), _length(fields, "categorical")
        _check_list(fields, "numeric", str, n_num)
        _check_list(fields, "fill", float, n_num)
        if fields["scaling"] not in ("standard", "minmax", "none"):
            raise PreprocessingFormatError(f"unknown scaling {fields['scaling']!r}")
        n_scale = 0 if fields["scaling"] == "none" else n_num
        _check_list(fields, "offset", float, n_scale)
        _check_list(fields, "factor", float, n_scale)
        _check_list(fields, "categorical", str, n_cat)
        _check_list(fields, "category_fill", str, n_cat)
        _check_list(fields, "categories", list, n_cat)
        for cats in fields["categories"]:
            if not cats or not all(isinstance(c, str) for c in cats):
                raise PreprocessingFormatError(
                    "each categorical column needs a list of category names"
                )
        if not isinstance(fields["text"], list):
            raise PreprocessingFormatError("'text' must be a list")
        try:
            fields["text"] = [Tokenizer.from_dict(t) for t in fields["text"]]
        except (TypeError, ValueError) as err:
            raise PreprocessingFormatError(str(err)) from None
        fields["fill"] = [float(v) for v in fields["fill"]]
        fields["offset"] = [float(v) for v in fields["offset"]]
        fields["factor"] = [float(v) for v in fields["factor"]]
        return cls(**fields)

    # ---- applying it ----------------------------------------------------------------

    @property
    def feature_names(self) -> list[str]:
        """Names of the output columns (as scikit-learn's ``get_feature_names_out``)."""
        onehot = [
            f"{col}_{cat}"
            for col, cats in zip(self.categorical, self.categories, strict=True)
            for cat in cats
        ]
        ids = [f"{t.column}:id{i}" for t in self.text for i in range(t.width)]
        return [*self.numeric, *onehot, *ids]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The model inputs for ``frame`` (numeric columns as floats, categories and text as
        strings): ``(N, len(feature_names))`` float64."""
        parts: list[np.ndarray] = []
        if self.numeric:
            x = frame[self.numeric].to_numpy(dtype=np.float64)  # (N, numeric)
            x = np.where(np.isnan(x), np.asarray(self.fill), x)
            if self.scaling == "standard":
                x = (x - np.asarray(self.offset)) / np.asarray(self.factor)
            elif self.scaling == "minmax":
                x = x * np.asarray(self.factor) + np.asarray(self.offset)
            parts.append(x)
        for column, fill, cats in zip(
            self.categorical, self.category_fill, self.categories, strict=True
        ):
            values = frame[column].astype("object")
            values = values.where(values.notna(), fill).to_numpy()
            parts.append(
                (values[:, None] == np.asarray(cats, dtype=object)[None, :]).astype(np.float64)
            )
        for tokenizer in self.text:
            parts.append(tokenizer.encode(frame[tokenizer.column]).astype(np.float64))
        if not parts:
            return np.zeros((len(frame), 0))
        return np.concatenate(parts, axis=1)


def _floats(values: Any) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64)]


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a finite number")


def _length(fields: dict[str, Any], key: str) -> int:
    value = fields[key]
    if not isinstance(value, list):
        raise PreprocessingFormatError(f"{key!r} must be a list")
    return len(value)


def _check_list(fields: dict[str, Any], key: str, kind: type, length: int) -> None:
    value = fields[key]
    if not isinstance(value, list) or len(value) != length:
        raise PreprocessingFormatError(f"{key!r} must be a list of {length} item(s)")
    for item in value:
        ok = (
            isinstance(item, int | float) and not isinstance(item, bool)
            if kind is float
            else isinstance(item, kind)
        )
        if not ok:
            raise PreprocessingFormatError(f"{key!r} holds {item!r}, not a {kind.__name__}")
