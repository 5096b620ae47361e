"""The Experiment form's plain helpers: uploads, labels, memory, feature roles, escaping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mtl.config import ExperimentConfig, task_name_problem
from mtl.data.prepare import prepare
from mtl.ui import form
from mtl.viz.labels import dataset_label, markdown_text


def test_an_upload_keeps_its_base_name_in_a_content_addressed_folder(tmp_path: Path) -> None:
    first = form.save_upload(b"a,b\n1,2\n", "Clinic visits (2024).csv", tmp_path)
    assert first.name == "Clinic_visits__2024.csv" and first.read_bytes() == b"a,b\n1,2\n"
    assert first.parent.parent == tmp_path / "uploads"
    other = form.save_upload(b"a,b\n3,4\n", "Clinic visits (2024).csv", tmp_path)
    assert (
        other.parent != first.parent and first.read_bytes() == b"a,b\n1,2\n"
    )  # nothing overwritten
    hostile = form.save_upload(b"x\n", "../../etc/passwd", tmp_path)
    assert hostile.is_relative_to(tmp_path / "uploads") and hostile.name == "passwd.csv"
    assert form.save_upload(b"y\n", "...csv", tmp_path).name == "upload.csv"
    assert form.save_upload(b"PAR1", "Field trial.PARQUET", tmp_path).name == "Field_trial.parquet"


def test_labels_and_default_names() -> None:
    assert form.default_run_name("C:\\data\\field trial.csv") == "field trial"
    assert (
        dataset_label({"dataset": "csv", "path": "/h/uploads/ab12/field_trial.csv"})
        == "field_trial.csv"
    )
    assert dataset_label({"dataset": "penguins", "path": None}) == "penguins"
    assert form.safe_stem("résumé.csv") == "r_sum"


def test_without_path_hides_the_server_folder() -> None:
    path = "/srv/mtl-runs/uploads/ab12/data.csv"
    message = f"CSV file {path!r} has a single column ['x']"
    assert form.without_path(message, path) == "CSV file 'data.csv' has a single column ['x']"
    assert form.without_path(message, None) == message


def test_remember_restore_forget() -> None:
    state: dict = {
        "exp.name": "mine",
        "task.y.kind": "binary",
        "exp.btn.reset": False,
        "exp.up.csv": object(),
        "exp.ui.targets.abc": ["y"],
        "other": 1,
    }
    form.remember(state)
    assert state[form.FORM_KEY] == {"exp.name": "mine", "task.y.kind": "binary"}
    # a rerun of the page: a newer widget value wins over the remembered one
    state["exp.name"] = "newer"
    del state["task.y.kind"]
    form.restore(state)
    assert state["exp.name"] == "newer" and state["task.y.kind"] == "binary"
    # entering from another page (the sentinel button is gone): the remembered values win
    state["exp.name"] = "a preset's"
    del state[form.SENTINEL]
    form.restore(state)
    assert state["exp.name"] == "mine"
    form.forget(state, ("task.",))
    assert "task.y.kind" not in state and "task.y.kind" not in state[form.FORM_KEY]


def test_hard_sharing_of_nothing_becomes_independent() -> None:
    base = {"name": "x", "tasks": [{"name": "a", "target": "species"}]}
    flat = ExperimentConfig.from_dict({**base, "model": {"sharing": "hard", "branch_depth": 0}})
    shown = form.hard_without_sharing(flat)
    assert (shown.model.sharing, shown.model.branch_depth) == ("independent", None)
    deep = ExperimentConfig.from_dict({**base, "model": {"sharing": "hard", "branch_depth": 1}})
    assert form.hard_without_sharing(deep) is deep


def frame(rows: int = 60) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(rows),
            "blurb": [f"text {i % 45} and more" for i in range(rows)],
            "empty": [None] * rows,
            "flat": [3] * rows,
            "x": [i % 7 for i in range(rows)],
            "colour": [["red", "blue"][i % 2] for i in range(rows)],
            "y": [i % 2 for i in range(rows)],
        }
    )


def test_column_roles_follow_the_preparation() -> None:
    roles = form.column_roles(frame(), ["y"], "csv")
    reasons = dict(zip(roles.dropped["column"], roles.dropped["reason"], strict=True))
    assert reasons == {"id": "ID-like", "empty": "empty", "flat": "constant", "y": "target"}
    assert roles.usable == ["blurb", "x", "colour"]  # 45 distinct strings in 60 rows: a category
    # the worker, left to its default, reads exactly the usable columns and warns about the others
    config = ExperimentConfig.from_dict(
        {
            "name": "t",
            "data": {"dataset": "csv", "path": "unused.csv"},
            "tasks": [{"name": "y", "target": "y", "kind": "binary"}],
        }
    )
    prepared = prepare(config, frame())
    assert sorted(prepared.input_columns) == sorted(roles.usable)  # numeric first there
    assert {w.split("'")[1] for w in prepared.warnings if "was left out" in w} == set(reasons) - {
        "y"
    }
    assert roles.features_setting(roles.usable) is None
    assert roles.features_setting(["colour", "x"]) == ["x", "colour"]  # in the table's order
    assert roles.features_setting(["colour", "flat"]) == [
        "flat",
        "colour",
    ]  # a constant picked on purpose
    assert roles.features_setting([]) == []


def test_image_pixels_that_are_always_blank_stay_features() -> None:
    pixels = form.load_dataset("digits", {}, None)
    roles = form.column_roles(pixels, ["digit"], "digits")
    blank = [c for c in pixels.columns if c.startswith("px_") and pixels[c].nunique() == 1]
    assert blank and set(blank) <= set(roles.usable)
    assert "constant" not in set(roles.dropped["reason"])


def test_a_task_from_a_column_gets_a_valid_unique_name() -> None:
    data = pd.DataFrame({"km/h": [1.5, 2.0, 3.5], "<b>x</b>": [0, 1, 0], "km_h": [1, 2, 3]})
    speed = form.task_from_column("km/h", data)
    assert (speed["name"], speed["target"], speed["kind"]) == ("km_h", "km/h", "regression")
    assert form.task_from_column("<b>x</b>", data)["name"] == "_b_x__b_"
    assert form.task_from_column("km_h", data, taken=["km_h"])["name"] == "km_h (2)"
    assert form.task_from_column("km_h", data, taken=["km_h", "km_h (2)"])["name"] == "km_h (3)"
    for task in (speed, form.task_from_column("<b>x</b>", data)):
        assert task_name_problem(task["name"]) is None


def test_mostly_distinct_strings_are_text_inputs_not_dropped() -> None:
    data = pd.DataFrame(
        {
            "note": [f"words {i % 100}" for i in range(150)],
            "x": range(150, 0, -1),
            "y": [i % 2 for i in range(150)],
        }
    )
    roles = form.column_roles(data, ["y"], "csv")
    assert roles.text == ["note"]
    assert "note" not in set(roles.dropped["column"])
    types = form.column_overview(data).set_index("column")["type"]
    assert types.to_dict() == {"note": "free text", "x": "number", "y": "number"}


@pytest.mark.parametrize(
    "text", ["<b>x</b>", "**bold** [l](http://e.com)", ":red[x] $x$ `c` # h", "a\nb"]
)
def test_plain_escapes_every_markup_character(text: str) -> None:
    escaped = markdown_text(text)
    assert "\n" not in escaped
    for char in "<>*[]():$`#":
        assert escaped.count(char) == escaped.count("\\" + char)


def test_widgets_are_read_from_the_fields_type_bounds_and_text() -> None:
    from mtl.config import ModelConfig, TrainConfig
    from mtl.weighting.options import options_model

    fields = ModelConfig.model_fields
    assert form.widget_for("experts", fields["experts"], fields["experts"].title) == form.Widget(
        "int", "Experts", 4, min_value=1, max_value=64
    )
    soft = form.widget_for("soft_lambda", fields["soft_lambda"], fields["soft_lambda"].title)
    assert soft == form.Widget(
        "float", "Soft-sharing strength λ", 1e-3, min_value=0.0, max_value=1e4
    )
    assert form.widget_for("batch_norm", fields["batch_norm"]) == form.Widget(
        "checkbox", "batch_norm: Batch normalisation in each hidden layer.", False
    )
    assert form.widget_for("hidden", fields["hidden"]) is None  # lists are typed as text elsewhere
    mgda = options_model("mgda").model_fields
    solver = form.widget_for("solver", mgda["solver"])
    assert solver is not None and (solver.kind, solver.choices) == (
        "select",
        ("exact", "frank-wolfe"),
    )
    assert form.widget_for("max_iters", mgda["max_iters"]) == form.Widget(
        "int", f"max_iters: {mgda['max_iters'].description}", 100, min_value=1, max_value=10_000
    )
    dwa = options_model("dwa").model_fields["temperature"]  # gt=0 has no inclusive minimum
    assert form.widget_for("temperature", dwa) == form.Widget(
        "float", f"temperature: {dwa.description}", 2.0, max_value=1000.0
    )
    assert form.choices(TrainConfig, "schedule") == ["constant", "step", "cosine", "plateau"]
    assert form.choices(ModelConfig, "encoder") == ["auto", "mlp", "cnn"]
