"""The layer plan: which blocks an encoder and a head have, their shapes and labels (torch-free).

An encoder is a list of blocks: conv blocks (CNN only, one per ``model.channels`` entry)
followed by fully connected blocks (one per ``model.hidden`` entry); ``model.branch_depth``
counts these blocks. A head is one block per ``model.head_hidden`` width, then a Linear to
the task's output width. Each :class:`BlockPlan` lists its layers (:class:`LayerPlan`),
its per-sample input and output shapes and a label for diagrams.

This is the one place these rules live: :mod:`mtl.models.encoders` builds the torch layers
from a plan, and each architecture's ``describe`` (in its spec section) draws the diagram
from the same plan, in a process that never loads torch (the dashboard).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mtl.models import ARCHITECTURES
from mtl.models.text_encoders import encoded_width, encoder_label

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import ModelConfig

ACTIVATION_NAMES: dict[str, str] = {
    "relu": "ReLU",
    "gelu": "GELU",
    "tanh": "Tanh",
    "leaky_relu": "LeakyReLU",
    "elu": "ELU",
}
"""``model.activation`` → the name of its torch module class (shown in labels)."""

CONV_LABEL = "Conv3×3"
"""How a conv block's label starts (after MMoE's ``"4× "``): :func:`is_conv_label`."""

LayerKind = Literal[
    "flatten", "linear", "conv3x3", "batchnorm1d", "batchnorm2d", "activation", "maxpool", "dropout"
]


@dataclass(frozen=True)
class LayerPlan:
    """One layer: what it is, its arguments and its part of the block's label.

    ``args`` by kind: ``linear`` and ``conv3x3`` (in, out); ``batchnorm1d`` and
    ``batchnorm2d`` (features,); ``activation`` (``model.activation``,); ``maxpool``
    (kernel,); ``dropout`` (p,); ``flatten`` ().
    """

    kind: LayerKind
    args: tuple[Any, ...]
    label: str


@dataclass(frozen=True)
class BlockPlan:
    """A few layers applied in order, with the shape of one sample in and out."""

    layers: tuple[LayerPlan, ...]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]

    @property
    def label(self) -> str:
        """Short text for diagrams, e.g. ``"Linear 13→64 + ReLU"``."""
        return " + ".join(layer.label for layer in self.layers)


def activation_layer(name: str) -> LayerPlan:
    """The activation ``model.activation`` names; ``ValueError`` for an unknown name."""
    if name not in ACTIVATION_NAMES:
        raise ValueError(
            f"unknown model.activation {name!r}; choose one of: {', '.join(ACTIVATION_NAMES)}"
        )
    return LayerPlan("activation", (name,), ACTIVATION_NAMES[name])


def mlp_block(in_shape: tuple[int, ...], width: int, cfg: ModelConfig) -> BlockPlan:
    """Linear → optional BatchNorm1d → activation → optional Dropout (flattening first if needed).

    Args:
        in_shape: shape of one input sample.
        width: number of output units.
        cfg: supplies ``activation``, ``batch_norm`` and ``dropout``.
    """
    in_features = math.prod(in_shape)
    layers = [LayerPlan("flatten", (), "Flatten")] if len(in_shape) > 1 else []
    layers.append(LayerPlan("linear", (in_features, width), f"Linear {in_features}→{width}"))
    if cfg.batch_norm:
        layers.append(LayerPlan("batchnorm1d", (width,), "BatchNorm"))
    layers.append(activation_layer(cfg.activation))
    if cfg.dropout > 0:
        layers.append(LayerPlan("dropout", (cfg.dropout,), f"Dropout {cfg.dropout:g}"))
    return BlockPlan(tuple(layers), tuple(in_shape), (width,))


def conv_block(in_shape: tuple[int, ...], channels: int, cfg: ModelConfig) -> BlockPlan:
    """Conv2d 3×3 (padding 1) → optional BatchNorm2d → activation → MaxPool2d(2) → optional Dropout.

    Pooling is skipped when it would make the height or width smaller than 2.

    Args:
        in_shape: ``(C, H, W)`` of one input sample.
        channels: number of output channels.
        cfg: supplies ``activation``, ``batch_norm`` and ``dropout``.
    """
    in_channels, height, width = in_shape
    layers = [
        LayerPlan("conv3x3", (in_channels, channels), f"{CONV_LABEL} {in_channels}→{channels}")
    ]
    if cfg.batch_norm:
        layers.append(LayerPlan("batchnorm2d", (channels,), "BatchNorm"))
    layers.append(activation_layer(cfg.activation))
    if height // 2 >= 2 and width // 2 >= 2:
        pooled = f"MaxPool {height}×{width}→{height // 2}×{width // 2}"
        layers.append(LayerPlan("maxpool", (2,), pooled))
        height, width = height // 2, width // 2
    if cfg.dropout > 0:
        layers.append(LayerPlan("dropout", (cfg.dropout,), f"Dropout {cfg.dropout:g}"))
    return BlockPlan(tuple(layers), tuple(in_shape), (channels, height, width))


def is_conv_label(label: str) -> bool:
    """Whether a block label in a description is a conv block's (the image's conv encoder)."""
    first = label.split(" + ")[0]
    return first.startswith(CONV_LABEL) or first.split("× ", 1)[-1].startswith(CONV_LABEL)


def check_input_shape(input_shape: tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``input_shape`` is ``(F,)`` or ``(C, H, W)`` of positive sizes."""
    if len(input_shape) not in (1, 3) or any(size < 1 for size in input_shape):
        raise ValueError(
            f"input_shape must be (features,) or (channels, height, width) of positive integers, "
            f"found {tuple(input_shape)}"
        )


