"""Name → implementation registries whose entries are one file each, listed without torch.

Each registered entry is one module in a sub-package (for example
``mtl/models/architectures/hard.py``). The module starts with its **spec section**: the
docstring, torch-free imports, the options model and anything else the spec needs, ending
with the assignment ``SPEC = ...``::

    \"\"\"One-line description shown in the CLI and the UI.

    Reference: Author et al., "Paper title", Venue Year.
    \"\"\"

    from __future__ import annotations

    from mtl.weighting.spec import WeightingSpec

    SPEC = WeightingSpec(name="pcgrad", implementation="PCGrad", level="gradient")

    # ---- implementation (imports torch; the registry reads only what is above) ----
    import torch
    ...

Listing reads the docstring and ``SPEC``'s ``name=`` with :mod:`ast`. :meth:`Registry.spec`
executes the spec section alone (the statements up to and including ``SPEC = ...``), so the
config, the CLI and the UI get the options model and the rest of the spec without torch;
``tests/test_registry.py`` runs every spec section with torch made unimportable.
:meth:`Registry.get` imports the whole module and returns the attribute the spec names
(``SPEC.implementation``, e.g. the class ``PCGrad``). Adding an entry is one new file.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pkgutil
import sys
import threading
import types
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Generic

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import TypeVar


class Options(BaseModel):
    """Base of every entry's options model: unknown keys are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(Options):
    """An entry without options."""


@dataclass(frozen=True, kw_only=True)
class Spec:
    """What an entry declares about itself, once, in its own file.

    Args:
        name: the registry name (``"pcgrad"``), as users write it in a config.
        implementation: the module attribute :meth:`Registry.get` returns (``"PCGrad"``).
        options: the pydantic model of the entry's own settings (``NoOptions`` when none);
            the UI draws one widget per scalar field from its type, bounds and description.
    """

    name: str
    implementation: str
    options: type[Options] = NoOptions


S = TypeVar("S", bound=Spec, default=Spec)


@dataclass(frozen=True)
class Entry:
    """One registered implementation: its name, a one-line description and a reference."""

    name: str
    description: str
    reference: str
    module: str


@dataclass(frozen=True)
class _Source:
    entry: Entry
    path: Path
    spec_end: int | None  # number of top-level statements up to and including SPEC = ...


class Registry(Generic[S]):
    """Discovers entries in ``package`` (a dotted module path) and resolves them lazily.

    Args:
        kind: what the entries are, used in error messages ("architecture").
        package: dotted path of the sub-package holding one module per entry.
        attribute: for registries without specs (the datasets), the module attribute
            :meth:`get` returns; entries with a ``SPEC`` name their own.
        spec_type: the class every ``SPEC`` must be an instance of.
    """

    def __init__(
        self,
        kind: str,
        package: str,
        attribute: str = "",
        spec_type: type[S] | None = None,
    ) -> None:
        self.kind = kind
        self.package = package
        self.attribute = attribute
        self.spec_type = spec_type
        self._specs: dict[str, S] = {}
        self._lock = threading.Lock()

    @cached_property
    def _sources(self) -> dict[str, _Source]:
        found = importlib.util.find_spec(self.package)
        if found is None or not found.submodule_search_locations:
            raise RuntimeError(f"registry package {self.package!r} not found")
        sources: dict[str, _Source] = {}
        for info in pkgutil.iter_modules(found.submodule_search_locations):
            if info.name.startswith("_"):
                continue
            path = Path(info.module_finder.path) / f"{info.name}.py"  # type: ignore[union-attr]
            source = _read_source(path, f"{self.package}.{info.name}")
            if source.entry.name in sources:
                raise RuntimeError(f"duplicate {self.kind} name {source.entry.name!r} in {path}")
            sources[source.entry.name] = source
        return dict(sorted(sources.items()))

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return list(self._sources)

    def entries(self) -> list[Entry]:
        """All entries, sorted by name."""
        return [source.entry for source in self._sources.values()]

    def entry(self, name: str) -> Entry:
        """The entry called ``name``; ``KeyError`` with the allowed names otherwise."""
        return self._source(name).entry

    def spec(self, name: str) -> S:
        """The ``SPEC`` of entry ``name``, from its spec section alone (no torch).

        Raises:
            KeyError: ``name`` is not registered (naming the registered ones).
            RuntimeError: the file has no ``SPEC``, or it is not a ``spec_type``.
        """
        source = self._source(name)
        with self._lock:
            if name not in self._specs:
                self._specs[name] = self._load_spec(source)
            return self._specs[name]

    def specs(self) -> list[S]:
        """Every entry's spec, sorted by name."""
        return [self.spec(name) for name in self.names()]

    def get(self, name: str) -> Any:
        """Import the entry's module and return what its spec names (or ``attribute``)."""
        source = self._source(name)
        attribute = self.spec(name).implementation if source.spec_end else self.attribute
        module = importlib.import_module(source.entry.module)
        return getattr(module, attribute)

    def _source(self, name: str) -> _Source:
        try:
            return self._sources[name]
        except KeyError:
            allowed = ", ".join(self.names())
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of: {allowed}") from None

    def _load_spec(self, source: _Source) -> S:
        if source.spec_end is None or self.spec_type is None:
            raise RuntimeError(f"{source.path} must end its spec section with SPEC = ...")
        spec = _run_spec_section(source)
        if not isinstance(spec, self.spec_type):
            raise RuntimeError(
                f"{source.path}: SPEC must be an instance of {self.spec_type.__name__}, found {type(spec).__name__}"
            )
        if spec.name != source.entry.name:
            raise RuntimeError(f"{source.path}: SPEC.name changed to {spec.name!r}")
        return spec


