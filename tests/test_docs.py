"""Generated documentation stays in sync with the code."""

from pathlib import Path

from mtl.config_docs import config_reference

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert committed == config_reference(), "run: python -m mtl config-docs > docs/config.md"


def test_config_reference_documents_every_required_key() -> None:
    text = config_reference()
    for key in (
        "dataset",
        "path",
        "name",
        "target",
        "kind",
        "weight",
        "sharing",
        "weighting",
        "epochs",
        "batch_size",
        "lr",
        "seed",
    ):
        assert f"| `{key}` |" in text, key
