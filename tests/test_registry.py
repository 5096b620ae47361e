"""The registries list their entries without importing torch, and resolve them lazily."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_python
from mtl.data import DATASETS
from mtl.models import ARCHITECTURES
from mtl.registry import Registry
from mtl.weighting import WEIGHTINGS

REGISTRIES = {"architecture": ARCHITECTURES, "weighting": WEIGHTINGS, "dataset": DATASETS}

LIST_WITHOUT_TORCH = """
import sys
from mtl.data import DATASETS
from mtl.models import ARCHITECTURES
from mtl.weighting import WEIGHTINGS
names = ARCHITECTURES.names() + WEIGHTINGS.names() + DATASETS.names()
entries = ARCHITECTURES.entries() + WEIGHTINGS.entries() + DATASETS.entries()
assert all(e.description for e in entries)
assert 'hard' in names and 'manual' in names and 'penguins' in names, names
from mtl.config import ExperimentConfig
ExperimentConfig.from_dict({'data': {'dataset': 'synthetic', 'options': {'p': 0.9}},
                            'tasks': [{'name': 'y1', 'target': 'y1'}], 'model': {'sharing': 'mmoe'}})
assert 'torch' not in sys.modules, 'torch was imported'
print(len(names))
"""


def test_listing_and_validating_configs_does_not_import_torch() -> None:
    result = run_python(LIST_WITHOUT_TORCH, timeout=60)
    assert result.returncode == 0, result.stderr
    expected = len(ARCHITECTURES.names()) + len(WEIGHTINGS.names()) + len(DATASETS.names())
    assert int(result.stdout.strip()) == expected


def test_required_entries_are_registered() -> None:
    assert {"independent", "hard", "soft", "cross-stitch", "mmoe"} <= set(ARCHITECTURES.names())
    assert {"manual", "equal"} <= set(WEIGHTINGS.names())
    assert {"penguins", "digits", "wine", "synthetic", "seed-example", "csv"} <= set(
        DATASETS.names()
    )


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_every_entry_has_description_and_reference(kind: str) -> None:
    registry = REGISTRIES[kind]
    assert registry.names() == sorted(registry.names())
    for entry in registry.entries():
        assert entry.description.strip(), f"{kind} {entry.name} has no description"
        assert entry.reference.strip(), f"{kind} {entry.name} has no reference"
        assert "\n" not in entry.description
        assert entry.module.startswith(registry.package + ".")


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_every_entry_resolves(kind: str) -> None:
    registry = REGISTRIES[kind]
    for name in registry.names():
        assert registry.get(name) is not None


@pytest.mark.parametrize("kind", list(REGISTRIES))
def test_unknown_name_lists_the_known_ones(kind: str) -> None:
    registry = REGISTRIES[kind]
    with pytest.raises(KeyError) as info:
        registry.get("no-such-thing")
    message = info.value.args[0]
    assert message.startswith(f"unknown {registry.kind} 'no-such-thing'; choose one of: ")
    assert message.endswith(", ".join(registry.names()))


def test_entries_are_read_from_source_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "fake_registry_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "alpha.py").write_text(
        '"""Alpha does one thing.\n\nReference: Someone, "A paper", 2001.\n"""\n'
        'NAME = "alpha-one"\nraise RuntimeError("must not be imported to be listed")\n',
        encoding="utf-8",
    )
    (package / "_private.py").write_text('NAME = "hidden"\n', encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("thing", "fake_registry_pkg", "VALUE")
    [entry] = registry.entries()
    assert entry.name == "alpha-one"
    assert entry.description == "Alpha does one thing."
    assert entry.reference == 'Someone, "A paper", 2001.'