def _run_spec_section(source: _Source) -> Any:
    """Execute the file's statements up to ``SPEC = ...`` as a module of its real name.

    When the module is already imported, its own ``SPEC`` is returned (one options class
    per process). Otherwise the section runs in a fresh module object that is in
    ``sys.modules`` only while it runs, so pydantic resolves the options models' postponed
    annotations in it; the real module is never imported here.
    """
    name = source.entry.module
    loaded = sys.modules.get(name)
    if loaded is not None and hasattr(loaded, "SPEC"):
        return loaded.SPEC
    tree = ast.parse(source.path.read_text(encoding="utf-8"), filename=str(source.path))
    section = ast.Module(body=tree.body[: source.spec_end], type_ignores=[])
    module = types.ModuleType(name)
    module.__file__ = str(source.path)
    sys.modules[name] = module
    try:
        exec(compile(section, str(source.path), "exec"), module.__dict__)
    finally:
        if sys.modules.get(name) is module:
            del sys.modules[name]
    return module.SPEC


def _read_source(path: Path, module: str) -> _Source:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    doc = ast.get_docstring(tree) or ""
    name, spec_end = None, None
    for index, node in enumerate(tree.body):
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            continue
        if node.targets[0].id == "NAME":  # an entry without a spec (the datasets)
            name = ast.literal_eval(node.value)
        elif node.targets[0].id == "SPEC" and isinstance(node.value, ast.Call):
            spec_end = index + 1
            name = next(
                (ast.literal_eval(k.value) for k in node.value.keywords if k.arg == "name"), None
            )
            break
    if not isinstance(name, str):
        raise RuntimeError(
            f"{path} must define SPEC = ...(name='...', ...) (or NAME = '...') at module level"
        )
    lines = [line.strip() for line in doc.splitlines()]
    description = lines[0] if lines else ""
    reference = next(
        (ln.removeprefix("Reference:").strip() for ln in lines if ln.startswith("Reference:")), ""
    )
    entry = Entry(name=name, description=description, reference=reference, module=module)
    return _Source(entry=entry, path=path, spec_end=spec_end)


def parse_options(
    model: type[Options], where: str, kind: str, name: str, options: dict[str, Any] | None
) -> Options:
    """Validate an entry's options; ``ValueError`` with one readable line naming the key.

    Args:
        model: the entry's options model (``SPEC.options``).
        where: the config key holding them (``"loss.options"``).
        kind: what the entry is, for the message (``"weighting"``).
        name: the entry's registry name.
        options: the user's options (``None`` = defaults).

    Raises:
        ValueError: e.g. ``loss.options.temperature for weighting 'dwa': must be greater
            than 0 (got -1)``, or the unknown key and the allowed ones.
    """
    try:
        return model.model_validate(dict(options or {}))
    except ValidationError as err:
        allowed = ", ".join(model.model_fields) or "none"
        problems = []
        for problem in err.errors()[:3]:
            key = ".".join(str(p) for p in problem["loc"])
            if problem["type"] == "extra_forbidden":
                if model.model_fields:
                    problems.append(
                        f"unknown key {where}.{key} for {kind} {name!r}; allowed keys: {allowed}"
                    )
                else:
                    problems.append(f"{kind} {name!r} takes no options, found {where}.{key}")
            else:
                message = (
                    problem["msg"]
                    .removeprefix("Value error, ")
                    .replace("Input should be", "must be")
                )
                problems.append(
                    f"{where}.{key} for {kind} {name!r}: {message} (got {problem.get('input')!r})"
                )
        raise ValueError("; ".join(problems)) from None
