"""Torch layers built from the layer plan (:mod:`mtl.models.plan`): blocks, encoders, heads, towers.

The plan decides which blocks an encoder and a head have, their shapes and labels; this
module only turns each planned layer into its ``nn.Module``. ``model.branch_depth`` counts
the encoder's blocks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, TypeVar, cast

from torch import Tensor, nn

from mtl.models.plan import BlockPlan, LayerPlan, encoder_plan, head_plan

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

LAYERS: dict[str, type[nn.Module]] = {
    "flatten": nn.Flatten,
    "linear": nn.Linear,
    "batchnorm1d": nn.BatchNorm1d,
    "batchnorm2d": nn.BatchNorm2d,
    "maxpool": nn.MaxPool2d,
    "dropout": nn.Dropout,
}
"""Planned layer kind → module class, called with the layer's ``args``."""


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


def build_layer(layer: LayerPlan) -> nn.Module:
    """The torch module of one planned layer."""
    if layer.kind == "activation":
        return make_activation(*layer.args)
    if layer.kind == "conv3x3":
        in_channels, out_channels = layer.args
        return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
    return LAYERS[layer.kind](*layer.args)


def build_block(plan: BlockPlan) -> Block:
    """A :class:`Block` with fresh layers for ``plan``, in the plan's order."""
    return Block(
        *(build_layer(layer) for layer in plan.layers), out_shape=plan.out_shape, label=plan.label
    )


def encoder_blocks(cfg: ModelConfig, input_shape: tuple[int, ...]) -> list[Block]:
    """Fresh blocks of the full encoder (:func:`mtl.models.plan.encoder_plan`).

    Raises:
        ValueError: for a bad input shape or ``encoder: cnn`` on a table.
    """
    return [build_block(plan) for plan in encoder_plan(cfg, input_shape)]


def head_blocks(cfg: ModelConfig, in_shape: tuple[int, ...], out_dim: int) -> list[Block]:
    """Fresh blocks of a task head of width ``out_dim`` (:func:`mtl.models.plan.head_plan`)."""
    return [build_block(plan) for plan in head_plan(cfg, in_shape, out_dim)]


def output_shape(blocks: list[Block], input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one sample after ``blocks`` (the input shape when there are none)."""
    return blocks[-1].out_shape if blocks else tuple(int(size) for size in input_shape)
