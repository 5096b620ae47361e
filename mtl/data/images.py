"""Image folders: the labels table, checked image files, lazy decoding and safe zip extraction.

An image folder holds a ``labels.csv`` whose ``file`` column names each image by its path
relative to the folder, plus one column per label. :func:`read_folder` reads that table and
keeps the rows whose file is a readable PNG or JPEG inside the folder (the others are
skipped with one warning per reason). :class:`ImageArray` is a lazy ``(N, C, H, W)`` array:
images are decoded (Pillow), converted to grey or RGB and resized only for the rows asked
for, so a folder larger than memory trains batch by batch. :func:`extract_zip` unpacks an
uploaded zip after checking every entry (no absolute path, no ``..``, no link, a bounded
number of files and of uncompressed bytes, checked again while streaming).

Torch-free: :mod:`mtl.train.batches` turns the decoded batches into tensors.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from mtl.data.datasets.csv import read_rows
from mtl.errors import DataError

__all__ = [
    "FILE_COLUMN",
    "IMAGE_SUFFIXES",
    "LABELS",
    "Augment",
    "ImageArray",
    "decode",
    "extract_zip",
    "find_root",
    "list_images",
    "read_folder",
]

LABELS = "labels.csv"
"""The labels table every image folder holds."""
FILE_COLUMN = "file"
"""The labels column naming each image (a path relative to the folder)."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ZIP_MAX_BYTES = 50 * 2**20
"""Default cap on a zip's total uncompressed size (the app's upload cap, 50 MB)."""
ZIP_MAX_FILES = 50_000
"""Default cap on the number of entries of a zip."""
_CHUNK = 1 << 16

Color = Literal["grey", "rgb"]


# ---- reading a folder --------------------------------------------------------------


def find_root(folder: str | Path) -> Path:
    """The folder holding ``labels.csv``: ``folder`` itself, or its only sub-folder that
    holds one (a zip of a folder unpacks to one). :class:`DataError` otherwise."""
    root = Path(folder)
    if root.suffix.lower() == ".zip" and root.is_file():
        raise DataError(
            f"data.path {str(root)!r} is a zip file; extract it and give the folder "
            "(the Experiment page extracts uploaded zips itself)"
        )
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} not found; check data.path")
    if (root / LABELS).is_file():
        return root
    inner = [
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith((".", "__MACOSX")) and (p / LABELS).is_file()
    ]
    if len(inner) == 1:
        return inner[0]
    raise DataError(
        f"image folder {str(root)!r} has no {LABELS}; add one with a {FILE_COLUMN!r} column "
        "(each image's path inside the folder) and one column per label"
    )


def read_folder(folder: str | Path) -> tuple[pd.DataFrame, Path, list[str]]:
    """The labels table of an image folder, its root, and what was skipped.

    Rows whose file is empty, outside the folder, missing, not an image or unreadable are
    left out, each reason with one warning naming a few files.

    Raises:
        DataError: no folder, no ``labels.csv``, no ``file`` column, or no usable row.
    """
    root = find_root(folder)
    frame = read_rows(root / LABELS, where="data.path")
    if FILE_COLUMN not in frame.columns:
        raise DataError(
            f"{LABELS} in {str(root)!r} has no {FILE_COLUMN!r} column; its columns are "
            f"{', '.join(map(str, list(frame.columns)[:12]))}"
        )
    skipped: dict[str, list[str]] = {}
    keep = np.zeros(len(frame), dtype=bool)
    resolved_root = root.resolve()
    for i, name in enumerate(frame[FILE_COLUMN]):
        problem = _file_problem(resolved_root, name)
        if problem is None:
            keep[i] = True
        else:
            skipped.setdefault(problem, []).append(str(name))
    warnings = [
        f"skipped {len(names)} row(s) of {LABELS} whose file {reason}: {_few(names)}"
        for reason, names in skipped.items()
    ]
    frame = frame[keep].reset_index(drop=True)
    if frame.empty:
        detail = "; ".join(warnings) or "it has no rows"
        raise DataError(f"image folder {str(root)!r} has no usable image: {detail}")
    frame[FILE_COLUMN] = frame[FILE_COLUMN].astype(str)
    return frame, root, warnings