def check_heads(heads: dict[str, int]) -> None:
    """Raise ``ValueError`` unless ``heads`` maps at least one task name to a width ≥ 1."""
    if not heads:
        raise ValueError("heads is empty; a multi-task model needs at least one task")
    bad = {
        name: width for name, width in heads.items() if not isinstance(width, Integral) or width < 1
    }
    if bad:
        raise ValueError(f"output widths must be integers ≥ 1, found {bad}")


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


def encoder_plan(cfg: ModelConfig, input_shape: tuple[int, ...]) -> list[BlockPlan]:
    """The full encoder's blocks: conv blocks (CNN only) then fully connected blocks.

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images.

    Returns:
        The blocks in order; the first fully connected block flattens image activations.
    """
    shape = tuple(int(size) for size in input_shape)
    blocks: list[BlockPlan] = []
    if encoder_kind(cfg, shape) == "cnn":
        for channels in cfg.channels:
            blocks.append(conv_block(shape, channels, cfg))  # (C, H, W)
            shape = blocks[-1].out_shape
    for width in cfg.hidden:
        blocks.append(mlp_block(shape, width, cfg))  # (width,)
        shape = blocks[-1].out_shape
    return blocks


def encoder_depth(cfg: ModelConfig, input_shape: tuple[int, ...]) -> int:
    """Number of encoder blocks: the largest ``model.branch_depth`` for this input."""
    return len(encoder_plan(cfg, input_shape))


def head_plan(cfg: ModelConfig, in_shape: tuple[int, ...], out_dim: int) -> list[BlockPlan]:
    """A task head: one block per ``model.head_hidden`` width, then a Linear to ``out_dim``.

    Args:
        cfg: the model section of the config.
        in_shape: shape of one sample entering the head (flattened if needed).
        out_dim: number of outputs (raw logits or values).
    """
    blocks = []
    shape = tuple(in_shape)
    for width in cfg.head_hidden:
        blocks.append(mlp_block(shape, width, cfg))
        shape = blocks[-1].out_shape
    in_features = math.prod(shape)
    layers = [LayerPlan("flatten", (), "Flatten")] if len(shape) > 1 else []
    layers.append(LayerPlan("linear", (in_features, out_dim), f"Linear {in_features}→{out_dim}"))
    blocks.append(BlockPlan(tuple(layers), shape, (out_dim,)))
    return blocks


