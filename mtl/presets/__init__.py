"""One-click presets: complete experiment configs shipped as commented YAML files here."""

from __future__ import annotations

from importlib import resources

from mtl.config import ConfigError, ExperimentConfig


def names() -> list[str]:
    """Preset names (the YAML file names without extension), sorted."""
    files = resources.files(__name__).iterdir()
    return sorted(f.name.removesuffix(".yaml") for f in files if f.name.endswith(".yaml"))


def text(name: str) -> str:
    """The preset's YAML text, comments included."""
    if name not in names():
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(names())}")
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def load(name: str) -> ExperimentConfig:
    """The preset as a validated config."""
    return ExperimentConfig.from_yaml(text(name))


def description(name: str) -> str:
    """The first comment line of the preset file."""
    first = text(name).splitlines()[0]
    return first.lstrip("# ").strip()
