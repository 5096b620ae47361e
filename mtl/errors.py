"""The user-error types and their one-line form: a leaf module every layer may import.

A *user error* is something the person can fix (a bad config key, a missing column, an
unknown run). Each carries a message that is one line, names the bad value and says what is
allowed; the CLI prints it as ``error: <message>`` and exits :data:`EXIT_USER_ERROR`, the
pages show it as plain text. Everything else is a bug and keeps its traceback.

The types are re-exported from the modules that raise them (``mtl.config.ConfigError``,
``mtl.data.catalog.DataError``, ``mtl.runs.store.StoreError`` …), so either import works.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

__all__ = [
    "EXIT_DIVERGED",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USER_ERROR",
    "USER_ERRORS",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "NoModelError",
    "OutputPathError",
    "PreprocessingFormatError",
    "StoreError",
    "StoreFullError",
    "SweepError",
    "UnsafePathError",
    "UserError",
    "error_line",
    "format_validation_error",
]

# Process exit codes of `python -m mtl …`, the one set every command uses.
EXIT_OK = 0
EXIT_FAILED = 1  # an internal error, or a run that failed
EXIT_USER_ERROR = 2  # the user can fix it; one `error:` line on stderr
EXIT_DIVERGED = 3  # the run's loss became NaN/inf


class UserError(Exception):
    """An error the user can fix, raised by the CLI itself; printed as one line, exit 2."""


class ConfigError(ValueError):
    """A user error in an experiment config; the message is one line, ready to show."""


class DataError(ValueError):
    """A user error in the data (missing column, malformed CSV, one-class target…); one line."""


class PreprocessingFormatError(ValueError):
    """The saved preprocessing is not a well-formed file of this format; one line."""


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (truncated, corrupt, another format); one line."""


class NoModelError(ValueError):
    """The run folder holds no usable saved model (the run failed, diverged or has not
    finished, or its files are missing, damaged or from an older, pickled format)."""


class UnsafePathError(ValueError):
    """A user-given name would make a path outside its folder; the message is one line."""


class OutputPathError(ValueError):
    """A file the user asked to write cannot be written there (inside the run store, a folder,
    a missing folder, an existing file without ``--force``); the message is one line."""


class SweepError(ValueError):
    """A user error in a sweep spec or sweep id; the message is ready to show."""


class StoreError(Exception):
    """The run store cannot do what was asked; the message says why and what to do."""


class StoreFullError(StoreError):
    """The disk (or the database's size limit) is full: nothing more can be written."""


# What the CLI reports as a user error (every ValueError above is one; so is a store error).
USER_ERRORS: tuple[type[Exception], ...] = (UserError, ValueError, StoreError)


def error_line(err: BaseException) -> str:
    """The one line the CLI prints for a user error: ``error: <message>``."""
    return f"error: {err}"


def format_validation_error(err: ValidationError, model: type[BaseModel]) -> str:
    """One line per problem (the first few), each naming the dotted key and what is allowed."""
    messages = []
    for problem in err.errors()[:3]:
        loc = ".".join(str(p) for p in problem["loc"])
        kind = problem["type"]
        if kind == "extra_forbidden":
            parent, _, key = loc.rpartition(".")
            allowed = _allowed_keys(model, parent)
            where = f" in {parent}" if parent else ""
            messages.append(f"unknown key {key!r}{where}; allowed keys: {', '.join(allowed)}")
        elif kind == "missing":
            messages.append(f"{loc} is required")
        else:
            msg = problem["msg"].removeprefix("Value error, ")
            value = problem.get("input")
            shown = (
                ""
                if kind == "value_error" or isinstance(value, dict | list)
                else f" (got {value!r})"
            )
            messages.append(
                f"{loc}: {msg}{shown}" if loc and not msg.startswith(loc) else msg + shown
            )
    extra = len(err.errors()) - len(messages)
    text = "; ".join(messages)
    return text + (f"; and {extra} more problem(s)" if extra > 0 else "")


def _allowed_keys(model: type[BaseModel], dotted: str) -> list[str]:
    current: Any = model
    for part in [p for p in dotted.split(".") if p]:
        if part.isdigit():
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        current = next(
            (a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)),
            None,
        )
        if current is None:
            return []
    return list(current.model_fields)
