"""Labels for people, and the escapes that keep user strings as text."""

from __future__ import annotations

import html
import re

import pytest

from mtl.viz.labels import label, markdown_text, metric_label, plain


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("model.sharing", "sharing"),
        ("loss.weighting", "weighting"),
        ("hidden", "hidden layers"),
        ("train.lr", "learning rate"),
        ("delta_m", "Δm (%)"),
        ("delta_m mean", "Δm (%) mean"),
        ("label/auc_roc", "label · AUC-ROC"),
        ("y1/r2 std", "y1 · R² std"),
        ("train.weight_decay", "weight decay"),
    ],
)
def test_every_key_has_a_readable_label(key: str, expected: str) -> None:
    assert label(key) == expected


def test_metric_labels() -> None:
    assert metric_label("f1") == "F1" and metric_label("some_new") == "some new"


def test_plain_round_trips_through_html() -> None:
    hostile = "<img src=x onerror=alert(1)> & <b>"
    assert "<" not in plain(hostile) and html.unescape(plain(hostile)) == hostile


@pytest.mark.parametrize(
    "text",
    [
        "**bold**",
        "![x](http://127.0.0.1:9/x.png)",
        "[x](javascript:alert(1))",
        "<b>x</b>",
        ":red[x]",
        "$x^2$",
        "- item",
        "1. item",
        "# title",
        "a_b_c",
        "`code`",
        "&lt;",
    ],
)
def test_markdown_text_escapes_every_markdown_construct(text: str) -> None:
    escaped = markdown_text(text)
    # outside backslash escapes, no markdown-active character is left
    bare = re.sub(r"\\.", "", escaped)
    assert not set(bare) & set("\\`*_{}[]()#!|<>~:$&^="), (text, escaped)
    assert not re.match(r"[-+]|\d+[.)]", bare)  # no list marker at the start
    # removing the escapes gives the text back
    assert re.sub(r"\\(.)", r"\1", escaped) == text
