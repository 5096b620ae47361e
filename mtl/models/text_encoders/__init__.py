"""Text encoders (a registry): one module per encoder, each declaring its spec once.

An encoder file starts with its torch-free spec section (see :mod:`mtl.registry`)::

    SPEC = TextEncoderSpec(
        name="bag",
        implementation="build",
        width_per_dim=1,
        label="EmbeddingBag {embeddings}→{dim} (mean)",
    )

``build(column, dim)`` returns a torch module mapping a text column's token ids
``(B, width)`` (int64, see :mod:`mtl.data.text`) to ``(B, width_per_dim · dim)`` features;
the model's input module (:mod:`mtl.models.inputs`) joins them to the tabular features
before the shared layers. This ``__init__`` stays torch-free so the UI can list the encoders
and size the diagram.
"""

from __future__ import annotations

from dataclasses import dataclass

from mtl.registry import Registry, Spec


@dataclass(frozen=True, kw_only=True)
class TextEncoderSpec(Spec):
    """A text encoder's spec.

    Args:
        name: the registry name (``data.text_encoder``).
        implementation: the ``build(column, dim)`` function in the same file.
        width_per_dim: output features per embedding width (a bidirectional GRU: 2).
        label: the encoder's label in diagrams, a template of ``{embeddings}`` (rows of
            its embedding table) and ``{dim}`` (embedding width); see :func:`encoder_label`.
    """

    width_per_dim: int
    label: str


TEXT_ENCODERS: Registry[TextEncoderSpec] = Registry(
    "text encoder", "mtl.models.text_encoders", spec_type=TextEncoderSpec
)
"""Each module in ``mtl/models/text_encoders/`` is one text encoder."""


def encoded_width(encoder: str, dim: int) -> int:
    """The output width of ``encoder`` (a registry name) with embeddings of width ``dim``."""
    return TEXT_ENCODERS.spec(encoder).width_per_dim * dim


def encoder_label(encoder: str, embeddings: int, dim: int) -> str:
    """The diagram label of ``encoder`` (a registry name), e.g. ``"EmbeddingBag 10002→32 (mean)"``:
    the same text for the torch module and for the plan the dashboard draws without torch."""
    return TEXT_ENCODERS.spec(encoder).label.format(embeddings=embeddings, dim=dim)


__all__ = ["TEXT_ENCODERS", "TextEncoderSpec", "encoded_width", "encoder_label"]
