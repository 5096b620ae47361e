"""``python -m mtl datasets|presets|architectures|weightings|config-docs``: what is registered."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from mtl import presets
from mtl.config_docs import config_reference
from mtl.data import DATASETS
from mtl.data.catalog import describe
from mtl.models import ARCHITECTURES
from mtl.registry import Entry, Registry
from mtl.weighting import WEIGHTINGS
from mtl.weighting.spec import WeightingSpec


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add the listing commands."""
    p = sub.add_parser("datasets", parents=[parents["json"]], help="list the dataset catalog")
    p.set_defaults(handler=cmd_datasets)
    p = sub.add_parser("presets", parents=[parents["json"]], help="list one-click presets")
    p.set_defaults(handler=cmd_presets)
    for name, text in (
        ("architectures", "list sharing architectures"),
        ("weightings", "list loss weightings"),
    ):
        p = sub.add_parser(name, parents=[parents["json"]], help=text)
        p.set_defaults(handler=cmd_registry)
    p = sub.add_parser("config-docs", help="print the config reference (markdown)")
    p.set_defaults(handler=cmd_config_docs)


def cmd_datasets(args: argparse.Namespace) -> int:
    infos = [describe(name) for name in DATASETS.names()]
    if args.json:
        print(json.dumps([info.__dict__ for info in infos], indent=2, default=list))
        return 0
    for info in infos:
        rows = "any" if info.rows is None else f"{info.rows:,}"
        shape = f", images {'×'.join(map(str, info.image_shape))}" if info.image_shape else ""
        print(f"{info.name:<14} {info.description}")
        print(
            f"{'':<14} rows: {rows}; features: {len(info.features)}{shape}; targets: {', '.join(info.targets) or 'you choose'}"
        )
        if info.suggested_tasks:
            tasks = ", ".join(f"{t['name']} ({t['kind']})" for t in info.suggested_tasks)
            print(f"{'':<14} suggested tasks: {tasks}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    items = [{"name": n, "description": presets.description(n)} for n in presets.names()]
    if args.json:
        print(json.dumps(items, indent=2))
    else:
        for item in items:  # the whole description, wrapped under its column
            lines = textwrap.wrap(item["description"], 100 - 23) or [""]
            print(f"{item['name']:<22} {lines[0]}")
            for line in lines[1:]:
                print(f"{'':<22} {line}")
    return 0


def cmd_registry(args: argparse.Namespace) -> int:
    registry: Registry[Any] = ARCHITECTURES if args.command == "architectures" else WEIGHTINGS
    items = [_listed(registry, entry) for entry in registry.entries()]
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    for item in items:
        print(f"{item['name']:<14} {item['description']}\n{'':<14} {item['reference']}")
        details = [f"level: {item['level']}"] if "level" in item else []
        if item["options"]:
            details.append(f"options: {', '.join(item['options'])}")
        if details:
            print(f"{'':<14} {'; '.join(details)}")
    return 0


def _listed(registry: Registry[Any], entry: Entry) -> dict[str, Any]:
    """One entry as the listing shows it: from its file's docstring and spec (no torch)."""
    spec = registry.spec(entry.name)
    item: dict[str, Any] = {
        "name": entry.name,
        "description": entry.description,
        "reference": entry.reference,
        "options": list(spec.options.model_fields),
    }
    if isinstance(spec, WeightingSpec):
        item["level"] = spec.level
    return item


def cmd_config_docs(args: argparse.Namespace) -> int:
    sys.stdout.write(config_reference())
    return 0
