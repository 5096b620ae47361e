"""Image folders for the tests: scikit-learn's digits written out as PNG files + labels.csv."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image


def write_digits_folder(root: Path, limit: int | None = None) -> Path:
    """The digits dataset as ``root/img/NNNN.png`` (8×8 grey, pixel v/16 → round(v·255/16))
    and ``root/labels.csv`` (file, digit, parity, ge5) in the dataset's row order."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    (root / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (pixels, digit) in enumerate(
        zip(bunch.images[:limit], bunch.target[:limit], strict=True)
    ):
        name = f"img/{i:04d}.png"
        Image.fromarray(np.round(pixels * 255 / 16).astype(np.uint8), mode="L").save(root / name)
        rows.append(
            {
                "file": name,
                "digit": int(digit),
                "parity": "even" if digit % 2 == 0 else "odd",
                "ge5": int(digit >= 5),
            }
        )
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def zip_folder(folder: Path, target: Path, inside: str = "") -> Path:
    """Zip every file under ``folder`` into ``target`` (entries under ``inside/`` if given)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                archive.write(path, f"{inside}/{name}" if inside else name)
    return target
