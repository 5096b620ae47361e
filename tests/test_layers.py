"""The layer rules of docs/architecture.md: `lint-imports` keeps them and fails when one breaks."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the ``mtl`` package in ``cwd`` (no cache, so a copy is read afresh)."""
    exe = shutil.which("lint-imports") or pytest.fail(
        "lint-imports is not installed (requirements-dev.txt)"
    )
    return subprocess.run(
        [exe, "--no-cache"],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(cwd)},
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway copy of the package and its contracts, to break on purpose."""
    dest = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "mtl", dest / "mtl", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("mtl/viz/colors.py", "import torch", "mtl.viz.colors is not allowed to import torch"),
        ("mtl/runs/store.py", "import torch", "mtl.runs.store is not allowed to import torch"),
        ("mtl/config.py", "import streamlit", "mtl.config is not allowed to import streamlit"),
        (
            "mtl/data/tasks.py",
            "import mtl.runs.store",
            "mtl.data is not allowed to import mtl.runs",
        ),
    ],
    ids=["torch-in-ui", "torch-in-store", "streamlit-in-config", "data-imports-runs"],
)
def test_a_bad_import_breaks_a_contract(
    copy: Path, module: str, bad_import: str, broken: str
) -> None:
    path = copy / module
    original = path.read_text(encoding="utf-8")
    path.write_text(
        original.replace(
            "from __future__ import annotations\n",
            f"from __future__ import annotations\n\n{bad_import}\n",
            1,
        ),
        encoding="utf-8",
    )
    try:
        result = lint_imports(copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout
