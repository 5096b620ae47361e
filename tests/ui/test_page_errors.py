"""What a failed page says: a damaged store is named, with what to do from the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from mtl.errors import StoreError, StoreFullError
from mtl.runs.store import RunStore
from mtl.ui.page_errors import page_error_text

APP = str(ROOT / "app.py")
CLI_WORDS = ("--home", "MTL_HOME")


def test_a_damaged_store_file_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "store.sqlite").write_bytes(b"this is no database at all" * 100)
    with pytest.raises(StoreError) as info:
        RunStore(tmp_path)
    text = page_error_text(info.value, tmp_path)
    assert str(tmp_path / "store.sqlite") in text and "damaged" in text
    assert "Move that file" in text and "reload this page" in text
    assert "Nothing was lost" not in text and "kept in the store" not in text
    assert not any(word in text for word in CLI_WORDS), text


def test_other_store_errors_lose_the_cli_advice_and_other_errors_keep_the_reassurance(
    tmp_path: Path,
) -> None:
    locked = StoreError(
        f"the store at {tmp_path}/store.sqlite is read-only; make the file and its folder "
        f"{tmp_path} writable, or choose another home with --home or $MTL_HOME"
    )
    text = page_error_text(locked, tmp_path)
    assert text.endswith(
        "make the file and its folder " + f"{tmp_path} writable. Then reload this page."
    )
    assert not any(word in text for word in CLI_WORDS), text
    full = page_error_text(StoreFullError("disk full"), tmp_path)
    assert "is full" in full and "Nothing was lost" not in full
    other = page_error_text(KeyError("x"), tmp_path)
    assert other.startswith("This page could not be shown") and "Nothing was lost" in other


def test_the_dashboard_on_a_damaged_store_says_so_and_recovers_once_it_is_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    damaged = home / "store.sqlite"
    damaged.write_bytes(b"\x00garbage" * 512)
    monkeypatch.setenv("MTL_HOME", str(home))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and str(damaged).replace("_", "\\_") in errors[0], errors
    assert "damaged" in errors[0] and "Nothing was lost" not in errors[0]
    assert not any(word in errors[0] for word in CLI_WORDS), errors
    damaged.rename(home / "store.sqlite.damaged")  # what the message says to do
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title[0].value == "MTL Lab"
