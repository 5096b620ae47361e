"""Text inputs in front of any sharing architecture.

A prepared row holds the tabular features, then each text column's token ids as floats
(exact: ids stay far below 2**24), laid out by :class:`mtl.data.text.TextLayout`. The
:class:`TextInputs` module splits a batch, runs each column's text encoder and joins the
results to the tabular features; :class:`WithTextInputs` puts it before the architecture,
so every sharing mode (and the trainer, the weighting strategies and the predictions,
which see one float batch and one output per task) works with text unchanged. The text
encoders feed every task, so their parameters count as shared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from mtl.data.text import TextLayout
from mtl.models import ARCHITECTURES
from mtl.models.base import MultiTaskModel
from mtl.models.plan import text_branches, with_text_inputs
from mtl.models.text_encoders import TEXT_ENCODERS
from mtl.models.text_encoders._base import TextEncoder

if TYPE_CHECKING:  # the config is a type here; mtl.config validates against this layer
    from mtl.config import DataConfig, ModelConfig

Build = Callable[[Any, tuple[int, ...], dict[str, int]], MultiTaskModel]


class TextInputs(nn.Module):
    """``(B, tabular + ids)`` → ``(B, tabular + Σ encoder widths)``.

    Args:
        layout: where the tabular features and each text column's ids sit.
        encoder: a :data:`TEXT_ENCODERS` name.
        dim: the encoders' embedding width.
    """

    def __init__(self, layout: TextLayout, encoder: str, dim: int) -> None:
        super().__init__()
        self.layout = layout
        self.branches = text_branches(layout, encoder, dim)
        """Each column's ids and encoder as the diagram draws them."""
        build = TEXT_ENCODERS.get(encoder)
        encoders: list[TextEncoder] = [build(column, dim) for column in layout.columns]
        self.encoders = nn.ModuleList(encoders)
        self.out_width = layout.tabular + sum(e.out_width for e in encoders)

    def forward(self, x: Tensor) -> Tensor:
        parts = [x[:, : self.layout.tabular]]  # (B, tabular)
        for column, encoder in zip(self.layout.columns, self.encoders, strict=True):
            ids = x[:, column.start : column.start + column.width].long()  # (B, width)
            parts.append(encoder(ids))  # (B, out_width)
        return torch.cat(parts, dim=1)


class WithTextInputs(MultiTaskModel):
    """A sharing architecture fed by :class:`TextInputs` (same outputs, penalty and groups).

    Args:
        build: the architecture's build function.
        cfg: the model section of the config.
        input_shape: ``(tabular + ids,)``, one prepared row.
        heads: task name → output width.
        layout, encoder, dim: as in :class:`TextInputs`.
    """

    def __init__(
        self,
        build: Build,
        cfg: ModelConfig,
        input_shape: tuple[int, ...],
        heads: dict[str, int],
        layout: TextLayout,
        encoder: str,
        dim: int,
    ) -> None:
        inputs = TextInputs(layout, encoder, dim)
        inner = build(cfg, (inputs.out_width,), heads)
        super().__init__(inner.kind, input_shape, heads)
        self.inputs = inputs
        self.inner = inner

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        return self.inner(self.inputs(x))  # task → (B, out_dim)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The text encoders' parameters, then the architecture's shared ones."""
        return [*self.inputs.parameters(), *self.inner.shared_parameters()]

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        return self.inner.task_parameters(task)

    def penalty(self) -> Tensor:
        return self.inner.penalty()

    def describe(self) -> dict[str, Any]:
        """The architecture's description with the text branches in front
        (:func:`mtl.models.plan.with_text_inputs`: ``input`` is the prepared row, ``inputs``
        draws each column's ids and encoder, ``text`` one label per encoder)."""
        return with_text_inputs(self.inner.describe(), self.inputs.branches)


def model_builder(sharing: str, data: DataConfig, layout: TextLayout | None) -> Build:
    """The build function of ``sharing``, with text inputs in front when ``layout`` has
    text columns; same signature as an :data:`mtl.models.ARCHITECTURES` entry."""
    build: Build = ARCHITECTURES.get(sharing)
    if layout is None or not layout.columns:
        return build
    encoder, dim = data.text_encoder, data.text_embedding

    def with_text(
        cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]
    ) -> MultiTaskModel:
        return WithTextInputs(build, cfg, input_shape, heads, layout, encoder, dim)

    return with_text
