"""Building blocks of every architecture: MLP and CNN blocks, the encoder, task heads, towers.

An encoder is a list of :class:`Block` s: conv blocks (CNN only, one per
``model.channels`` entry) followed by fully connected blocks (one per ``model.hidden``
entry). ``model.branch_depth`` counts these blocks. Each block knows its per-sample
output shape and a short label for diagrams.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from torch import Tensor, nn

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig

M = TypeVar("M", bound=nn.Module)


ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}
"""Activation name (``model.activation``) → module class."""


class Block(nn.Sequential):
    """A few layers applied in order, with the output shape of one sample and a label.

    Args:
        *layers: the layers, in order.
        out_shape: shape of one output sample: ``(width,)`` or ``(C, H, W)``.
        label: short text for diagrams, e.g. ``"Linear 13→64 + ReLU"``.
    """

    def __init__(self, *layers: nn.Module, out_shape: tuple[int, ...], label: str) -> None:
        super().__init__(*layers)
        self.out_shape = out_shape
        self.label = label

    @property
    def out_width(self) -> int:
        """Number of values per sample once flattened."""
        return math.prod(self.out_shape)


class Tower(nn.Module):
    """Task-specific encoder blocks followed by a head.

    Args:
        blocks: encoder blocks, applied first (may be empty).
        head: head blocks from :func:`head_blocks`.
    """

    def __init__(self, blocks: list[Block], head: list[Block]) -> None:
        super().__init__()
        self.encoder = nn.Sequential(*blocks)
        self.head = nn.Sequential(*head)

    @classmethod
    def from_config(
        cls, cfg: ModelConfig, input_shape: tuple[int, ...], out_dim: int, start: int = 0
    ) -> Tower:
        """The encoder's blocks from index ``start`` on, plus a head of width ``out_dim``.

        Args:
            cfg: the model section of the config.
            input_shape: shape of one sample fed to the full encoder.
            out_dim: the head's output width.
            start: number of leading encoder blocks to leave out (a trunk the caller owns).

        Returns:
            A fresh tower whose input is the output of encoder block ``start``.
        """
        blocks = encoder_blocks(cfg, input_shape)
        head = head_blocks(cfg, output_shape(blocks, input_shape), out_dim)
        return cls(blocks[start:], head)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, *in_shape)`` → ``(B, out_dim)``."""
        return self.head(self.encoder(x))

    def labels(self) -> list[str]:
        """Labels of the encoder blocks then the head blocks."""
        return [block.label for block in (*self.encoder, *self.head)]


def modules_as(modules: nn.Module, kind: type[M]) -> Sequence[M]:
    """``modules`` itself (a ``ModuleList`` or ``Sequential``), typed as a sequence of ``kind``.

    Type checkers see the items of a container module as ``Module`` and their attributes as
    ``Tensor | Module``; this names what the container was built from. Nothing is checked
    or copied at run time.
    """
    return cast(Sequence[M], modules)


