"""The command line through real subprocesses: output, exit codes and one-line user errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import assert_user_error, run_cli
from mtl.runs.store import RunStore


def test_listing_commands() -> None:
    datasets = run_cli("datasets", "--json")
    names = {d["name"] for d in json.loads(datasets.stdout)}
    assert {"penguins", "digits", "wine", "synthetic", "seed-example", "csv"} <= names
    presets = json.loads(run_cli("presets", "--json").stdout)
    assert {"penguins", "digits", "synthetic-related", "synthetic-unrelated", "seed-example"} <= {
        p["name"] for p in presets
    }
    archs = json.loads(run_cli("architectures", "--json").stdout)
    assert {a["name"] for a in archs} == {"independent", "hard", "soft", "cross-stitch", "mmoe"}


def test_run_json_records_into_store_and_exports(home: Path, tmp_path: Path) -> None:
    result = run_cli(
        "run", "--preset", "seed-example", "--set", "train.epochs=3", "--json", home=home
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout is exactly one JSON object
    assert summary["name"] == "seed-example" and summary["status"] == "finished"
    assert set(summary["test"]["label"]) >= {"accuracy", "precision", "recall", "f1", "auc_roc"}
    assert set(summary["test"]["regression"]) >= {"mse", "rmse", "mae", "r2"}
    run_id = summary["run_id"]
    assert (Path(summary["output"]) / "checkpoint.pt").is_file()

    listed = json.loads(run_cli("runs", "--json", home=home).stdout)
    assert [(r["id"], r["status"]) for r in listed] == [(run_id, "finished")]
    shown = json.loads(run_cli("show", run_id, "--json", home=home).stdout)
    assert shown["config"]["train"]["epochs"] == 3
    assert shown["best"]["label"]["accuracy"]["epoch"] in (0, 1, 2)

    out = tmp_path / "metrics.csv"
    assert run_cli("export", run_id, "--csv", str(out), home=home).returncode == 0
    exported = pd.read_csv(out)
    assert len(exported) == len(RunStore(home).metrics(run_id))

    assert run_cli("delete", run_id, home=home).returncode == 0
    assert_user_error(run_cli("show", run_id, home=home), f"no run '{run_id}'")


def test_detach_prints_run_id(home: Path) -> None:
    result = run_cli(
        "run", "--preset", "seed-example", "--set", "train.epochs=2", "--detach", home=home
    )
    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip()
    assert RunStore(home).get_run(run_id)["status"] in {"running", "finished"}
    stopped = run_cli("stop", run_id, home=home)
    assert stopped.returncode == 0 and run_id in stopped.stdout


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_config(tmp_path: Path, csv: Path, tasks: str, extra: str = "") -> Path:
    return write(
        tmp_path / "config.yaml",
        f"name: t\ndata: {{dataset: csv, path: {csv}}}\ntasks: {tasks}\ntrain: {{epochs: 2}}\n{extra}",
    )


GOOD_CSV = "a,b,c,y\n" + "".join(f"{i % 7},{i * 0.5},{'xy'[i % 2]},{i % 2}\n" for i in range(60))


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("wrong_key", ["unknown key 'epoch'", "allowed keys"]),
        ("unknown_dataset", ["unknown dataset 'iris'", "penguins"]),
        ("missing_column", ["target column(s) ['nope'] not in the data"]),
        ("one_class", ["only one class"]),
        ("empty_csv", ["is empty"]),
        ("malformed_csv", ["is malformed"]),
        ("batch_size_0", ["train.batch_size", "greater than or equal to 1"]),
        ("negative_weight", ["tasks.0.weight", "greater than or equal to 0"]),
        ("bad_set", ["dotted.key=value"]),
        ("missing_file", ["not found"]),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, home: Path, case: str, fragments: list[str]
) -> None:
    good = write(tmp_path / "good.csv", GOOD_CSV)
    y_task = "[{name: y, target: y}]"
    args: list[str]
    if case == "wrong_key":
        args = ["run", "--preset", "penguins", "--set", "train.epoch=3"]
    elif case == "unknown_dataset":
        args = ["run", "--preset", "penguins", "--set", "data.dataset=iris"]
    elif case == "missing_column":
        args = ["run", str(csv_config(tmp_path, good, "[{name: y, target: nope}]"))]
    elif case == "one_class":
        one = write(tmp_path / "one.csv", "a,y\n" + "".join(f"{i},1\n" for i in range(30)))
        args = ["run", str(csv_config(tmp_path, one, "[{name: y, target: y, kind: binary}]"))]
    elif case == "empty_csv":
        args = ["run", str(csv_config(tmp_path, write(tmp_path / "e.csv", ""), y_task))]
    elif case == "malformed_csv":
        bad = write(tmp_path / "m.csv", 'a,b,y\n1,2,3\n4,"5,6\n7,8,9,10,11\n')
        args = ["run", str(csv_config(tmp_path, bad, y_task))]
    elif case == "batch_size_0":
        args = ["run", "--preset", "penguins", "--set", "train.batch_size=0"]
    elif case == "negative_weight":
        args = ["run", "--preset", "penguins", "--set", "tasks.0.weight=-1"]
    elif case == "bad_set":
        args = ["run", "--preset", "penguins", "--set", "train.epochs"]
    else:
        args = ["run", str(tmp_path / "absent.yaml")]
    assert_user_error(run_cli(*args, home=home), *fragments)
    # A rejected run leaves nothing behind in the store.
    if (home / "store.sqlite").exists():
        assert RunStore(home).list_runs().empty


def test_diverging_run_exits_3_and_names_the_task(tmp_path: Path, home: Path) -> None:
    rows = "".join(f"{i * 0.37},{i % 2},{(i + 1) * 1e30}\n" for i in range(60))
    data = write(tmp_path / "huge.csv", "a,c,big\n" + rows)
    config = csv_config(
        tmp_path,
        data,
        "[{name: c, target: c}, {name: big, target: big, kind: regression}]",
        "loss: {weighting: equal}\n",
    )
    result = run_cli(
        "run", str(config), "--set", "data.standardize_targets=false", "--json", home=home
    )
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "diverged"
    assert "task 'big'" in summary["error"]
    assert "Traceback" not in result.stderr
    run = RunStore(home).get_run(summary["run_id"])
    assert run["status"] == "diverged" and "task 'big'" in run["error"]


def test_user_presets_in_home_are_listed_and_runnable(home: Path) -> None:
    folder = home / "presets"
    folder.mkdir(parents=True)
    text = (
        Path(__file__).resolve().parents[1] / "mtl" / "presets" / "seed-example.yaml"
    ).read_text()
    (folder / "my-toy.yaml").write_text(  # a blank line ends the description block
        "# My own toy\n\n" + text.replace("epochs: 30", "epochs: 2")
    )
    listed = {
        p["name"]: p["description"]
        for p in json.loads(run_cli("presets", "--json", home=home).stdout)
    }
    assert listed["my-toy"] == "My own toy" and "penguins" in listed
    shown = " ".join(run_cli("presets", home=home).stdout.split())  # wrapped: join the lines
    assert "the shared latent from both tasks' rows (docs/verdict.md). synthetic-unrelated" in shown
    result = run_cli("run", "--preset", "my-toy", "--json", home=home)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == 2


def test_tag_and_note_commands(home: Path) -> None:
    run_id = RunStore(home).create_run("r", {}, tags=["kept"])
    added = run_cli("tag", run_id, "baseline", "<b>bold</b>", "kept", "--json", home=home)
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {
        "run_id": run_id,
        "tags": ["kept", "baseline", "<b>bold</b>"],
    }
    removed = run_cli("tag", run_id, "kept", "--remove", home=home)
    assert removed.returncode == 0 and "baseline, <b>bold</b>" in removed.stdout
    assert run_cli("note", run_id, "first", home=home).returncode == 0
    assert run_cli("note", run_id, "second", "--append", home=home).returncode == 0
    run = RunStore(home).get_run(run_id)
    assert run["tags"] == ["baseline", "<b>bold</b>"] and run["notes"] == "first\nsecond"
    assert run_cli("note", run_id, "", home=home).returncode == 0  # '' clears
    assert RunStore(home).get_run(run_id)["notes"] == ""


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["tag", "nope", "x"], ["no run 'nope'"]),
        (["tag", "RUN", "  "], ["a tag cannot be empty"]),
        (["tag", "RUN", "a\x1b[31mred"], ["control character"]),
        (["note", "nope", "x"], ["no run 'nope'"]),
        (["note", "RUN", "x\x07", "--append"], ["control character"]),
        (["note", "RUN", " ", "--append"], ["needs some text"]),
    ],
)
def test_tag_and_note_bad_input_exits_2_with_one_line(
    home: Path, args: list[str], fragments: list[str]
) -> None:
    run_id = RunStore(home).create_run("r", {})
    result = run_cli(*[run_id if a == "RUN" else a for a in args], home=home)
    assert_user_error(result, *fragments)
    run = RunStore(home).get_run(run_id)
    assert run["tags"] == [] and run["notes"] == ""


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_max_running_below_1_is_refused(
    home: Path, limit: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_user_error(
        run_cli("runs", "--max-running", limit, home=home), "--max-running", "at least 1"
    )
    detached = run_cli(
        "run", "--preset", "seed-example", "--detach", "--max-running", limit, home=home
    )
    assert_user_error(detached, "--max-running", "at least 1")
    assert RunStore(home).list_runs().empty  # the refused run was not recorded
    monkeypatch.setenv("MTL_MAX_RUNNING", limit)
    assert_user_error(run_cli("runs", home=home), f"MTL_MAX_RUNNING='{limit}'", "at least 1")


SWEEP = Path(__file__).resolve().parents[1] / "examples" / "sweep-sharing-weighting.yaml"


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", str(SWEEP)],
        ["sweep", str(SWEEP), "--search", "random", "--trials", "2", "--set-seeds-one"],
        ["study", "transfer", "--preset", "synthetic-related", "--target", "y1"],
        ["study", "verdict", "--preset", "synthetic-related"],
    ],
    ids=["sweep", "search", "transfer", "verdict"],
)
def test_a_refused_limit_records_no_sweep_or_study(
    home: Path, tmp_path: Path, args: list[str]
) -> None:
    if "--set-seeds-one" in args:  # a search trains each trial once
        spec = write(tmp_path / "s.yaml", SWEEP.read_text(encoding="utf-8"))
        spec.write_text(re.sub(r"seeds: \[[^]]*\]", "seeds: [0]", spec.read_text()))
        args = [a for a in args if a != "--set-seeds-one"]
        args[1] = str(spec)
    result = run_cli(*args, "--detach", "--max-running", "0", home=home)
    assert_user_error(result, "--max-running 0", "at least 1")
    listed = run_cli("sweeps", "--json", home=home)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []  # no empty "0/0 done" record
    assert not (home / "sweeps").exists() or not any((home / "sweeps").iterdir())
    assert RunStore(home).list_runs().empty


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([], ["give a command", "python -m mtl --help"]),
        (["study"], ["give a study: transfer, stop, verdict"]),
        (["report"], ["required: RUN, --out", "`python -m mtl report --help`"]),
        (["runs", "--bogus"], ["unrecognized arguments: --bogus", "`python -m mtl runs --help`"]),
        (["nosuchcommand"], ["invalid choice: 'nosuchcommand'"]),
        (["runs", "--max-running", "x"], ["--max-running: invalid int value: 'x'"]),
        (
            ["study", "transfer", "--preset", "penguins"],
            ["required: --target", "`python -m mtl study transfer --help`"],
        ),
        (["study", "stop", "nope"], ["no study or sweep 'nope'"]),
    ],
)
def test_usage_errors_are_one_error_line(home: Path, args: list[str], fragments: list[str]) -> None:
    """Not argparse's usage block and 'python -m mtl: error:' line: one `error:` line, exit 2."""
    result = run_cli(*args, home=home)
    assert_user_error(result, *fragments)
    assert result.stdout == ""


