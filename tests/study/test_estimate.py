"""``python -m mtl estimate``: a real child process times real training steps."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import assert_user_error, run_cli
from mtl.study.estimate import Estimate, describe, format_duration

CONFIG = """name: estimate-me
data: {dataset: penguins}
tasks:
  - {name: species, target: species, kind: multiclass}
  - {name: body_mass, target: body_mass_g, kind: regression}
train: {epochs: 40, batch_size: 16}
"""


def test_estimate_extrapolates_timed_steps_to_the_whole_run(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    result = run_cli("estimate", str(config), "--json", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["seconds"] > 0 and figures["step_seconds"] > 0
    assert figures["epochs"] == 40 and figures["timed_steps"] >= 1
    # penguins: 344 rows, 15 % validation and 15 % test → 240 training rows, 16 a batch
    assert figures["rows"]["train"] == 240
    assert figures["steps_per_epoch"] == math.ceil(240 / 16) == 15
    expected = figures["prepare_seconds"] + 40 * (
        15 * figures["step_seconds"] + figures["epoch_overhead_seconds"]
    )
    assert figures["seconds"] == pytest.approx(expected, rel=1e-3, abs=1e-2)
    # nothing was recorded: the estimate is not a run
    assert not (tmp_path / "home").exists()


def test_estimate_text_names_the_figures(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        CONFIG.replace("epochs: 40", "epochs: 3, early_stopping: 2"), encoding="utf-8"
    )
    result = run_cli("estimate", str(config), "--steps", "5")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("about ") and "3 epochs × 15 steps" in line and "early stopping" in line


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("name: x\ntasks: []\n", "tasks"),
        (
            "name: x\ndata: {dataset: penguins}\ntasks:\n  - {name: a, target: no_such_column}\n",
            "no_such_column",
        ),
    ],
)
def test_estimate_refuses_a_bad_config_in_one_line(
    tmp_path: Path, text: str, fragment: str
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(text, encoding="utf-8")
    assert_user_error(run_cli("estimate", str(config), "--json"), fragment)


def test_estimate_refuses_a_missing_file_and_bad_steps(tmp_path: Path) -> None:
    assert_user_error(run_cli("estimate", str(tmp_path / "nowhere.yaml")), "not found")
    config = tmp_path / "run.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    assert_user_error(run_cli("estimate", str(config), "--steps", "0"), "--steps")


def test_describe_and_format_duration() -> None:
    figures = Estimate(
        seconds=200.0,
        prepare_seconds=1.0,
        step_seconds=0.0041,
        epoch_overhead_seconds=0.2,
        steps_per_epoch=420,
        epochs=30,
        timed_steps=20,
        rows={"train": 1},
        early_stopping=False,
    )
    assert describe(figures) == (
        "about 3 min 20 s (30 epochs × 420 steps × 4.1 ms + 0.2 s of validation "
        "per epoch; 20 steps timed)"
    )
    assert [format_duration(s) for s in (4.04, 42, 3725)] == ["4.0 s", "42 s", "1 h 02 min"]


def test_estimate_takes_a_preset_and_overrides_like_run() -> None:
    result = run_cli(
        "estimate", "--preset", "penguins", "--set", "train.epochs=7", "--steps", "2", "--json"
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["epochs"] == 7 and figures["rows"]["train"] == 240  # the penguins preset
    assert_user_error(run_cli("estimate"), "give a config file or --preset NAME")
