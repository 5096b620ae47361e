"""The registries list their entries without importing torch, and resolve them lazily."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import python_output
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
    printed = python_output(LIST_WITHOUT_TORCH, timeout=60)
    expected = len(ARCHITECTURES.names()) + len(WEIGHTINGS.names()) + len(DATASETS.names())
    assert int(printed) == expected


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


SPEC_SECTIONS_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # any import of torch now raises ImportError
from mtl.models import ARCHITECTURES
from mtl.weighting import WEIGHTINGS
specs = ARCHITECTURES.specs() + WEIGHTINGS.specs()
assert all(spec.options.model_fields is not None for spec in specs)
print(len(specs), sorted({spec.implementation for spec in specs} & {"Strategy", "build"}))
"""


def test_every_spec_section_runs_with_torch_unimportable() -> None:
    count, generic = python_output(SPEC_SECTIONS_WITHOUT_TORCH, timeout=60).split(" ", 1)
    assert int(count) == len(ARCHITECTURES.names()) + len(WEIGHTINGS.names())
    assert generic == "[]"  # every entry names its own class


@pytest.mark.parametrize("registry", [ARCHITECTURES, WEIGHTINGS], ids=["architecture", "weighting"])
def test_get_returns_the_class_the_spec_names(registry: Registry) -> None:
    for name in registry.names():
        spec = registry.spec(name)
        made = registry.get(name)
        assert made.__name__ == spec.implementation
        assert made.__module__ == registry.entry(name).module


SPEC_ONLY = '''"""Beta is declared by its spec.

Reference: Someone, "Another paper", 2002.
"""

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class BetaOptions(Options):
    rate: float = Field(0.5, gt=0.0, description="How fast.")


SPEC = WeightingSpec(name="beta-two", implementation="Beta", level="gradient", options=BetaOptions)

raise RuntimeError("the implementation must not run to read the spec")
'''


def spec_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    """A package ``name`` on the import path holding one entry file, ``beta.py``."""
    package = tmp_path / name
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "beta.py").write_text(SPEC_ONLY, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_the_spec_is_read_without_running_the_implementation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.weighting.spec import WeightingSpec

    package = spec_package(tmp_path, monkeypatch, "fake_spec_pkg")
    registry = Registry("thing", package, spec_type=WeightingSpec)
    [entry] = registry.entries()
    assert (entry.name, entry.description) == ("beta-two", "Beta is declared by its spec.")
    spec = registry.spec("beta-two")
    assert (spec.level, spec.implementation) == ("gradient", "Beta")
    assert spec.options.model_validate({"rate": "2"}).rate == 2.0  # type: ignore[attr-defined]
    assert "fake_spec_pkg.beta" not in sys.modules
    with pytest.raises(RuntimeError, match="must not run"):
        registry.get("beta-two")


def test_a_spec_of_the_wrong_kind_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mtl.models.spec import ArchitectureSpec

    package = spec_package(tmp_path, monkeypatch, "fake_kind_pkg")
    registry = Registry("architecture", package, spec_type=ArchitectureSpec)
    with pytest.raises(
        RuntimeError, match="SPEC must be an instance of ArchitectureSpec, found WeightingSpec"
    ):
        registry.spec("beta-two")