def test_help_is_unchanged() -> None:
    result = run_cli("report", "--help")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("usage: python -m mtl report ")


def test_an_empty_sweep_shows_a_plain_line(home: Path) -> None:
    from mtl.study.sweeps.records import write_record

    store = RunStore(home)
    record = {"id": "20260101-000000-abcd", "name": "empty", "created_at": 0.0, "runs": []}
    write_record(store, {**record, "settings": ["model.sharing"], "baselines": []})
    result = run_cli("sweeps", record["id"], home=home)
    assert result.returncode == 0, result.stderr
    assert "Empty DataFrame" not in result.stdout
    assert result.stdout.rstrip().endswith("runs: none yet")


def test_export_neutralises_formula_cells_unless_raw(home: Path, tmp_path: Path) -> None:
    store = RunStore(home)
    run_id = store.create_run("r", {})
    store.add_metrics(
        run_id,
        [
            (0, 0.0, 0.1, '=HYPERLINK("http://x")', "val", "loss", -1.5, None),
            (0, 0.0, 0.1, "@task", "val", "+metric", 2.0, "-reason"),
        ],
    )
    safe, raw = tmp_path / "safe.csv", tmp_path / "raw.csv"
    assert run_cli("export", run_id, "--csv", str(safe), home=home).returncode == 0
    assert run_cli("export", run_id, "--csv", str(raw), "--raw-csv", home=home).returncode == 0
    cells = pd.read_csv(safe, keep_default_na=False)
    assert cells["task"].tolist() == ['\'=HYPERLINK("http://x")', "'@task"]
    assert cells["metric"].tolist() == ["loss", "'+metric"] and cells["reason"].tolist() == [
        "",
        "'-reason",
    ]
    assert cells["value"].tolist() == [-1.5, 2.0]  # numbers stay numbers
    assert pd.read_csv(raw)["task"].tolist() == ['=HYPERLINK("http://x")', "@task"]


def test_predict_output_neutralises_formula_labels_unless_raw(home: Path, tmp_path: Path) -> None:
    labels = ["=1+1", "@SUM(A1)"]
    data = write(
        tmp_path / "d.csv", "a,y\n" + "".join(f"{i % 5},{labels[i % 2]}\n" for i in range(60))
    )
    trained = run_cli(
        "run",
        str(csv_config(tmp_path, data, "[{name: y, target: y}]")),
        "--json",
        "--quiet",
        home=home,
    )
    assert trained.returncode == 0, trained.stderr
    run_id = json.loads(trained.stdout)["run_id"]
    rows = write(tmp_path / "in.csv", "a\n0\n1\n")
    for flag, expected in (([], {"'=1+1", "'@SUM(A1)"}), (["--raw-csv"], set(labels))):
        out = tmp_path / f"out{len(flag)}.csv"
        result = run_cli("predict", run_id, "--csv", str(rows), "--out", str(out), *flag, home=home)
        assert result.returncode == 0, result.stderr
        table = pd.read_csv(out)
        assert set(table["y"]) <= expected and len(table) == 2
        assert table["row"].tolist() == [0, 1]  # numbers untouched
