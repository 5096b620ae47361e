"""Files a user names for output (a report, a CSV export, predictions): checked, then written whole.

Every command that writes a user-named file goes through :func:`check_output_path` before it
does any work, and writes with :func:`write_output`:

- a target inside a run store's home (the database, its ``-wal``/``-shm`` files, the run
  folders, anything under the home; symlinks followed) is refused, so an export can never
  replace the store;
- an existing folder is refused (give a file name);
- a missing parent folder is an error naming it (it is not created);
- an existing file is replaced only when ``force`` is given (``--force`` on the CLI);
- the content goes to a temporary file in the same folder, then :func:`os.replace` puts it in
  place: a reader sees the old file or the new one, never half a file.

Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from mtl.errors import OutputPathError  # re-exported from here too
from mtl.runs.store_db import HOME_ENV_VAR, resolve_home
from mtl.train.files import atomic_write

__all__ = ["OutputPathError", "check_output_path", "protected_homes", "write_output"]


def protected_homes(home: str | Path | None) -> tuple[Path, ...]:
    """The store home in use (``home`` as :func:`resolve_home` reads it) and ``$MTL_HOME``
    when it is set: the folders no output may land in."""
    homes = [resolve_home(home)]
    if os.environ.get(HOME_ENV_VAR):
        homes.append(resolve_home(None))
    return tuple(dict.fromkeys(homes))


def check_output_path(
    path: str | Path,
    homes: Iterable[str | Path] = (),
    *,
    force: bool = False,
    label: str = "--out",
    example: str = "output.csv",
) -> Path:
    """``path`` as an absolute path, if a new file may be written there; else one clear error.

    Args:
        path: the file the user named.
        homes: run store homes (or any folders) the file must not be inside.
        force: an existing file may be replaced.
        label: how the message names the path (the CLI option, e.g. ``--csv``).
        example: a file name the message suggests when ``path`` is a folder.

    Raises:
        OutputPathError: the path is inside one of ``homes``, is a folder or not a regular
            file, its folder is missing or is a file, or it exists and ``force`` is not given.
    """
    shown = f"{label} {str(path)!r}"
    target = Path(path).expanduser().absolute()
    real = target.resolve()  # symlinks followed: a link into the store is inside the store
    for home in homes:
        folder = Path(home).expanduser().absolute()
        for root in dict.fromkeys((folder, folder.resolve())):
            if any(p == root or root in p.parents for p in (target, real)):
                raise OutputPathError(
                    f"{shown} is inside the run store {str(root)!r}; write it somewhere else"
                )
    if real.is_dir():
        raise OutputPathError(
            f"{shown} is a folder; give a file name inside it, e.g. {str(target / example)!r}"
        )
    parent = target.parent
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist; create it first"
        raise OutputPathError(f"{shown}: the folder {str(parent)!r} {what}")
    if target.exists() or target.is_symlink():
        if not real.is_file():
            raise OutputPathError(f"{shown} exists and is not a regular file")
        if not force:
            raise OutputPathError(f"{shown} already exists; pass --force to replace it")
    return target


def write_output(path: Path, write: Callable[[Path], object], *, label: str = "--out") -> Path:
    """Write a checked output file whole: ``write(tmp)`` fills a temporary file beside ``path``,
    which then replaces ``path`` (see :func:`mtl.train.files.atomic_write`).

    Raises:
        OutputPathError: the folder cannot be written (permissions, full disk…); the old
            file, if any, is left as it was.
    """
    try:
        return atomic_write(path, write)
    except OSError as err:
        raise OutputPathError(
            f"cannot write {label} {str(path)!r}: {err.strerror or err}"
        ) from None
