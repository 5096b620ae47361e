"""The ``describe()`` of a model computed from its config alone, without torch.

:func:`describe_config` returns the same dict as
``ARCHITECTURES.get(cfg.sharing)(cfg, input_shape, heads).describe()`` and raises the same
errors for impossible settings (a ``branch_depth`` deeper than the encoder, a CNN on a
table, a bad input shape, no heads), so the dashboard can draw the network and check the
architecture settings while the user edits them, in a process that never loads torch.

It mirrors the block and label rules of :mod:`mtl.models.encoders` and each architecture's
``describe()``; ``tests/ui/test_architecture.py`` compares it with the real models for every
registered architecture, so a change on one side without the other fails the tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES

__all__ = ["DESCRIBERS", "describe_config", "encoder_depth"]

_ACTIVATION_NAMES = {
    "relu": "ReLU",
    "gelu": "GELU",
    "tanh": "Tanh",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
}
"""``model.activation`` → the torch module class name used in labels."""


@dataclass(frozen=True)
class _Block:
    out_shape: tuple[int, ...]
    label: str


# --------------------------------------------------------------------------- encoders.py, without torch


def _activation(name: str) -> str:
    if name not in _ACTIVATION_NAMES:
        raise ValueError(
            f"unknown model.activation {name!r}; choose one of: {', '.join(_ACTIVATION_NAMES)}"
        )
    return _ACTIVATION_NAMES[name]


def _mlp_block(in_shape: tuple[int, ...], width: int, cfg: ModelConfig) -> _Block:
    in_features = math.prod(in_shape)
    parts = ["Flatten"] if len(in_shape) > 1 else []
    parts.append(f"Linear {in_features}→{width}")
    if cfg.batch_norm:
        parts.append("BatchNorm")
    parts.append(_activation(cfg.activation))
    if cfg.dropout > 0:
        parts.append(f"Dropout {cfg.dropout:g}")
    return _Block((width,), " + ".join(parts))


def _conv_block(in_shape: tuple[int, ...], channels: int, cfg: ModelConfig) -> _Block:
    in_channels, height, width = in_shape
    parts = [f"Conv3×3 {in_channels}→{channels}"]
    if cfg.batch_norm:
        parts.append("BatchNorm")
    parts.append(_activation(cfg.activation))
    if height // 2 >= 2 and width // 2 >= 2:
        parts.append(f"MaxPool {height}×{width}→{height // 2}×{width // 2}")
        height, width = height // 2, width // 2
    if cfg.dropout > 0:
        parts.append(f"Dropout {cfg.dropout:g}")
    return _Block((channels, height, width), " + ".join(parts))


def _check_input_shape(input_shape: tuple[int, ...]) -> None:
    if len(input_shape) not in (1, 3) or any(size < 1 for size in input_shape):
        raise ValueError(
            f"input_shape must be (features,) or (channels, height, width) of positive integers, "
            f"found {tuple(input_shape)}"
        )


def _encoder_kind(cfg: ModelConfig, input_shape: tuple[int, ...]) -> str:
    _check_input_shape(input_shape)
    is_image = len(input_shape) == 3
    if cfg.encoder == "cnn" and not is_image:
        raise ValueError(
            f"model.encoder 'cnn' needs image input (C, H, W), but the data has shape {input_shape}; "
            "use 'mlp' or 'auto' for tables"
        )
    if cfg.encoder == "auto":
        return "cnn" if is_image else "mlp"
    return cfg.encoder


def _encoder_blocks(cfg: ModelConfig, input_shape: tuple[int, ...]) -> list[_Block]:
    shape = tuple(int(size) for size in input_shape)
    blocks: list[_Block] = []
    if _encoder_kind(cfg, shape) == "cnn":
        for channels in cfg.channels:
            blocks.append(_conv_block(shape, channels, cfg))
            shape = blocks[-1].out_shape
    for width in cfg.hidden:
        blocks.append(_mlp_block(shape, width, cfg))
        shape = blocks[-1].out_shape
    return blocks


def encoder_depth(cfg: ModelConfig, input_shape: tuple[int, ...]) -> int:
    """Number of encoder blocks (conv blocks, then fully connected ones): the largest
    ``model.branch_depth`` that ``hard`` sharing accepts for this input."""
    return len(_encoder_blocks(cfg, input_shape))


def _head_blocks(cfg: ModelConfig, in_shape: tuple[int, ...], out_dim: int) -> list[_Block]:
    blocks = []
    shape = tuple(in_shape)
    for width in cfg.head_hidden:
        blocks.append(_mlp_block(shape, width, cfg))
        shape = blocks[-1].out_shape
    in_features = math.prod(shape)
    label = ("Flatten + " if len(shape) > 1 else "") + f"Linear {in_features}→{out_dim}"
    blocks.append(_Block((out_dim,), label))
    return blocks


def _output_shape(blocks: list[_Block], input_shape: tuple[int, ...]) -> tuple[int, ...]:
    return blocks[-1].out_shape if blocks else tuple(int(size) for size in input_shape)


def _tower_labels(
    cfg: ModelConfig, input_shape: tuple[int, ...], out_dim: int, start: int = 0
) -> list[str]:
    """Labels of ``Tower.from_config(cfg, input_shape, out_dim, start)``."""
    blocks = _encoder_blocks(cfg, input_shape)
    head = _head_blocks(cfg, _output_shape(blocks, input_shape), out_dim)
    return [block.label for block in (*blocks[start:], *head)]


def _check_heads(heads: dict[str, int]) -> None:
    if not heads:
        raise ValueError("heads is empty; a multi-task model needs at least one task")
    bad = {
        name: width for name, width in heads.items() if not isinstance(width, Integral) or width < 1
    }
    if bad:
        raise ValueError(f"output widths must be integers ≥ 1, found {bad}")


def _description(
    kind: str,
    input_shape: tuple[int, ...],
    heads: dict[str, int],
    shared: list[str],
    tasks: dict[str, list[str]],
    coupling: str | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "input": list(input_shape),
        "heads": dict(heads),
        "shared": shared,
        "tasks": tasks,
        "coupling": coupling,
    }


# --------------------------------------------------------------------------- one per architecture


def _hard(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> dict[str, Any]:
    blocks = _encoder_blocks(cfg, input_shape)
    depth = len(blocks) if cfg.branch_depth is None else cfg.branch_depth
    if depth > len(blocks):
        raise ValueError(
            f"model.branch_depth = {depth} is larger than the encoder, which has {len(blocks)} "
            f"blocks; the maximum is {len(blocks)}"
        )
    towers = {task: _tower_labels(cfg, input_shape, w, start=depth) for task, w in heads.items()}
    description = _description(
        "hard", input_shape, heads, [b.label for b in blocks[:depth]], towers
    )
    description["branch_depth"] = depth
    return description


def _independent(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    towers = {task: _tower_labels(cfg, input_shape, w) for task, w in heads.items()}
    return _description("independent", input_shape, heads, [], towers)


def _soft(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> dict[str, Any]:
    towers = {task: _tower_labels(cfg, input_shape, w) for task, w in heads.items()}
    coupling = f"L2 penalty (λ = {cfg.soft_lambda:g}) between corresponding encoder layers"
    return _description("soft", input_shape, heads, [], towers, coupling)


def _cross_stitch(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    towers = {task: _tower_labels(cfg, input_shape, w) for task, w in heads.items()}
    depth = len(_encoder_blocks(cfg, input_shape))
    size = len(heads)
    shared = [f"Cross-stitch {size}×{size} after block {i + 1}" for i in range(depth)]
    return _description(
        "cross-stitch",
        input_shape,
        heads,
        shared,
        towers,
        "task activations mixed after every encoder block",
    )


def _mmoe(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> dict[str, Any]:
    blocks = _encoder_blocks(cfg, input_shape)
    count = cfg.experts
    expert_width = math.prod(_output_shape(blocks, input_shape))
    input_width = math.prod(input_shape)
    shared = [f"{count}× {block.label}" for block in blocks]
    tasks = {
        task: [
            f"Gate Linear {input_width}→{count} + Softmax",
            *(b.label for b in _head_blocks(cfg, (expert_width,), w)),
        ]
        for task, w in heads.items()
    }
    return _description(
        "mmoe",
        input_shape,
        heads,
        shared,
        tasks,
        f"gate-weighted mixture of {count} experts per task",
    )


DESCRIBERS: dict[str, Callable[[ModelConfig, tuple[int, ...], dict[str, int]], dict[str, Any]]] = {
    "hard": _hard,
    "independent": _independent,
    "soft": _soft,
    "cross-stitch": _cross_stitch,
    "mmoe": _mmoe,
}
"""Registry name → torch-free describe; must cover every entry of ``ARCHITECTURES``."""


def describe_config(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
) -> dict[str, Any]:
    """What ``ARCHITECTURES.get(cfg.sharing)(cfg, input_shape, heads).describe()`` returns.

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images (the shape the model
            receives: the number of features after preprocessing, e.g. one-hot columns).
        heads: task name → output width (1 for binary, k for k classes or k targets).

    Returns:
        ``{"kind", "input", "heads", "shared", "tasks", "coupling"}`` (plus
        ``"branch_depth"`` for ``hard``), as :meth:`MultiTaskModel.describe`.

    Raises:
        KeyError: ``cfg.sharing`` is not a registered architecture (as the registry).
        ValueError: the same messages the model would raise: no heads or a width below 1,
            a bad input shape, ``encoder: cnn`` on a table, ``branch_depth`` too large.
        NotImplementedError: an architecture registered without a describer here.
    """
    ARCHITECTURES.entry(cfg.sharing)  # KeyError naming the known ones, like ARCHITECTURES.get
    if cfg.sharing not in DESCRIBERS:
        raise NotImplementedError(
            f"no torch-free description for architecture {cfg.sharing!r}; add one to mtl/ui/architecture.py"
        )
    _check_heads(heads)
    shape = tuple(int(size) for size in input_shape)
    clean_heads = {name: int(width) for name, width in heads.items()}
    return DESCRIBERS[cfg.sharing](cfg, shape, clean_heads)
