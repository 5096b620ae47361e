"""A folder of PNG/JPEG images plus labels.csv ('file' column + one column per label); upload it zipped.

``data.path`` is the folder; ``labels.csv`` names each image by its path inside the folder
(``file``) and holds one column per label (a missing label masks that task only). Images are
resized and converted to grey or RGB, and decoded batch by batch while training, so a folder
larger than memory trains. Rows naming a missing, corrupt or non-image file are skipped with
a warning.
Reference: Pillow (PIL fork), https://python-pillow.org; reading in :mod:`mtl.data.images`.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from mtl.data.catalog import DataError, Dataset
from mtl.data.images import FILE_COLUMN, read_folder

NAME = "images"


class Options(BaseModel):
    """How the images are decoded and augmented."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    size: int = Field(32, ge=4, le=256, description="Images are resized to size × size pixels.")
    color: Literal["grey", "rgb"] = Field(
        "grey", description="`grey` (one channel) or `rgb` (three channels)."
    )
    flip: bool = Field(
        False, description="Augmentation: mirror training images left-right at random."
    )
    shift: int = Field(
        0, ge=0, le=16, description="Augmentation: shift training images by up to this many pixels."
    )


def channels(options: Options) -> int:
    """Channels of the decoded images."""
    return 1 if options.color == "grey" else 3


def _load(options: Options, path: str | None) -> pd.DataFrame:
    if not path:
        raise DataError(
            "data.path is required when data.dataset is 'images'; give the image folder"
        )
    frame, root, warnings = read_folder(path)
    frame.attrs["image_root"] = str(root)
    frame.attrs["warnings"] = warnings
    return frame


DATASET = Dataset(load=_load, options=Options, exclude=(FILE_COLUMN,), image_folder=True)