def output_shape(blocks: list[BlockPlan], input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one sample after ``blocks`` (the input shape when there are none)."""
    return blocks[-1].out_shape if blocks else tuple(int(size) for size in input_shape)


@dataclass(frozen=True)
class TowerPlan:
    """Task-specific encoder blocks (the encoder from block ``start`` on) and a head."""

    encoder: list[BlockPlan]
    head: list[BlockPlan]

    @property
    def labels(self) -> list[str]:
        """Labels of the encoder blocks then the head blocks."""
        return [block.label for block in (*self.encoder, *self.head)]


def tower_plan(
    cfg: ModelConfig, input_shape: tuple[int, ...], out_dim: int, start: int = 0
) -> TowerPlan:
    """The encoder's blocks from index ``start`` on, plus a head of width ``out_dim``."""
    blocks = encoder_plan(cfg, input_shape)
    return TowerPlan(blocks[start:], head_plan(cfg, output_shape(blocks, input_shape), out_dim))


def tower_labels(
    cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int], start: int = 0
) -> dict[str, list[str]]:
    """Task name → the labels of its :func:`tower_plan` (one tower per task in ``heads``)."""
    return {task: tower_plan(cfg, input_shape, w, start).labels for task, w in heads.items()}


def description(
    kind: str,
    input_shape: tuple[int, ...],
    heads: dict[str, int],
    shared: list[str],
    tasks: dict[str, list[str]],
    coupling: str | None = None,
) -> dict[str, Any]:
    """The common ``describe()`` layout drawn by the network diagram.

    Args:
        kind: the architecture's registry name.
        input_shape: shape of one sample.
        heads: task name → output width.
        shared: labels of the layers computed once and used by every task, input first.
        tasks: task name → labels of its own layers, ending with its output layer.
        coupling: how the task paths interact besides ``shared``, if at all.

    Returns:
        ``{"kind", "input", "inputs", "heads", "shared", "tasks", "coupling"}``; ``inputs``
        is :func:`input_plan` of ``input_shape`` (one table or image input).
    """
    return {
        "kind": kind,
        "input": list(input_shape),
        "inputs": input_plan(input_shape),
        "heads": dict(heads),
        "shared": shared,
        "tasks": tasks,
        "coupling": coupling,
    }


