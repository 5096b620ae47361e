"""Run-folder files: paths built only from checked names, writes that never leave half a file.

Torch-free (the dashboard uses it to find a run's files).

- :func:`safe_join` joins a base folder and one user-given name (a task name) and refuses
  anything that would land outside the folder (``..``, an absolute path, a separator).
- :func:`atomic_write` writes a whole file to a temporary file in the same folder, then
  renames it over the target with :func:`os.replace`: a reader sees the old file or the new
  one, never a truncated one; a crash leaves at most a ``.*.tmp`` file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from mtl.errors import UnsafePathError  # re-exported from here too

__all__ = ["UnsafePathError", "atomic_write", "atomic_write_text", "safe_join"]


def safe_join(base: Path, name: str, suffix: str = "") -> Path:
    """``base / (name + suffix)``, refused unless it is a plain file name directly inside ``base``.

    Args:
        base: the folder the file must live in.
        name: one path component from user input (e.g. a task name).
        suffix: appended to ``name`` (e.g. ``".csv"``).

    Raises:
        UnsafePathError: ``name`` is empty, ``.``/``..``, holds a separator or NUL, or the
            joined path resolves outside ``base``.
    """
    file_name = f"{name}{suffix}"
    if (
        not name
        or name in (".", "..")
        or any(sep in file_name for sep in ("/", "\\", "\0"))
        or (os.altsep and os.altsep in file_name)
    ):
        raise UnsafePathError(f"{name!r} cannot name a file (it must be one plain file name)")
    base = Path(base)
    path = base / file_name
    root = base.resolve()
    if path.resolve().parent != root:
        raise UnsafePathError(f"{name!r} would name a file outside {str(base)!r}")
    return path


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Args:
        path: the final file.
        write: writes the complete content to the path it is given (what it returns is unused).

    Returns:
        ``path``. On any error the temporary file is removed and the old ``path`` is left as it was.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs are ordinary readable files
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
