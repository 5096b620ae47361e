"""Name → implementation registries that can be listed without importing the implementations.

Each registered entry is one module in a sub-package (for example
``mtl/models/architectures/hard.py``). The module declares, at top level::

    \"\"\"One-line description shown in the CLI and the UI.

    Reference: Author et al., "Paper title", Venue Year.
    \"\"\"
    NAME = "hard"

and the object the registry hands out under ``ATTRIBUTE`` (for example ``build``).

Listing reads ``NAME`` and the docstring from the source with :mod:`ast`, so the UI can
list architectures and weighting strategies without importing torch. ``get`` imports
the module only when the implementation is needed. Adding an entry is one new file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One registered implementation: its name, a one-line description and a reference."""

    name: str
    description: str
    reference: str
    module: str


class Registry:
    """Discovers entries in ``package`` (a dotted module path) and resolves them lazily.

    Args:
        kind: what the entries are, used in error messages ("architecture").
        package: dotted path of the sub-package holding one module per entry.
        attribute: the module attribute returned by :meth:`get`.
    """

    def __init__(self, kind: str, package: str, attribute: str) -> None:
        self.kind = kind
        self.package = package
        self.attribute = attribute

    @cached_property
    def _entries(self) -> dict[str, Entry]:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"registry package {self.package!r} not found")
        entries: dict[str, Entry] = {}
        for info in pkgutil.iter_modules(spec.submodule_search_locations):
            if info.name.startswith("_"):
                continue
            path = Path(info.module_finder.path) / f"{info.name}.py"  # type: ignore[union-attr]
            entry = _read_entry(path, f"{self.package}.{info.name}")
            if entry.name in entries:
                raise RuntimeError(f"duplicate {self.kind} name {entry.name!r} in {path}")
            entries[entry.name] = entry
        return dict(sorted(entries.items()))

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return list(self._entries)

    def entries(self) -> list[Entry]:
        """All entries, sorted by name."""
        return list(self._entries.values())

    def entry(self, name: str) -> Entry:
        """The entry called ``name``; ``KeyError`` with the allowed names otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            allowed = ", ".join(self.names())
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of: {allowed}") from None

    def get(self, name: str) -> Any:
        """Import the entry's module and return its ``attribute``."""
        module = importlib.import_module(self.entry(name).module)
        return getattr(module, self.attribute)


def _read_entry(path: Path, module: str) -> Entry:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree) or ""
    name = None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "NAME"
        ):
            name = ast.literal_eval(node.value)
    if not isinstance(name, str):
        raise RuntimeError(f"{path} must define NAME = '...' at module level")
    lines = [line.strip() for line in doc.splitlines()]
    description = lines[0] if lines else ""
    reference = next(
        (ln.removeprefix("Reference:").strip() for ln in lines if ln.startswith("Reference:")), ""
    )
    return Entry(name=name, description=description, reference=reference, module=module)
