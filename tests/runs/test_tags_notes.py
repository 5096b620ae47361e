"""Tags and notes edited from several processes at once: no update is lost."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mtl.runs.store import RunNotFoundError, RunStore

REPO = Path(__file__).resolve().parents[2]

# Each process waits for "go" on stdin, then makes its 200 edits one call at a time.
EDITOR = textwrap.dedent(
    """
    import sys
    from mtl.runs.store import RunStore
    home, run_id, who, what = sys.argv[1:]
    store = RunStore(home)
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(200):
        if what == "tags":
            store.add_tags(run_id, [f"{who}-{i}"])
        else:
            store.append_notes(run_id, f"{who}-{i}")
    """
)


def _editors(store: RunStore, run_id: str, what: str) -> None:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", EDITOR, str(store.home), run_id, who, what],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for who in ("a", "b")
    ]
    for proc in procs:  # both connected before either starts: the edits really overlap
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "home")


def test_two_processes_adding_200_tags_each_keep_all_400(store: RunStore) -> None:
    run_id = store.create_run("r", {}, tags=["start"])
    _editors(store, run_id, "tags")
    tags = store.get_run(run_id)["tags"]
    assert len(tags) == 401
    assert set(tags) == {"start"} | {f"{who}-{i}" for who in "ab" for i in range(200)}
    # each process's own tags stay in the order it added them
    assert [t for t in tags if t.startswith("a-")] == [f"a-{i}" for i in range(200)]


def test_two_processes_appending_200_note_lines_each_keep_all_400(store: RunStore) -> None:
    run_id = store.create_run("r", {})
    store.set_notes(run_id, "first line")
    _editors(store, run_id, "notes")
    lines = store.get_run(run_id)["notes"].split("\n")
    assert lines[0] == "first line"
    assert sorted(lines[1:]) == sorted(f"{who}-{i}" for who in "ab" for i in range(200))


def test_add_and_remove_tags(store: RunStore) -> None:
    run_id = store.create_run("r", {}, tags=["x"])
    assert store.add_tags(run_id, ["y", "x", "y", "z"]) == ["x", "y", "z"]  # no duplicates
    assert store.remove_tags(run_id, ["x", "absent"]) == ["y", "z"]
    assert store.get_run(run_id)["tags"] == ["y", "z"]
    assert store.append_notes(run_id, "one") == "one"
    assert store.append_notes(run_id, "two") == "one\ntwo"
    with pytest.raises(ValueError, match="tags must be a list of strings"):
        store.add_tags(run_id, "y")
    with pytest.raises(RunNotFoundError):
        store.add_tags("nope", ["a"])
    with pytest.raises(RunNotFoundError):
        store.append_notes("nope", "a")
