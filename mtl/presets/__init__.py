"""One-click presets: complete experiment configs as commented YAML files.

Built-in presets ship in this folder. Your own go in ``<home>/presets/*.yaml`` (home =
``$MTL_HOME`` or ``./mtl-runs``) and show up in the CLI and on the dashboard's Home page
beside the built-in ones; a built-in name cannot be overridden.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from mtl.config import ConfigError, ExperimentConfig
from mtl.runs.store import resolve_home


def _builtin() -> dict[str, str]:
    files = resources.files(__name__).iterdir()
    return {f.name.removesuffix(".yaml"): f.name for f in files if f.name.endswith(".yaml")}


def user_folder() -> Path:
    """Where your own presets live: ``<home>/presets/``."""
    return resolve_home() / "presets"


def _user() -> dict[str, Path]:
    folder = user_folder()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml")) if p.stem not in _builtin()}


def builtin_names() -> list[str]:
    """The presets shipped with MTL Lab, sorted."""
    return sorted(_builtin())


def names() -> list[str]:
    """Built-in presets, then your own, each group sorted."""
    return builtin_names() + sorted(_user())


def text(name: str) -> str:
    """The preset's YAML text, comments included."""
    if name in _builtin():
        return resources.files(__name__).joinpath(_builtin()[name]).read_text(encoding="utf-8")
    user = _user()
    if name in user:
        return user[name].read_text(encoding="utf-8")
    raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(names())}")


def load(name: str) -> ExperimentConfig:
    """The preset as a validated config."""
    try:
        return ExperimentConfig.from_yaml(text(name))
    except ConfigError as err:
        raise ConfigError(f"preset {name!r}: {err}") from None


def description(name: str) -> str:
    """The preset file's leading comment block as one paragraph (or its name when it has none).

    Every ``#`` line before the first YAML line counts, so a description that runs over
    several comment lines is read whole, never cut mid-sentence.
    """
    lines = []
    for line in text(name).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(part for part in lines if part) or name