def list_images(folder: str | Path) -> tuple[list[str], list[str]]:
    """Every PNG/JPEG under ``folder`` (relative POSIX paths, sorted) and the warnings
    about files skipped (not images, unreadable). For predictions without a labels table."""
    root = Path(folder).resolve()
    files: list[str] = []
    skipped: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_dir() or relative == LABELS or "__MACOSX" in path.parts:
            continue
        problem = _file_problem(root, relative)
        if problem is None:
            files.append(relative)
        else:
            skipped.setdefault(problem, []).append(relative)
    warnings = [
        f"skipped {len(names)} file(s) that {reason.replace('is ', 'are ')}: {_few(names)}"
        for reason, names in skipped.items()
    ]
    return files, warnings


def _file_problem(root: Path, name: object) -> str | None:
    """Why the labels entry ``name`` is not a usable image inside ``root``, or ``None``."""
    if not isinstance(name, str) or not name.strip():
        return "is empty"
    relative = PurePosixPath(name.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts or ":" in relative.parts[0]:
        return "is outside the folder"
    path = root.joinpath(*relative.parts)
    try:
        inside = path.resolve().is_relative_to(root)
    except OSError:
        inside = False
    if not inside:
        return "is outside the folder"
    if not path.is_file():
        return "is missing"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "is not a PNG or JPEG image"
    try:
        with Image.open(path) as image:
            image.verify()  # headers and (for PNG) checksums, without decoding
    except UnidentifiedImageError:
        return "is not a PNG or JPEG image"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return "is corrupt or unreadable"
    return None


def _few(names: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "")


# ---- decoding ----------------------------------------------------------------------


def decode(path: Path, size: int, color: Color) -> np.ndarray:
    """One image as ``(C, size, size)`` float32 in [0, 1] (C = 1 grey, 3 RGB).

    Raises:
        DataError: the file cannot be decoded (named).
    """
    try:
        with Image.open(path) as file:
            image = file.convert("L" if color == "grey" else "RGB")
            if image.size != (size, size):
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32) / 255.0  # (H, W) or (H, W, 3)
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"image {str(path)!r} cannot be decoded ({err})") from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


@dataclass(frozen=True)
class Augment:
    """Light augmentation of training images, drawn per image.

    Args:
        flip: mirror each image left-right with probability 1/2.
        shift: move each image by up to this many pixels in each direction (zero-filled).
        seed: seeds the random draws (same seed, same batches → same images).
    """

    flip: bool = False
    shift: int = 0
    seed: int = 0

    @property
    def active(self) -> bool:
        """Whether it changes anything."""
        return self.flip or self.shift > 0


