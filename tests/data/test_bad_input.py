"""Each bad input raises a one-line DataError or ConfigError that says what is wrong and how to fix it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtl.config import ConfigError, ExperimentConfig
from mtl.data.catalog import DataError
from mtl.data.prepare import prepare


def run(data: dict[str, Any], tasks: list[dict[str, Any]], **sections: Any) -> None:
    """Validate the config and prepare its data (either step may raise)."""
    prepare(ExperimentConfig.from_dict({"data": data, "tasks": tasks, **sections}))


def message_of(
    error: type[Exception], data: dict[str, Any], tasks: list[dict[str, Any]], **sections: Any
) -> str:
    """The one-line message of the ``error`` raised for this config."""
    with pytest.raises(error) as info:
        run(data, tasks, **sections)
    message = str(info.value)
    assert message, "empty message"
    assert "\n" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message
    return message


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def good_table(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "cls": rng.choice(["u", "v"], size=n),
            "num": rng.normal(size=n),
            "word": rng.choice(["low", "mid", "high"], size=n),
            "same": ["only"] * n,
        }
    )


@pytest.fixture
def good_csv(tmp_path: Path) -> str:
    path = tmp_path / "good.csv"
    good_table().to_csv(path, index=False)
    return str(path)


def test_good_csv_is_accepted(good_csv: str) -> None:
    run(
        {"dataset": "csv", "path": good_csv},
        [{"name": "cls", "target": "cls"}, {"name": "num", "target": "num"}],
    )


def test_missing_target_column(good_csv: str) -> None:
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv}, [{"name": "t", "target": "colour"}]
    )
    assert "'colour'" in message and "not in the data" in message
    assert "available columns: a, b, cls" in message


def test_missing_target_column_in_catalog_dataset() -> None:
    message = message_of(
        DataError, {"dataset": "penguins"}, [{"name": "t", "target": "beak_colour"}]
    )
    assert "beak_colour" in message and "species" in message


def test_one_class_target(good_csv: str) -> None:
    message = message_of(
        DataError, {"dataset": "csv", "path": good_csv}, [{"name": "s", "target": "same"}]
    )
    assert "only one class" in message and "'same'" in message and "'only'" in message
    message = message_of(
        DataError,
        {"dataset": "csv", "path": good_csv},
        [{"name": "s", "target": "same", "kind": "binary"}],
    )
    assert "only one class" in message


def test_three_classes_declared_binary(good_csv: str) -> None:
    message = message_of(
        DataError,
        {"dataset": "csv", "path": good_csv},
        [{"name": "w", "target": "word", "kind": "binary"}],
    )
    assert "3 classes" in message and "multiclass" in message


def test_regression_target_not_numeric(good_csv: str) -> None:
    message = message_of(
        DataError,
        {"dataset": "csv", "path": good_csv},
        [{"name": "w", "target": "word", "kind": "regression"}],
    )
    assert (
        "'word'" in message and "not numeric" in message and "kind: binary or multiclass" in message
    )


def test_empty_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "")
    message = message_of(
        DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}]
    )
    assert "is empty" in message and "empty.csv" in message


def test_header_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "header.csv", "a,b,t\n")
    message = message_of(
        DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}]
    )
    assert "no data rows" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a,b,t\n1,2,3\n4,5,6,7,8\n7,8,9\n", "Expected 3 fields in line 3, saw 5"),
        ('a,b,t\n1,2,3\n4,"5,6\n7,8,9\n', "EOF inside string"),
    ],
    ids=["field-count", "unbalanced-quote"],
)
def test_malformed_csv(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "bad.csv", text)
    message = message_of(
        DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}]
    )
    assert "malformed" in message and fragment in message
    assert "check separators and quoting" in message


def test_missing_csv_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nowhere.csv")
    message = message_of(
        DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}]
    )
    assert "not found" in message and "nowhere.csv" in message and "data.path" in message


def test_single_column_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "semi.csv", "a;b;t\n1;2;3\n4;5;6\n")
    message = message_of(
        DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}]
    )
    assert "single column" in message and "separator" in message


def test_unknown_dataset() -> None:
    message = message_of(ConfigError, {"dataset": "pengiuns"}, [{"name": "t", "target": "t"}])
    assert "'pengiuns'" in message
    for name in ("penguins", "digits", "wine", "synthetic", "seed-example", "csv"):
        assert name in message


def test_wrong_synthetic_option_key() -> None:
    message = message_of(
        ConfigError,
        {"dataset": "synthetic", "options": {"q": 0.5}},
        [{"name": "y1", "target": "y1"}],
    )
    assert "'q'" in message and "synthetic" in message
    assert "p" in message.split("allowed keys:")[1].split(", ")


def test_synthetic_option_out_of_range() -> None:
    message = message_of(
        ConfigError,
        {"dataset": "synthetic", "options": {"p": 1.5}},
        [{"name": "y1", "target": "y1"}],
    )
    assert "p" in message and "1.5" in message


def test_feature_list_naming_unknown_column(good_csv: str) -> None:
    message = message_of(
        DataError,
        {"dataset": "csv", "path": good_csv, "features": ["a", "zz"]},
        [{"name": "cls", "target": "cls"}],
    )
    assert "data.features" in message and "'zz'" in message


def test_feature_that_is_a_target(good_csv: str) -> None:
    message = message_of(
        DataError,
        {"dataset": "csv", "path": good_csv, "features": ["a", "cls"]},
        [{"name": "cls", "target": "cls"}],
    )
    assert "task targets" in message


def test_too_few_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "tiny.csv", "a,t\n1,0\n2,1\n")
    message = message_of(
        DataError, {"dataset": "csv", "path": path}, [{"name": "t", "target": "t"}]
    )
    assert "only 2 rows" in message


def test_cnn_encoder_on_a_table() -> None:
    message = message_of(
        DataError,
        {"dataset": "penguins"},
        [{"name": "species", "target": "species"}],
        model={"encoder": "cnn"},
    )
    assert "cnn" in message and "image" in message


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"tasks": [{"name": "t", "target": "t"}], "train": {"batch_size": 0}}, "train.batch_size"),
        ({"tasks": [{"name": "t", "target": "t", "weight": -2}]}, "tasks.0.weight"),
        ({"tasks": [{"name": "t", "target": "t"}], "modle": {}}, "unknown key 'modle'"),
    ],
)
def test_config_errors_are_one_line(data: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict(data)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_errors_are_value_errors() -> None:
    # The CLI catches these two to exit with code 2 and no traceback.
    assert issubclass(DataError, ValueError) and issubclass(ConfigError, ValueError)


def test_options_for_a_dataset_without_options() -> None:
    message = message_of(
        ConfigError,
        {"dataset": "penguins", "options": {"seed": 3}},
        [{"name": "s", "target": "species"}],
    )
    assert "takes no options" in message and "'seed'" in message


# ---- the command line: each bad input exits 2 with one `error:` line, no traceback ----------

import os  # noqa: E402
import pickle  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import yaml  # noqa: E402

from conftest import ROOT, assert_user_error, cli_env, run_cli  # noqa: E402


def seed_config(**changes: Any) -> dict[str, Any]:
    """The seed-example preset as a dict, shortened to one epoch, with ``changes`` merged in."""
    config: dict[str, Any] = {
        "name": "bad",
        "data": {"dataset": "seed-example", "options": {"samples": 200}},
        "tasks": [
            {"name": "label", "target": "label"},
            {"name": "regression", "target": ["r0", "r1", "r2"]},
        ],
        "model": {"hidden": [8]},
        "train": {"epochs": 1},
    }
    for section, value in changes.items():
        config[section] = {**config[section], **value} if isinstance(value, dict) else value
    return config


def run_config(
    tmp_path: Path, home: Path, config: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return run_cli("run", str(path), "--quiet", home=home)


def no_runs(home: Path) -> bool:
    """Nothing was recorded: the refusal came before a run was created."""
    from mtl.runs.store import RunStore

    return not (home / "store.sqlite").exists() or RunStore(home).list_runs().empty


@pytest.mark.parametrize(
    "name", ["../../../../../escaped", "{tmp}/abs-task", "a/b", "..", ".hidden", "x" * 65]
)
def test_cli_task_name_that_would_be_a_path(tmp_path: Path, name: str) -> None:
    # home/runs/<id>/predictions/ + four ".." is tmp_path: where the old code wrote "escaped.csv"
    home = tmp_path / "box" / "home"
    name = name.format(tmp=tmp_path)
    config = seed_config(
        tasks=[{"name": name, "target": "label"}, {"name": "r", "target": ["r0", "r1", "r2"]}]
    )
    assert_user_error(run_config(tmp_path, home, config), "tasks.0.name", "letters, digits")
    assert no_runs(home)
    assert sorted(p.name for p in tmp_path.rglob("*.csv")) == []


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"train": {"weight_decay": float("inf")}}, ["train.weight_decay", "finite"]),
        ({"train": {"l1": float("nan")}}, ["train.l1", "finite"]),
        (
            {"model": {"hidden": [8], "soft_lambda": 1e308}},
            ["model.soft_lambda", "less than or equal"],
        ),
        (
            {
                "tasks": [
                    {"name": "label", "target": "label", "weight": float("inf")},
                    {"name": "r", "target": "r0"},
                ]
            },
            ["tasks.0.weight", "finite"],
        ),
        (
            {
                "data": {
                    "dataset": "synthetic",
                    "options": {"samples": 1_000_000, "features": 4096},
                },
                "tasks": [{"name": "y1", "target": "y1"}],
            },
            ["data.options", "GiB", "samples"],
        ),
        (
            {"model": {"hidden": [200_000, 200_000]}},
            ["model.hidden", "[200000, 200000]", "parameters", "limit"],
        ),
    ],
    ids=[
        "weight_decay-inf",
        "l1-nan",
        "soft_lambda-1e308",
        "task-weight-inf",
        "synthetic-too-large",
        "hidden-huge",
    ],
)
def test_cli_settings_refused(
    tmp_path: Path, changes: dict[str, Any], fragments: list[str]
) -> None:
    home = tmp_path / "home"
    assert_user_error(run_config(tmp_path, home, seed_config(**changes)), *fragments)
    assert no_runs(home)


def test_cli_cuda_without_cuda(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    home = tmp_path / "home"
    assert_user_error(
        run_config(tmp_path, home, seed_config(train={"epochs": 1, "device": "cuda"})),
        "train.device",
        "cuda",
        "no CUDA device",
    )
    assert no_runs(home)


def csv_config(path: Path, tasks: list[dict[str, Any]]) -> dict[str, Any]:
    return {**seed_config(tasks=tasks), "data": {"dataset": "csv", "path": str(path)}}


@pytest.mark.parametrize(
    ("column", "value", "task", "fragments"),
    [
        ("a", 1e308, "cls", ["feature column 'a'", "too large", "1e+308"]),
        ("b", float("inf"), "cls", ["feature column 'b'", "inf"]),
        ("num", float("inf"), "num", ["regression target 'num'", "task 'num'", "inf"]),
        ("num", -1e300, "num", ["regression target 'num'", "-1e+300"]),
    ],
    ids=["feature-1e308", "feature-inf", "target-inf", "target-huge"],
)
def test_cli_non_finite_data(
    tmp_path: Path, column: str, value: float, task: str, fragments: list[str]
) -> None:
    table = good_table()
    table.loc[7, column] = value
    path = tmp_path / "data.csv"
    table.to_csv(path, index=False)
    home = tmp_path / "home"
    config = csv_config(path, [{"name": task, "target": task}])
    assert_user_error(run_config(tmp_path, home, config), *fragments, "row 7")
    assert no_runs(home)


def test_cli_only_free_text_turned_off_left(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 120
    table = pd.DataFrame(
        {
            "review": [
                f"review number {i} says {rng.choice(['good', 'bad'])} things" for i in range(n)
            ],
            "source": ["web"] * n,
            "liked": rng.choice(["yes", "no"], size=n),
        }
    )
    path = tmp_path / "reviews.csv"
    table.to_csv(path, index=False)
    home = tmp_path / "home"
    config = csv_config(path, [{"name": "liked", "target": "liked"}])
    config["data"]["text"] = []  # the free text, which would be a text input, is turned off
    result = run_config(tmp_path, home, config)
    assert_user_error(result, "no usable feature", "'review'", "free text", "source", "constant")
    assert no_runs(home)


def test_cli_store_database_is_a_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "store.sqlite").mkdir(parents=True)
    result = run_cli("runs", home=home)
    assert_user_error(result, "store.sqlite")


def test_cli_broken_pipe_is_quiet() -> None:
    """The reader closed the pipe before anything was written (like `| head -1` after its line)."""
    read, write_end = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mtl", "datasets"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            cwd=ROOT,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.stderr == ""
    assert done.returncode == 1


# ---- predict on a trained run: damaged or hostile files -----------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """A finished one-epoch seed-example run: (home, run id, input CSV of feature rows)."""
    from mtl.runs.store import RunStore
    from mtl.runs.worker import execute

    home = tmp_path_factory.mktemp("bad-input-home")
    config = ExperimentConfig.from_dict(seed_config())
    store = RunStore(home)
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    assert execute(store, run_id, config).status == "finished"
    rows = home / "rows.csv"
    pd.DataFrame(np.ones((3, 5)), columns=[f"x{i}" for i in range(5)]).to_csv(rows, index=False)
    return home, run_id, rows


@pytest.fixture
def run_folder(trained: tuple[Path, str, Path]) -> Iterator[Path]:
    """The trained run's folder; its files are restored after the test damaged them."""
    from mtl.runs.store import RunStore

    home, run_id, _ = trained
    folder = RunStore(home).run_dir(run_id)
    saved = {p: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    yield folder
    for path in folder.iterdir():
        if path.is_file() and path not in saved:
            path.unlink()
    for path, content in saved.items():
        path.write_bytes(content)


def predict(trained: tuple[Path, str, Path], out: Path) -> subprocess.CompletedProcess[str]:
    home, run_id, rows = trained
    return run_cli("predict", run_id, "--csv", str(rows), "--out", str(out), home=home)


def test_cli_predict_works_on_the_intact_run(
    trained: tuple[Path, str, Path], run_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.csv"
    result = predict(trained, out)
    assert result.returncode == 0, result.stderr
    assert len(pd.read_csv(out)) == 3


def test_cli_predict_out_is_a_folder(trained: tuple[Path, str, Path], tmp_path: Path) -> None:
    assert_user_error(predict(trained, tmp_path), "--out", "is a folder")


def test_cli_predict_out_under_a_file(trained: tuple[Path, str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x", encoding="utf-8")
    assert_user_error(predict(trained, blocker / "p.csv"), "--out", "is a file, not a folder")
    assert blocker.read_text(encoding="utf-8") == "x"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_cli_predict_damaged_checkpoint(
    trained: tuple[Path, str, Path], run_folder: Path, tmp_path: Path, damage: str
) -> None:
    checkpoint = run_folder / "checkpoint.pt"
    content = checkpoint.read_bytes()
    checkpoint.write_bytes(
        {
            "truncated": content[: len(content) // 2],
            "garbage": b"not a checkpoint" * 10,
            "empty": b"",
        }[damage]
    )
    assert_user_error(predict(trained, tmp_path / "p.csv"), "checkpoint", "cannot be read")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    "text",
    [
        "",
        '{"format": 1, "numeric": ["x0"]',
        '{"format": 1}',
        "[1, 2]",
        '{"format": 1, "numeric": ["x0"], "fill": [NaN]}',
    ],
)
def test_cli_predict_damaged_preprocessing(
    trained: tuple[Path, str, Path], run_folder: Path, tmp_path: Path, text: str
) -> None:
    (run_folder / "preprocessing.json").write_text(text, encoding="utf-8")
    assert_user_error(predict(trained, tmp_path / "p.csv"), "preprocessing.json", "damaged")


class _Payload:
    """A pickle that, when loaded, creates the marker file (stands for any command)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("where", ["preprocessor.joblib", "checkpoint.pt"])
def test_cli_predict_never_unpickles(
    trained: tuple[Path, str, Path], run_folder: Path, tmp_path: Path, where: str
) -> None:
    marker = tmp_path / "pwned"
    if where == "preprocessor.joblib":  # a run folder of the old format, or a crafted one
        (run_folder / "preprocessing.json").unlink()
    (run_folder / where).write_bytes(pickle.dumps(_Payload(marker)))
    pickle.loads(
        pickle.dumps(_Payload(tmp_path / "self-check"))
    )  # the payload does run when unpickled
    assert (tmp_path / "self-check").exists()

    result = predict(trained, tmp_path / "p.csv")
    assert_user_error(result, where)
    assert not marker.exists()