def make_activation(name: str) -> nn.Module:
    """A fresh activation module for ``model.activation``; ``ValueError`` for an unknown name."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown model.activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[name]()


def mlp_block(in_shape: tuple[int, ...], width: int, cfg: ModelConfig) -> Block:
    """Linear → optional BatchNorm1d → activation → optional Dropout (flattening first if needed).

    Args:
        in_shape: shape of one input sample.
        width: number of output units.
        cfg: supplies ``activation``, ``batch_norm`` and ``dropout``.

    Returns:
        A block with output shape ``(width,)``.
    """
    in_features = math.prod(in_shape)
    layers: list[nn.Module] = [nn.Flatten()] if len(in_shape) > 1 else []
    parts = ["Flatten"] if len(in_shape) > 1 else []
    layers.append(nn.Linear(in_features, width))
    parts.append(f"Linear {in_features}→{width}")
    if cfg.batch_norm:
        layers.append(nn.BatchNorm1d(width))
        parts.append("BatchNorm")
    layers.append(make_activation(cfg.activation))
    parts.append(type(layers[-1]).__name__)
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))
        parts.append(f"Dropout {cfg.dropout:g}")
    return Block(*layers, out_shape=(width,), label=" + ".join(parts))


def conv_block(in_shape: tuple[int, ...], channels: int, cfg: ModelConfig) -> Block:
    """Conv2d 3×3 (padding 1) → optional BatchNorm2d → activation → MaxPool2d(2) → optional Dropout.

    Pooling is skipped when it would make the height or width smaller than 2.

    Args:
        in_shape: ``(C, H, W)`` of one input sample.
        channels: number of output channels.
        cfg: supplies ``activation``, ``batch_norm`` and ``dropout``.

    Returns:
        A block with output shape ``(channels, H', W')``.
    """
    in_channels, height, width = in_shape
    layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, kernel_size=3, padding=1)]
    parts = [f"Conv3×3 {in_channels}→{channels}"]
    if cfg.batch_norm:
        layers.append(nn.BatchNorm2d(channels))
        parts.append("BatchNorm")
    layers.append(make_activation(cfg.activation))
    parts.append(type(layers[-1]).__name__)
    if height // 2 >= 2 and width // 2 >= 2:
        layers.append(nn.MaxPool2d(2))
        parts.append(f"MaxPool {height}×{width}→{height // 2}×{width // 2}")
        height, width = height // 2, width // 2
    if cfg.dropout > 0:
        layers.append(nn.Dropout(cfg.dropout))
        parts.append(f"Dropout {cfg.dropout:g}")
    return Block(*layers, out_shape=(channels, height, width), label=" + ".join(parts))


def encoder_kind(cfg: ModelConfig, input_shape: tuple[int, ...]) -> str:
    """``"cnn"`` or ``"mlp"``: what ``model.encoder`` means for this input.

    Args:
        cfg: supplies ``encoder`` (``auto`` = CNN for images, MLP for tables).
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images.

    Raises:
        ValueError: for an input shape that is neither, or ``cnn`` on a table.
    """
    check_input_shape(input_shape)
    is_image = len(input_shape) == 3
    if cfg.encoder == "cnn" and not is_image:
        raise ValueError(
            f"model.encoder 'cnn' needs image input (C, H, W), but the data has shape {input_shape}; "
            "use 'mlp' or 'auto' for tables"
        )
    if cfg.encoder == "auto":
        return "cnn" if is_image else "mlp"
    return cfg.encoder


def encoder_blocks(cfg: ModelConfig, input_shape: tuple[int, ...]) -> list[Block]:
    """Fresh blocks of the full encoder: conv blocks (CNN only) then fully connected blocks.

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images.

    Returns:
        The blocks in order; the first fully connected block flattens image activations.
    """
    shape = tuple(int(size) for size in input_shape)
    blocks: list[Block] = []
    if encoder_kind(cfg, shape) == "cnn":
        for channels in cfg.channels:
            blocks.append(conv_block(shape, channels, cfg))  # (B, C, H, W)
            shape = blocks[-1].out_shape
    for width in cfg.hidden:
        blocks.append(mlp_block(shape, width, cfg))  # (B, width)
        shape = blocks[-1].out_shape
    return blocks


def head_blocks(cfg: ModelConfig, in_shape: tuple[int, ...], out_dim: int) -> list[Block]:
    """A task head: one block per ``model.head_hidden`` width, then a Linear to ``out_dim``.

    Args:
        cfg: the model section of the config.
        in_shape: shape of one sample entering the head (flattened if needed).
        out_dim: number of outputs (raw logits or values).

    Returns:
        The head's blocks; the last has output shape ``(out_dim,)``.
    """
    blocks = []
    shape = tuple(in_shape)
    for width in cfg.head_hidden:
        blocks.append(mlp_block(shape, width, cfg))
        shape = blocks[-1].out_shape
    in_features = math.prod(shape)
    layers: list[nn.Module] = [nn.Flatten()] if len(shape) > 1 else []
    layers.append(nn.Linear(in_features, out_dim))
    label = ("Flatten + " if len(shape) > 1 else "") + f"Linear {in_features}→{out_dim}"
    blocks.append(Block(*layers, out_shape=(out_dim,), label=label))
    return blocks


def output_shape(blocks: list[Block], input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one sample after ``blocks`` (the input shape when there are none)."""
    return blocks[-1].out_shape if blocks else tuple(int(size) for size in input_shape)


def check_input_shape(input_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``input_shape`` is ``(F,)`` or ``(C, H, W)`` of positive sizes."""
    if len(input_shape) not in (1, 3) or any(size < 1 for size in input_shape):
        raise ValueError(
            f"input_shape must be (features,) or (channels, height, width) of positive integers, "
            f"found {tuple(input_shape)}"
        )
