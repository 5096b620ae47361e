"""Text encoders in front of every sharing architecture (mtl.models.inputs)."""

from __future__ import annotations

import pytest
import torch

from mtl.config import DataConfig, ModelConfig
from mtl.data.text import TextLayout, TextSettings, Tokenizer
from mtl.models import ARCHITECTURES
from mtl.models.inputs import WithTextInputs, model_builder
from mtl.models.plan import describe_config, text_branches
from mtl.models.text_encoders import TEXT_ENCODERS

HEADS = {"a": 1, "b": 3}
TEXTS = ["a fine film", "a dull and tedious film", "fine acting", "tedious"]


def layout(tabular: int = 3) -> tuple[TextLayout, Tokenizer]:
    tok = Tokenizer.fit("review", TEXTS, TextSettings(min_freq=1, max_length=5, ngrams=2))
    return TextLayout.of(tabular, [tok]), tok


def rows(tok: Tokenizer, tabular: int = 3) -> torch.Tensor:
    """(4, tabular + width): random tabular features, then the texts' ids as floats."""
    ids = torch.from_numpy(tok.encode(TEXTS)).float()
    return torch.cat([torch.randn(len(TEXTS), tabular), ids], dim=1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def test_registry_lists_bag_and_gru_without_torch_details() -> None:
    assert TEXT_ENCODERS.names() == ["bag", "gru"]
    assert "Joulin" in TEXT_ENCODERS.entry("bag").reference


@pytest.mark.parametrize("encoder", ["bag", "gru"])
@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_every_architecture_trains_on_text(sharing: str, encoder: str) -> None:
    text_layout, tok = layout()
    data = DataConfig(text_encoder=encoder, text_embedding=4)
    cfg = ModelConfig(sharing=sharing, hidden=[8], experts=2)
    x = rows(tok)
    model = model_builder(sharing, data, text_layout)(cfg, (x.shape[1],), HEADS)
    assert isinstance(model, WithTextInputs) and model.kind == sharing
    out = model(x)
    assert {t: tuple(y.shape) for t, y in out.items()} == {"a": (4, 1), "b": (4, 3)}
    # every parameter is shared or belongs to one task; the text encoder is shared
    groups = [model.shared_parameters(), *(model.task_parameters(t) for t in HEADS)]
    ids = [id(p) for group in groups for p in group]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert len(ids) == len(set(ids))
    encoder_params = {id(p) for p in model.inputs.parameters()}
    assert encoder_params <= {id(p) for p in model.shared_parameters()}
    # the text reaches the outputs: the embedding gets a gradient
    sum(y.sum() for y in out.values()).backward()
    grads = [p.grad for p in model.inputs.parameters() if p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    # the torch-free plan the Experiment page draws describes the same model
    branches = text_branches(text_layout, encoder, 4)
    joined = 3 + branches[0].width
    description = model.describe()
    assert description == describe_config(cfg, (joined,), HEADS, branches)
    assert description["text"] == [f"review: {model.inputs.encoders[0].label}"]
    assert description["input"] == [x.shape[1]]  # the prepared row: tabular features, then ids
    assert description["inputs"] == [
        {"kind": "table", "features": 3},
        {
            "kind": "text",
            "column": "review",
            "ids": tok.width,
            "encoder": model.inputs.encoders[0].label,
            "name": encoder,
            "embeddings": tok.num_embeddings,
            "width": model.inputs.encoders[0].out_width,
        },
    ]


def test_changing_a_word_changes_the_output_but_padding_does_not_count() -> None:
    text_layout, tok = layout(tabular=0)
    data = DataConfig(text_encoder="bag", text_embedding=4)
    model = model_builder("hard", data, text_layout)(ModelConfig(hidden=[8]), (tok.width,), HEADS)
    model.eval()
    a, b = (torch.from_numpy(tok.encode([t])).float() for t in ("fine film", "dull film"))
    assert not torch.allclose(model(a)["b"], model(b)["b"])
    bag = model.inputs.encoders[0]
    # mean over real ids only: "fine" alone equals the embedding of "fine"
    fine = torch.from_numpy(tok.encode(["fine"]))
    word = fine[0, 0]
    torch.testing.assert_close(bag(fine)[0], bag.bag.weight[word])


def test_without_text_the_plain_architecture_is_built() -> None:
    assert model_builder("hard", DataConfig(), None) is ARCHITECTURES.get("hard")


@pytest.mark.parametrize("encoder", ["bag", "gru"])
def test_torch_free_width_matches_the_built_encoder(encoder: str) -> None:
    from mtl.models.text_encoders import encoded_width

    text_layout, _ = layout()
    built = TEXT_ENCODERS.get(encoder)(text_layout.columns[0], 6)
    assert built.out_width == encoded_width(encoder, 6)