class _TextColumnLike(Protocol):
    """What :func:`text_branches` reads of a :class:`mtl.data.text.TextColumn`."""

    @property
    def column(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def num_embeddings(self) -> int: ...


class _TextLayoutLike(Protocol):
    """What :func:`text_branches` reads of a :class:`mtl.data.text.TextLayout`."""

    @property
    def columns(self) -> Sequence[_TextColumnLike]: ...


@dataclass(frozen=True)
class TextBranch:
    """One text column's way into the model: its token ids, then its text encoder, whose
    output joins the tabular features before the architecture's first layer.

    Args:
        column: the text column's name.
        ids: token-id slots per row (words, then hashed n-grams).
        embeddings: rows of the encoder's embedding table (vocabulary, padding and
            unknown ids, n-gram buckets).
        encoder: a ``TEXT_ENCODERS`` name (``data.text_encoder``).
        dim: the embedding width (``data.text_embedding``).
    """

    column: str
    ids: int
    embeddings: int
    encoder: str
    dim: int

    @property
    def width(self) -> int:
        """Features the encoder adds to the joined input."""
        return encoded_width(self.encoder, self.dim)

    @property
    def label(self) -> str:
        """The encoder's label, as its torch module has it."""
        return encoder_label(self.encoder, self.embeddings, self.dim)


def text_branches(layout: _TextLayoutLike, encoder: str, dim: int) -> list[TextBranch]:
    """The :class:`TextBranch` of each text column of a prepared layout, in input order."""
    return [
        TextBranch(c.column, int(c.width), int(c.num_embeddings), encoder, dim)
        for c in layout.columns
    ]


def input_plan(input_shape: Sequence[int], text: Sequence[TextBranch] = ()) -> list[dict[str, Any]]:
    """The model's inputs as the diagram draws them, one node each.

    Args:
        input_shape: the shape the architecture receives: ``(C, H, W)`` for images,
            ``(F,)`` for tables, where ``F`` counts the text encoders' outputs too.
        text: the text branches whose outputs are part of ``F``.

    Returns:
        ``{"kind": "image", "shape": [C, H, W]}``, or ``{"kind": "table", "features": n}``
        (left out when only text feeds the model) followed by one ``{"kind": "text",
        "column", "ids", "encoder", "name", "embeddings", "width"}`` per text branch
        (``encoder`` its label, ``name`` its registry name).
    """
    shape = [int(size) for size in input_shape]
    if len(shape) == 3:
        return [{"kind": "image", "shape": shape}]
    tabular = shape[0] - sum(branch.width for branch in text)
    if tabular < 0:
        raise ValueError(
            f"input_shape {tuple(shape)} is narrower than its text encoders' outputs "
            f"({sum(branch.width for branch in text)})"
        )
    nodes: list[dict[str, Any]] = (
        [{"kind": "table", "features": tabular}] if tabular or not text else []
    )
    nodes += [
        {
            "kind": "text",
            "column": branch.column,
            "ids": branch.ids,
            "encoder": branch.label,
            "name": branch.encoder,
            "embeddings": branch.embeddings,
            "width": branch.width,
        }
        for branch in text
    ]
    return nodes


def with_text_inputs(description: dict[str, Any], text: Sequence[TextBranch]) -> dict[str, Any]:
    """An architecture's description (on the joined features) made the description of the
    model with text inputs in front: ``input`` becomes the prepared row (tabular features,
    then every column's token ids), ``inputs`` gains the text branches, ``text`` one
    ``"column: encoder"`` label each. What ``WithTextInputs.describe()`` returns."""
    joined = int(description["input"][0])
    inputs = input_plan((joined,), text)
    tabular = joined - sum(branch.width for branch in text)
    return {
        **description,
        "input": [tabular + sum(branch.ids for branch in text)],
        "inputs": inputs,
        "text": [f"{branch.column}: {branch.label}" for branch in text],
    }


def describe_config(
    cfg: ModelConfig,
    input_shape: tuple[int, ...],
    heads: dict[str, int],
    text: Sequence[TextBranch] = (),
) -> dict[str, Any]:
    """What ``ARCHITECTURES.get(cfg.sharing)(cfg, input_shape, heads).describe()`` returns,
    from the architecture's spec, without torch (the dashboard draws the network with it);
    with ``text``, what the model with those text inputs in front describes
    (:func:`with_text_inputs`).

    Args:
        cfg: the model section of the config.
        input_shape: ``(F,)`` for tables, ``(C, H, W)`` for images (the shape the
            architecture receives: the number of features after preprocessing, e.g. one-hot
            columns, plus the text encoders' outputs).
        heads: task name → output width (1 for binary, k for k classes or k targets).
        text: the text branches in front of the architecture (:func:`text_branches`).

    Returns:
        ``{"kind", "input", "heads", "shared", "tasks", "coupling"}`` (plus what the
        architecture adds, e.g. ``"branch_depth"`` for ``hard``).

    Raises:
        KeyError: ``cfg.sharing`` is not a registered architecture (as the registry).
        ValueError: the model's own messages: no heads or a width below 1, a bad input
            shape, ``encoder: cnn`` on a table, ``branch_depth`` too large.
    """
    spec = ARCHITECTURES.spec(cfg.sharing)
    check_heads(heads)
    shape = tuple(int(size) for size in input_shape)
    result = spec.describe(cfg, shape, {name: int(width) for name, width in heads.items()})
    return with_text_inputs(result, text) if text else result


def shared_parameters_problem(cfg: ModelConfig) -> str | None:
    """Why ``cfg`` builds a model without shared parameters, or ``None`` when it has some.

    Decided from the config alone (no input shape): the architecture's own reason
    (``ArchitectureSpec.unshared``: ``independent`` shares nothing, nor does ``hard`` with
    ``branch_depth: 0``), or an encoder without any layer.
    """
    reason = ARCHITECTURES.spec(cfg.sharing).unshared(cfg)
    if reason is None and not cfg.hidden and (cfg.encoder == "mlp" or not cfg.channels):
        reason = f"model.sharing {cfg.sharing!r} with an encoder without layers (model.hidden: []) shares none"
    return reason
