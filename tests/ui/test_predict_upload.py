"""Predictions from the dashboard go through the CLI; its messages never show the
server's temporary paths."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from mtl import presets
from mtl.runs.store import RunStore
from mtl.ui.predict import PredictError, predict_upload


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from mtl.runs.worker import execute

    home = tmp_path_factory.mktemp("predict-home")
    store = RunStore(home)
    config = presets.load("seed-example").with_overrides({"train.epochs": 1})
    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    execute(store, run_id, config)
    return home, run_id


@pytest.mark.parametrize("content", [b"\xff\xfe\x00not utf-8", b"", b"x0,x1\nabc,def\n"])
def test_refusals_name_the_upload_not_a_server_path(
    trained: tuple[Path, str], content: bytes
) -> None:
    home, run_id = trained
    with pytest.raises(PredictError) as caught:
        predict_upload(home, run_id, content, filename="sales.csv")
    message = str(caught.value)
    assert message and tempfile.gettempdir() not in message and "input.csv" not in message, message
    if not content.startswith(b"x0"):  # unreadable or empty: the message names the user's file
        assert "'sales.csv'" in message, message
