"""mtl.errors: one home for the user-error types, their one-line form and the exit codes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from mtl import errors

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("mtl.config", "ConfigError"),
        ("mtl.data.catalog", "DataError"),
        ("mtl.data.preprocessing", "PreprocessingFormatError"),
        ("mtl.train.checkpoint", "CheckpointError"),
        ("mtl.train.files", "UnsafePathError"),
        ("mtl.study.sweeps", "SweepError"),
        ("mtl.predict", "NoModelError"),
        ("mtl.runs.store", "StoreError"),
        ("mtl.runs.store", "StoreFullError"),
        ("mtl.cli", "UserError"),
    ],
)
def test_old_import_paths_name_the_same_type(module: str, name: str) -> None:
    assert getattr(__import__(module, fromlist=[name]), name) is getattr(errors, name)


def test_every_user_error_is_caught_by_the_cli() -> None:
    from mtl.runs.store import IllegalTransitionError, RunNotFoundError

    for kind in (
        errors.ConfigError,
        errors.DataError,
        errors.SweepError,
        errors.StoreFullError,
        RunNotFoundError,
        IllegalTransitionError,
        errors.UserError,
    ):
        assert issubclass(kind, errors.USER_ERRORS), kind
    assert (
        errors.error_line(errors.DataError("column 'x' is missing"))
        == "error: column 'x' is missing"
    )


def test_exit_codes_are_defined_once() -> None:
    assert (errors.EXIT_OK, errors.EXIT_FAILED, errors.EXIT_USER_ERROR, errors.EXIT_DIVERGED) == (
        0,
        1,
        2,
        3,
    )
    elsewhere = []
    for path in (ROOT / "mtl").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "mtl":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                elsewhere += [
                    f"{path.name}:{node.lineno}"
                    for t in node.targets
                    if isinstance(t, ast.Name) and t.id.startswith("EXIT_")
                ]
    assert elsewhere == []


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    depth: int = 1


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inner: _Inner = _Inner()


def test_validation_errors_become_one_line_naming_the_key() -> None:
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate({"inner": {"depht": 2}})
    assert (
        errors.format_validation_error(info.value, _Outer)
        == "unknown key 'depht' in inner; allowed keys: depth"
    )
    with pytest.raises(ValidationError) as info:
        _Outer.model_validate({"inner": {"depth": "deep"}})
    line = errors.format_validation_error(info.value, _Outer)
    assert line.startswith("inner.depth: ") and "'deep'" in line and "\n" not in line
