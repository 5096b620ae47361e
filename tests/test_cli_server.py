"""The warm CLI fork server (tests/cli_server.py) answers as a fresh ``python -m mtl`` would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.skipif(
    os.environ.get("MTL_TEST_FRESH_CLI") == "1", reason="MTL_TEST_FRESH_CLI=1: no server runs"
)


def both(*args: str, home: Path | None = None) -> tuple[object, object]:
    """(returncode, stdout, stderr) of the call forked from the server, then of a fresh one."""
    warm = run_cli(*args, home=home)
    fresh = run_cli(*args, home=home, fresh=True)
    return (warm.returncode, warm.stdout, warm.stderr), (
        fresh.returncode,
        fresh.stdout,
        fresh.stderr,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("presets", "--json"),  # exit 0, stdout
        ("run", "--preset", "penguins", "--set", "train.epoch=3"),  # exit 2, one error line
        ("nosuchcommand",),  # argparse's usage error
    ],
    ids=["listing", "user-error", "usage"],
)
def test_same_answer_as_a_fresh_interpreter(args: tuple[str, ...], home: Path) -> None:
    warm, fresh = both(*args, home=home)
    assert warm == fresh


def test_each_call_sees_its_own_environment(tmp_path: Path) -> None:
    """MTL_HOME is read per call: a store database that is a folder is refused for that home only."""
    bad = tmp_path / "bad"
    (bad / "store.sqlite").mkdir(parents=True)
    refused = run_cli("runs", home=bad)
    assert refused.returncode == 2 and "store.sqlite" in refused.stderr
    fine = run_cli("runs", "--json", home=tmp_path / "good")
    assert fine.returncode == 0 and fine.stdout.strip() == "[]", fine.stderr


def test_variables_set_later_in_this_process_keep_calls_on_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """torch sets TORCHINDUCTOR_CACHE_DIR, streamlit MPLBACKEND: calls still go to the server;
    a start-up variable (PYTHONHASHSEED) gets a server started with it."""
    import conftest

    run_cli("presets")  # the server exists from here on
    server = conftest._cli_servers[conftest.server_key(conftest.cli_env())]
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    calls, servers = server.calls, len(conftest._cli_servers)
    assert run_cli("presets").returncode == 0
    assert server.calls == calls + 1 and len(conftest._cli_servers) == servers
    monkeypatch.setenv("PYTHONHASHSEED", "7")
    seeded = run_cli("presets", "--json")
    assert seeded.returncode == 0 and "penguins" in seeded.stdout, seeded.stderr
    assert server.calls == calls + 1 and len(conftest._cli_servers) == servers + 1
    other = conftest._cli_servers[conftest.server_key(conftest.cli_env())]
    assert other.env["PYTHONHASHSEED"] == "7" and other.calls == 1