class ImageArray:
    """A lazy ``(N, C, H, W)`` float32 array of image files, decoded only when indexed.

    Args:
        root: the image folder.
        files: each row's path relative to ``root`` (checked by :func:`read_folder`).
        size: images are resized to ``size × size``.
        color: ``grey`` (one channel) or ``rgb`` (three).
        augment: applied to every batch taken (the training split only).
    """

    def __init__(
        self,
        root: Path,
        files: Sequence[str],
        size: int,
        color: Color,
        augment: Augment | None = None,
    ) -> None:
        self.root = Path(root)
        self.files = [str(f) for f in files]
        self.size, self.color = size, color
        self.augment = augment if augment is not None and augment.active else None
        self._rng = np.random.default_rng(augment.seed if augment else 0)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(N, C, H, W)``."""
        return (len(self.files), 1 if self.color == "grey" else 3, self.size, self.size)

    @property
    def nbytes(self) -> int:
        """Bytes the decoded array would take if it were held in memory."""
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return len(self.files)

    def take(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """The decoded images of ``rows``, in that order: ``(B, C, H, W)`` float32."""
        batch = np.empty((len(rows), *self.shape[1:]), dtype=np.float32)
        for i, row in enumerate(rows):
            batch[i] = decode(
                self.root.joinpath(*self.files[int(row)].split("/")), self.size, self.color
            )
        if self.augment is not None:
            self._augment(batch)
        return batch

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.take(range(*rows.indices(len(self))))

    def _augment(self, batch: np.ndarray) -> None:
        """Flip and shift each image of ``batch`` in place."""
        if self.augment is None:
            return
        n, shift = len(batch), self.augment.shift
        flips = self._rng.random(n) < 0.5 if self.augment.flip else np.zeros(n, dtype=bool)
        moves = self._rng.integers(-shift, shift + 1, size=(n, 2)) if shift else np.zeros((n, 2))
        for i in range(n):
            image = batch[i, :, :, ::-1] if flips[i] else batch[i]
            dy, dx = int(moves[i, 0]), int(moves[i, 1])
            if dy or dx:
                image = _shifted(image, dy, dx)
            batch[i] = image


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` (C, H, W) moved by ``dy`` rows and ``dx`` columns, zero-filled."""
    out = np.zeros_like(image)
    h, w = image.shape[1:]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        :, max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


# ---- zip files ---------------------------------------------------------------------


def extract_zip(
    source: str | Path | IO[bytes],
    dest: Path,
    max_bytes: int = ZIP_MAX_BYTES,
    max_files: int = ZIP_MAX_FILES,
) -> Path:
    """Unpack a zip of an image folder into ``dest`` (created; must not exist) safely.

    Every entry is checked before anything is written: no absolute path, drive or ``..``,
    no symbolic link, at most ``max_files`` entries and ``max_bytes`` uncompressed bytes
    in all (as the zip declares them). While streaming, an entry that yields more bytes than
    it declared stops the extraction too. On any refusal nothing is left behind.

    Returns:
        ``dest``.

    Raises:
        DataError: not a zip, or one of the refusals above (one line naming the entry).
    """
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"the upload is not a readable zip file ({err})") from None
    with archive:
        members = _checked_members(archive, max_bytes, max_files)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unzip-", dir=dest.parent))
        try:
            written = 0
            for info in members:
                target = staging.joinpath(*PurePosixPath(info.filename).parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                written = _copy_member(archive, info, target, written, max_bytes)
            staging.rename(dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return dest


def _checked_members(
    archive: zipfile.ZipFile, max_bytes: int, max_files: int
) -> list[zipfile.ZipInfo]:
    """The zip's entries, refused with a :class:`DataError` before any extraction."""
    members = archive.infolist()
    if len(members) > max_files:
        raise DataError(
            f"the zip holds {len(members):,} entries; at most {max_files:,} are accepted"
        )
    total = 0
    for info in members:
        name = info.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
            raise DataError(
                f"the zip entry {info.filename!r} points outside the folder; the zip is refused"
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise DataError(
                f"the zip entry {info.filename!r} is a symbolic link; the zip is refused"
            )
        total += info.file_size
        if total > max_bytes:
            raise DataError(
                f"the zip expands to more than {max_bytes / 2**20:.0f} MB "
                f"({info.filename!r} and earlier entries); the zip is refused"
            )
    return members


def _copy_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: int, max_bytes: int
) -> int:
    """Stream one entry to ``target``; the running total, or a refusal past the limits."""
    size = 0
    try:
        with archive.open(info) as src, target.open("wb") as out:
            while chunk := src.read(_CHUNK):
                size += len(chunk)
                written += len(chunk)
                if size > info.file_size or written > max_bytes:
                    raise DataError(
                        f"the zip entry {info.filename!r} expands beyond its declared size; "
                        "the zip is refused"
                    )
                out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as err:
        raise DataError(f"the zip entry {info.filename!r} cannot be read ({err})") from None
    return written
