"""The experiment config: round trips, validation messages and dotted overrides."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import config_error
from mtl import presets
from mtl.config import ConfigError, ExperimentConfig
from mtl.models import ARCHITECTURES
from mtl.weighting import WEIGHTINGS

TASKS = [
    {"name": "species", "target": "species", "kind": "multiclass"},
    {"name": "sex", "target": "sex", "kind": "binary", "weight": 0.5},
    {"name": "mass", "target": ["body_mass_g", "flipper_length_mm"], "kind": "regression"},
]


def config_dict(**sections: Any) -> dict[str, Any]:
    """A valid config dict touching every section; ``sections`` replace whole sections."""
    data: dict[str, Any] = {
        "name": "roundtrip",
        "data": {"dataset": "penguins", "options": {}, "val_fraction": 0.2, "scale": "minmax"},
        "tasks": [dict(t) for t in TASKS],
        "model": {"sharing": "mmoe", "hidden": [16, 8], "dropout": 0.25, "experts": 3},
        "loss": {"weighting": "manual", "huber_delta": 2.0},
        "train": {
            "epochs": 7,
            "batch_size": 16,
            "lr": 0.01,
            "schedule": "cosine",
            "warmup_epochs": 2,
        },
    }
    data.update(sections)
    return data


# ---- round trips -------------------------------------------------------------------


def test_yaml_round_trip_is_equal() -> None:
    config = ExperimentConfig.from_dict(config_dict())
    again = ExperimentConfig.from_yaml(config.to_yaml())
    assert again == config
    assert again.to_dict() == config.to_dict()
    assert again.tasks[2].targets == ["body_mass_g", "flipper_length_mm"]
    assert again.train.warmup_epochs == 2


def test_json_round_trip_is_equal() -> None:
    config = ExperimentConfig.from_dict(config_dict())
    again = ExperimentConfig.from_json(config.to_json())
    assert again == config
    assert again.model.hidden == [16, 8]
    assert again.loss.huber_delta == 2.0


def test_load_reads_yaml_and_json_files(tmp_path) -> None:
    config = ExperimentConfig.from_dict(config_dict())
    (tmp_path / "c.yaml").write_text(config.to_yaml(), encoding="utf-8")
    (tmp_path / "c.json").write_text(config.to_json(), encoding="utf-8")
    assert ExperimentConfig.load(tmp_path / "c.yaml") == config
    assert ExperimentConfig.load(tmp_path / "c.json") == config


def test_missing_config_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        ExperimentConfig.load(tmp_path / "nope.yaml")


def test_defaults_fill_missing_sections() -> None:
    config = ExperimentConfig.from_dict({"tasks": [{"name": "a", "target": "a"}]})
    assert config.data.dataset == "penguins"
    assert config.train.batch_size == 64
    assert config.model.sharing == "hard"
    assert config.loss.weighting == "manual"


# ---- unknown keys --------------------------------------------------------------------


def test_unknown_top_level_key_names_it_and_lists_allowed() -> None:
    message = config_error(config_dict(trian={"epochs": 3}))
    assert "'trian'" in message
    for key in ("name", "data", "tasks", "model", "loss", "train"):
        assert key in message.split("allowed keys:")[1]


def test_unknown_nested_key_names_section_and_lists_allowed() -> None:
    message = config_error(config_dict(model={"shring": "hard"}))
    assert "'shring'" in message
    assert "in model" in message
    allowed = message.split("allowed keys:")[1]
    for key in ("sharing", "hidden", "dropout", "branch_depth", "experts"):
        assert key in allowed


def test_unknown_task_key_lists_task_keys() -> None:
    data = config_dict()
    data["tasks"][1]["wieght"] = 2
    message = config_error(data)
    assert "'wieght'" in message and "tasks.1" in message
    allowed = message.split("allowed keys:")[1]
    for key in ("name", "target", "kind", "weight", "start_epoch"):
        assert key in allowed


def test_non_mapping_config_is_rejected() -> None:
    assert "mapping" in config_error(["not", "a", "dict"])


def test_invalid_yaml_is_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        ExperimentConfig.from_yaml("tasks: [unclosed\n  - x: :")
    assert "\n" not in str(info.value)


# ---- values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "values", "key"),
    [
        ("train", {"batch_size": 0}, "train.batch_size"),
        ("train", {"epochs": 0}, "train.epochs"),
        ("train", {"lr": 0}, "train.lr"),
        ("model", {"dropout": 1.0}, "model.dropout"),
        ("data", {"test_fraction": 0.0}, "data.test_fraction"),
    ],
)
def test_out_of_range_value_names_the_key(section: str, values: dict, key: str) -> None:
    message = config_error(config_dict(**{section: values}))
    assert message.startswith(key)


def test_batch_size_zero_message_says_the_bound_and_value() -> None:
    message = config_error(config_dict(train={"batch_size": 0}))
    assert "train.batch_size" in message
    assert "greater than or equal to 1" in message
    assert "got 0" in message


def test_bad_kind_lists_allowed_values() -> None:
    data = config_dict()
    data["tasks"][0]["kind"] = "ordinal"
    message = config_error(data)
    assert "tasks.0.kind" in message and "ordinal" in message
    for kind in ("binary", "multiclass", "regression"):
        assert kind in message


def test_negative_weight_rejected() -> None:
    data = config_dict()
    data["tasks"][1]["weight"] = -1
    message = config_error(data)
    assert "tasks.1.weight" in message
    assert "greater than or equal to 0" in message


def test_all_weights_zero_with_manual_rejected() -> None:
    data = config_dict()
    for task in data["tasks"]:
        task["weight"] = 0
    assert "every task weight is 0" in config_error(data)


def test_all_weights_zero_allowed_with_equal_weighting() -> None:
    data = config_dict(loss={"weighting": "equal"})
    for task in data["tasks"]:
        task["weight"] = 0
    assert ExperimentConfig.from_dict(data).loss.weighting == "equal"


def test_unknown_sharing_lists_registered_architectures() -> None:
    message = config_error(config_dict(model={"sharing": "hardd"}))
    assert message.startswith("model.sharing")
    assert "'hardd'" in message
    assert ARCHITECTURES.names()
    for name in ARCHITECTURES.names():
        assert name in message


def test_unknown_weighting_lists_registered_strategies() -> None:
    message = config_error(config_dict(loss={"weighting": "uncertainty-typo"}))
    assert message.startswith("loss.weighting")
    for name in WEIGHTINGS.names():
        assert name in message


def test_duplicate_task_names_rejected() -> None:
    data = config_dict()
    data["tasks"][2]["name"] = "species"
    message = config_error(data)
    assert "unique" in message and "species" in message


def test_loss_that_does_not_fit_kind_rejected() -> None:
    data = config_dict()
    data["tasks"][0]["loss"] = "mse"
    message = config_error(data)
    assert "mse" in message and "multiclass" in message


def test_several_targets_only_for_regression() -> None:
    data = config_dict()
    data["tasks"][2]["kind"] = "multiclass"
    assert "only allowed for a regression" in config_error(data)


def test_csv_without_path_rejected() -> None:
    assert "data.path is required" in config_error(config_dict(data={"dataset": "csv"}))


def test_task_starting_after_last_epoch_rejected() -> None:
    data = config_dict()
    data["tasks"][0]["start_epoch"] = 7
    assert "species" in config_error(data)


def test_stratify_must_name_a_task() -> None:
    message = config_error(config_dict(data={"stratify": "colour"}))
    assert "'colour'" in message and "species" in message


def test_dotted_override_creates_nested_option() -> None:
    config = ExperimentConfig.from_dict(config_dict(data={"dataset": "synthetic"}))
    changed = config.with_overrides({"data.options.p": 0.9, "data.options.n_tasks": 3})
    assert changed.data.options == {"p": 0.9, "n_tasks": 3}


def test_warmup_must_be_below_epochs() -> None:
    assert "train.warmup_epochs" in config_error(
        config_dict(train={"epochs": 3, "warmup_epochs": 3})
    )


def test_problems_are_joined_on_one_line() -> None:
    message = config_error(config_dict(train={"batch_size": 0, "epochs": 0}))
    assert "train.batch_size" in message and "train.epochs" in message


# ---- overrides -----------------------------------------------------------------------


def test_with_overrides_dotted_keys() -> None:
    config = ExperimentConfig.from_dict(config_dict())
    changed = config.with_overrides(
        {"train.epochs": 3, "model.hidden": [4], "data.val_fraction": 0.1}
    )
    assert changed.train.epochs == 3
    assert changed.model.hidden == [4]
    assert changed.data.val_fraction == 0.1
    assert config.train.epochs == 7  # the original is untouched


def test_with_overrides_list_index_and_task_name() -> None:
    config = ExperimentConfig.from_dict(config_dict())
    changed = config.with_overrides(
        {"tasks.0.weight": 2.0, "tasks.sex.weight": 3.0, "tasks.-1.start_epoch": 1}
    )
    assert [t.weight for t in changed.tasks] == [2.0, 3.0, 1.0]
    assert changed.tasks[2].start_epoch == 1


def test_with_overrides_validates_the_result() -> None:
    config = ExperimentConfig.from_dict(config_dict())
    with pytest.raises(ConfigError, match="train.batch_size"):
        config.with_overrides({"train.batch_size": 0})
    with pytest.raises(ConfigError, match="'epoch'"):
        config.with_overrides({"train.epoch": 3})


def test_with_overrides_unknown_task_name_or_index() -> None:
    config = ExperimentConfig.from_dict(config_dict())
    with pytest.raises(ConfigError, match="no item named 'colour'"):
        config.with_overrides({"tasks.colour.weight": 1})
    with pytest.raises(ConfigError, match="index out of range"):
        config.with_overrides({"tasks.5.weight": 1})


# ---- presets -------------------------------------------------------------------------


def test_required_presets_exist() -> None:
    for name in ("penguins", "digits", "synthetic-related", "synthetic-unrelated", "seed-example"):
        assert name in presets.names()


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_loads_and_round_trips(name: str) -> None:
    config = presets.load(name)
    assert config.name == name
    assert ExperimentConfig.from_yaml(config.to_yaml()) == config
    assert ExperimentConfig.from_json(config.to_json()) == config
    assert presets.description(name)


def test_preset_description_is_the_whole_leading_comment_block() -> None:
    text = presets.text("synthetic-related")
    block = text.split("\nname:")[0].splitlines()
    assert len(block) == 3 and all(line.startswith("# ") for line in block)
    expected = " ".join(line[2:].strip() for line in block)
    assert presets.description("synthetic-related") == expected
    assert expected.endswith("(docs/verdict.md).")  # not cut after the first line


def test_synthetic_presets_set_task_correlation() -> None:
    assert presets.load("synthetic-related").data.options["p"] == 0.9
    assert presets.load("synthetic-unrelated").data.options["p"] == 0.0


def test_unknown_preset_lists_names() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'pengiuns'") as info:
        presets.load("pengiuns")
    assert "penguins" in str(info.value)


# ---- task names become file names: one rule, checked at config time ---------------------

from mtl.config import TASK_NAME_RULE, suggest_task_name, task_name_problem  # noqa: E402


def test_every_preset_and_suggested_task_name_is_valid() -> None:
    from mtl.data import DATASETS
    from mtl.data.catalog import get_dataset

    names = [t.name for p in presets.names() for t in presets.load(p).tasks]
    names += [t["name"] for d in DATASETS.names() for t in get_dataset(d).suggested_tasks]
    assert names and all(task_name_problem(n) is None for n in names), names


@pytest.mark.parametrize(
    "name", ["species", "body_mass", "Body mass (g)", "y-1.5", "été 2024", "gain %", "a" * 64]
)
def test_task_names_allowed(name: str) -> None:
    config = ExperimentConfig.from_dict({"tasks": [{"name": name, "target": "species"}]})
    assert config.tasks[0].name == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../../../../x", "'/'"),
        ("/abs/path", "'/'"),
        ("a/b", "'/'"),
        ("a\\b", "'\\\\'"),
        ("..", "starts with '.'"),
        (".hidden", "starts with '.'"),
        (" padded", "space"),
        ("padded ", "space"),
        ("", "0 characters"),
        ("x" * 65, "65 characters"),
        ("tab\there", "'\\t'"),
        ("new\nline", "'\\n'"),
        ("c:drive", "':'"),
    ],
)
def test_task_names_refused_name_the_task_and_the_rule(name: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict({"tasks": [{"name": name, "target": "species"}]})
    message = str(info.value)
    assert "\n" not in message and message.startswith("tasks.0.name")
    assert repr(name) in message and problem in message and TASK_NAME_RULE in message


@pytest.mark.parametrize(
    "column", ["../../x", "/abs", "a:b", ".env", "  ", "é/ü", "x" * 100, "ok name"]
)
def test_suggest_task_name_is_always_valid(column: str) -> None:
    assert task_name_problem(suggest_task_name(column)) is None
    assert suggest_task_name("ok name") == "ok name"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"train.weight_decay": float("inf")}, "train.weight_decay"),
        ({"train.lr": float("nan")}, "train.lr"),
        ({"tasks.0.weight": float("inf")}, "tasks.0.weight"),
        ({"model.soft_lambda": 1e308}, "model.soft_lambda"),
        ({"loss.huber_delta": float("inf")}, "loss.huber_delta"),
        ({"train.grad_clip": 1e300}, "train.grad_clip"),
        ({"train.l1": 1e308}, "train.l1"),
    ],
)
def test_non_finite_and_overflowing_numbers_are_refused_by_key(overrides: dict, key: str) -> None:
    base = ExperimentConfig.from_dict({"tasks": [{"name": "species", "target": "species"}]})
    with pytest.raises(ConfigError) as info:
        base.with_overrides(overrides)
    assert str(info.value).startswith(key) and "\n" not in str(info.value)
