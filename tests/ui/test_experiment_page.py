"""The Experiment page through AppTest: a form that remembers, own data first, no silent wrong model.

Real parts: the real app (``app.py``), a real store home, real CSV files read by the real
preparation, and the duration estimate in a real child process.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from conftest import ROOT, python_output
from mtl.config import ExperimentConfig, suggest_task_name, task_name_problem
from mtl.data.prepare import prepare
from mtl.viz.labels import markdown_text

APP = str(ROOT / "app.py")
TIMEOUT = 120
HOSTILE_TASK = '<iframe srcdoc="&lt;script&gt;parent.alert(1)&lt;/script&gt;">'
HOSTILE_COLUMN = "<img src=x onerror=alert(2)> **bold** [link](http://example.com)"
MARKUP = re.compile(r"(?<!\\)<(iframe|img|script)", re.IGNORECASE)


def table_csv(rows: int = 120) -> bytes:
    """Two real features, and columns the preparation must leave out: free text, a row id,
    a constant; two targets (binary ``y``, regression ``score``)."""
    lines = ["age,city,note,row_id,const,y,score"]
    for i in range(rows):
        lines.append(
            f"{20 + i % 37},{['oslo', 'rome', 'lima'][i % 3]},free text number {i % 100},"
            f"{i},7,{'yes' if (i * 7) % 5 < 2 else 'no'},{(i % 11) * 1.5}"
        )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def at(home: Path) -> AppTest:
    """The Experiment page of the real app on an empty store."""
    app = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    app.switch_page("app_pages/experiment.py").run()
    no_exception(app)
    return app


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def picker(at: AppTest, label: str):  # noqa: ANN201 - AppTest's Multiselect
    return next(m for m in at.multiselect if m.label == label)


def upload(at: AppTest, name: str, content: bytes) -> AppTest:
    at.selectbox(key="exp.data.dataset").set_value("csv").run()
    at.file_uploader(key="exp.up.csv").set_value((name, content, "text/csv")).run()
    no_exception(at)
    return at


def markdown_texts(at: AppTest) -> list[str]:
    """Every element whose body Streamlit renders as markdown."""
    kinds = (
        "markdown",
        "caption",
        "error",
        "warning",
        "info",
        "success",
        "title",
        "header",
        "subheader",
    )
    return [e.value for kind in kinds for e in getattr(at, kind)]


def test_form_survives_a_visit_to_another_page(at: AppTest) -> None:
    upload(at, "field trial.csv", table_csv())
    picker(at, "Target columns that become tasks").set_value(["y", "score"]).run()
    at.selectbox(key="exp.model.sharing").set_value("mmoe").run()
    at.number_input(key="exp.model.experts").set_value(6).run()
    at.selectbox(key="exp.loss.weighting").set_value("uncertainty").run()
    at.text_input(key="exp.name").set_value("trial-mmoe").run()
    picker(at, "Feature columns the model reads").set_value(["age"]).run()
    at.number_input(key="exp.train.epochs").set_value(12).run()
    no_exception(at)
    path = at.session_state["exp.data.path"]

    at.switch_page("app_pages/compare.py").run()
    no_exception(at)
    at.switch_page(
        "app_pages/experiment.py"
    ).run()  # Streamlit dropped the widgets' values meanwhile
    no_exception(at)

    assert at.text_input(key="exp.name").value == "trial-mmoe"
    assert at.selectbox(key="exp.data.dataset").value == "csv"
    assert at.session_state["exp.data.path"] == path and Path(path).name == "field_trial.csv"
    assert picker(at, "Target columns that become tasks").value == ["y", "score"]
    assert [t["name"] for t in at.session_state["exp.tasks"]] == ["y", "score"]
    assert at.selectbox(key="exp.model.sharing").value == "mmoe"
    assert at.number_input(key="exp.model.experts").value == 6
    assert at.selectbox(key="exp.loss.weighting").value == "uncertainty"
    assert at.number_input(key="exp.train.epochs").value == 12
    assert picker(at, "Feature columns the model reads").value == ["age"]
    assert at.session_state["exp.data.features"] == ["age"]
    assert any(
        markdown_text("field_trial.csv") in c.value for c in at.caption
    )  # the file the form still uses


def test_reset_form_goes_back_to_the_start(at: AppTest) -> None:
    upload(at, "mine.csv", table_csv())
    picker(at, "Target columns that become tasks").set_value(["y"]).run()
    at.selectbox(key="exp.model.sharing").set_value("mmoe").run()
    at.button(key="exp.btn.reset").click().run()
    no_exception(at)
    assert at.text_input(key="exp.name").value == "penguins"
    assert at.selectbox(key="exp.data.dataset").value == "penguins"
    assert at.selectbox(key="exp.model.sharing").value == "hard"
    assert at.session_state["exp.data.path"] is None
    assert [t["name"] for t in at.session_state["exp.tasks"]] == ["species", "sex", "body_mass"]
    # the reset is remembered too: another page and back keeps the preset
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/experiment.py").run()
    assert at.selectbox(key="exp.data.dataset").value == "penguins"


def test_an_upload_names_the_run_until_a_name_is_typed(at: AppTest) -> None:
    upload(at, "clinic visits 2024.csv", table_csv())
    assert at.text_input(key="exp.name").value == "clinic visits 2024"
    at.file_uploader(key="exp.up.csv").set_value(("second.csv", table_csv(90), "text/csv")).run()
    assert at.text_input(key="exp.name").value == "second"
    at.text_input(key="exp.name").set_value("my own name").run()
    at.file_uploader(key="exp.up.csv").set_value(("third.csv", table_csv(80), "text/csv")).run()
    no_exception(at)
    assert at.text_input(key="exp.name").value == "my own name"
    assert Path(at.session_state["exp.data.path"]).name == "third.csv"


def test_dropped_columns_are_listed_with_their_reason_before_launch(at: AppTest) -> None:
    upload(at, "table.csv", table_csv())
    picker(at, "Target columns that become tasks").set_value(["y"]).run()
    no_exception(at)
    dropped = next(
        d.value for d in at.dataframe if list(d.value.columns) == ["column", "reason", "detail"]
    )
    reasons = dict(zip(dropped["column"], dropped["reason"], strict=True))
    assert reasons == {"row_id": "ID-like", "const": "constant", "y": "target"}
    text = picker(at, "Text columns the text encoder reads")
    assert text.value == ["note"]  # free text: a text input by default
    assert at.session_state["exp.data.text"] is None
    features = picker(at, "Feature columns the model reads")
    assert features.options == ["age", "city", "score"] and features.value == [
        "age",
        "city",
        "score",
    ]
    assert (
        at.session_state["exp.data.features"] is None
    )  # the preparation's own default: the same columns
    assert any(
        markdown_text("const (constant)") in w.value and "note" not in w.value for w in at.warning
    )
    overview = next(d.value for d in at.dataframe if "as a task" in d.value.columns)
    assert dict(zip(overview["column"], overview["type"], strict=True))["note"] == "free text"
    # what the worker will do with this config: read exactly the offered columns, leave out the listed ones
    config = ExperimentConfig.from_dict(
        {
            "name": "t",
            "data": {"dataset": "csv", "path": at.session_state["exp.data.path"]},
            "tasks": at.session_state["exp.tasks"],
        }
    )
    prepared = prepare(config)
    assert prepared.input_columns == ["age", "score", "city", "note"]
    assert [t.column for t in prepared.text] == ["note"]
    assert {w.split("'")[1] for w in prepared.warnings if "was left out" in w} == set(reasons) - {
        "y"
    }


def diagram_json(at: AppTest) -> str:
    """The architecture diagram's plotly figure as JSON (hover texts and labels included)."""
    [chart] = [c for c in at.get("plotly_chart") if "exp.diagram" in str(c.proto.id)]
    return str(chart.proto.spec)


def test_a_text_only_table_trains_and_turning_text_off_is_refused_in_place(
    at: AppTest, home: Path
) -> None:
    lines = ["review,const,label"] + [f"words {i} of a long review,1,{i % 2}" for i in range(80)]
    upload(at, "reviews.csv", ("\n".join(lines) + "\n").encode())
    picker(at, "Target columns that become tasks").set_value(["label"]).run()
    no_exception(at)
    assert picker(at, "Feature columns the model reads").options == []
    assert picker(at, "Text columns the text encoder reads").value == ["review"]
    assert not at.error, [e.value for e in at.error]
    diagram = diagram_json(at)  # the text branch is drawn: ids → text encoder → the trunk
    assert "input: text column review" in diagram and "shared: text encoder EmbeddingBag" in diagram
    # settings of the text encoder, written into the config
    at.selectbox(key="exp.data.text_encoder").set_value("gru").run()
    no_exception(at)
    assert at.session_state["exp.data.text_encoder"] == "gru"
    assert "shared: text encoder Embedding " in diagram_json(at) and "BiGRU" in diagram_json(at)

    picker(at, "Text columns the text encoder reads").set_value([]).run()
    no_exception(at)
    assert at.session_state["exp.data.text"] == []
    errors = [e.value for e in at.error]
    assert any("No feature column is picked" in e for e in errors), errors
    # the preparation's refusal names why each column is left out
    assert any(
        "cannot be prepared" in e
        and "no usable feature" in e
        and "review" in e
        and "free text" in e
        and "const" in e
        and "as constant" in e
        for e in errors
    ), errors
    at.button(key="exp.start").click().run()
    no_exception(at)
    assert any("no usable feature" in e.value and "free text" in e.value for e in at.error)
    assert not (home / "store.sqlite").exists() or _run_count(home) == 0  # nothing was launched


def _run_count(home: Path) -> int:
    from mtl.runs.store import RunStore

    return len(RunStore(home).list_runs())


def load_yaml(at: AppTest, name: str, config: dict) -> AppTest:
    at.file_uploader(key="exp.up.yaml").set_value(
        (name, yaml.safe_dump(config).encode(), "text/yaml")
    ).run()
    no_exception(at)
    return at


def test_hostile_task_and_column_names_render_as_text(at: AppTest, tmp_path: Path) -> None:
    data = tmp_path / "hostile.csv"
    rows = [f"{i % 9},{i % 2},{i * 0.5}" for i in range(60)]
    data.write_text(f'x,"{HOSTILE_COLUMN}",target\n' + "\n".join(rows) + "\n", encoding="utf-8")
    base = {
        "name": "hostile",
        "data": {"dataset": "csv", "path": str(data)},
        "loss": {"weighting": "manual"},
    }

    # a hostile TASK name is refused by the config; the refusal is shown as text, the form kept
    load_yaml(
        at, "evil.yaml", {**base, "tasks": [{"name": HOSTILE_TASK, "target": HOSTILE_COLUMN}]}
    )
    refusal = [e.value for e in at.error if "This config cannot be used" in e.value]
    assert (
        refusal and "is not allowed" in refusal[0] and markdown_text(HOSTILE_TASK) in refusal[0]
    ), refusal
    assert [t["name"] for t in at.session_state["exp.tasks"]] == ["species", "sex", "body_mass"]
    assert not [t for t in markdown_texts(at) if MARKUP.search(t)]

    # hostile COLUMN names are allowed: a valid task on the hostile column, the column a feature
    task = "#1 (amount) + 5%"  # valid, but full of characters markdown acts on
    load_yaml(
        at, "ok.yaml", {**base, "tasks": [{"name": task, "target": "target", "kind": "regression"}]}
    )
    assert not at.session_state["exp.ui.yaml_error"]
    assert picker(at, "Feature columns the model reads").value == ["x", HOSTILE_COLUMN]
    # the hostile column becomes a task too: named by suggest_task_name, so valid
    picker(at, "Target columns that become tasks").set_value(["target", HOSTILE_COLUMN]).run()
    no_exception(at)
    made = suggest_task_name(HOSTILE_COLUMN)
    assert task_name_problem(made) is None
    assert [(t["name"], t["target"]) for t in at.session_state["exp.tasks"]] == [
        (task, "target"),
        (made, HOSTILE_COLUMN),
    ]
    assert picker(at, "Feature columns the model reads").value == ["x"]
    texts = markdown_texts(at)
    assert f"**{markdown_text(task)}**" in texts and f"**{markdown_text(made)}**" in texts
    assert not [t for t in texts if MARKUP.search(t)]  # no raw tag reaches markdown
    assert not [t for t in texts if "](http" in t]  # nor a live link
    raw_html = [m.value for m in at.markdown if m.proto.allow_html]
    assert raw_html and not [
        v for v in raw_html if "iframe" in v or "img" in v or "bold" in v or "amount" in v
    ]
    # the manual-weights caption quotes the names, escaped
    assert any(markdown_text(f"{made} × 1") in c.value for c in at.caption)
    assert any(c.value.startswith("Ready to start") for c in at.caption)  # a config that can run
    # an error quoting a user string is escaped too
    at.selectbox(key="exp.model.sharing").set_value("independent").run()
    at.selectbox(key="exp.loss.weighting").set_value("pcgrad").run()
    assert not [t for t in markdown_texts(at) if MARKUP.search(t)]


def test_page_source_uses_raw_html_only_for_the_colour_swatch() -> None:
    source = (ROOT / "app_pages" / "experiment.py").read_text(encoding="utf-8")
    raw = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and any(
            k.arg == "unsafe_allow_html" and getattr(k.value, "value", False) is True
            for k in node.keywords
        )
    ]
    assert len(raw) == 1  # the colour swatch
    # every value put into that HTML is a palette colour, escaped: html.escape(colors[...])
    values = [v.value for v in ast.walk(raw[0].args[0]) if isinstance(v, ast.FormattedValue)]
    assert values and all(ast.unparse(v).startswith("html.escape(colors[") for v in values)


def test_hard_sharing_always_shares_a_layer(at: AppTest) -> None:
    at.checkbox(key="exp.ui.branch_all").uncheck().run()
    no_exception(at)
    depth = at.number_input(key="exp.ui.branch_depth")
    assert depth.min == 1 and depth.max == 2  # penguins: hidden [64, 64]
    assert at.session_state["exp.model.branch_depth"] == depth.value >= 1
    assert any("To share nothing, choose Sharing 'independent'" in c.value for c in at.caption)
    # a depth of 0 left in the state (an old session) is raised to 1, never kept as "hard"
    at.session_state["exp.ui.branch_depth"] = 0
    at.run()
    no_exception(at)
    assert at.number_input(key="exp.ui.branch_depth").value == 1
    assert at.session_state["exp.model.branch_depth"] == 1


def test_a_config_with_hard_sharing_of_nothing_is_shown_as_independent(at: AppTest) -> None:
    config = {
        "name": "flat",
        "data": {"dataset": "penguins"},
        "tasks": [
            {"name": "species", "target": "species", "kind": "multiclass"},
            {"name": "sex", "target": "sex", "kind": "binary"},
        ],
        "model": {"sharing": "hard", "branch_depth": 0},
    }
    at.file_uploader(key="exp.up.yaml").set_value(
        ("flat.yaml", yaml.safe_dump(config).encode(), "text/yaml")
    ).run()
    no_exception(at)
    assert at.selectbox(key="exp.model.sharing").value == "independent"
    assert at.session_state["exp.model.branch_depth"] is None
    assert any("branch depth 0, which shares no layer" in w.value for w in at.warning)


def test_duration_estimate_runs_in_a_child_process(at: AppTest) -> None:
    at.number_input(key="exp.train.epochs").set_value(10).run()
    at.button(key="exp.btn.estimate").click().run()
    no_exception(at)
    shown = [i.value for i in at.info if i.value.startswith("Estimated duration")]
    assert shown and "10 epochs" in shown[0], [i.value for i in at.info]
    result = at.session_state["exp.estimate"]["result"]
    assert result["seconds"] > 0 and result["epochs"] == 10
    # another setting: the figure is no longer claimed for it
    at.number_input(key="exp.train.epochs").set_value(11).run()
    assert not [i for i in at.info if i.value.startswith("Estimated duration")]
    assert any("changed since the last estimate" in c.value for c in at.caption)


def test_a_long_run_is_flagged_before_any_estimate(at: AppTest) -> None:
    at.number_input(key="exp.train.epochs").set_value(
        4000
    ).run()  # 240 training rows / 32 → 8 steps an epoch
    no_exception(at)
    assert any("trains about 32,000 steps" in w.value for w in at.warning), [
        w.value for w in at.warning
    ]


def test_a_bad_upload_is_named_by_its_file_not_its_server_path(at: AppTest, home: Path) -> None:
    upload(at, "one column.csv", b"only\n1\n2\n3\n")
    errors = [e.value for e in at.error]
    assert any("single column" in e and markdown_text("one_column.csv") in e for e in errors), (
        errors
    )
    server = (str(home), markdown_text(str(home)), "uploads/", markdown_text("uploads/"))
    assert not [t for t in markdown_texts(at) if any(part in t for part in server)]
    assert not [t for t in markdown_texts(at) if "np." in t or "numpy" in t]


@pytest.mark.parametrize("preset", ["digits", "wine", "synthetic-related", "seed-example"])
def test_every_preset_loads_into_the_form(at: AppTest, preset: str) -> None:
    at.selectbox(key="exp.ui.preset").set_value(preset).run()
    at.button(key="exp.btn.load_preset").click().run()
    no_exception(at)
    assert at.text_input(key="exp.name").value == preset
    assert not at.error, [e.value for e in at.error]
    assert any(
        c.value.startswith(f"Ready to start **{markdown_text(preset)}**") for c in at.caption
    )


def test_the_page_never_imports_torch_even_to_estimate(home: Path) -> None:
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout={TIMEOUT}).run()\n"
        "at.switch_page('app_pages/experiment.py').run()\n"
        "at.number_input(key='exp.train.epochs').set_value(3).run()\n"
        "at.button(key='exp.btn.estimate').click().run()\n"
        "assert not at.exception, at.exception\n"
        "assert any(i.value.startswith('Estimated duration') for i in at.info), [i.value for i in at.info]\n"
        "print('torch' in sys.modules)\n"
    )
    assert python_output(code, home, timeout=300).splitlines()[-1] == "False"


def test_a_parquet_upload_is_accepted_as_the_label_says(at: AppTest, tmp_path: Path) -> None:
    import pandas as pd

    at.selectbox(key="exp.data.dataset").set_value("csv").run()
    widget = at.file_uploader(key="exp.up.csv")
    assert "Parquet" in widget.label and {".csv", ".parquet"} <= set(widget.proto.type)
    table = pd.read_csv(io.BytesIO(table_csv(90)))
    content = table.to_parquet(index=False)
    widget.set_value(("field trial.parquet", content, "application/octet-stream")).run()
    no_exception(at)
    captions = [c.value for c in at.caption]
    assert any("field\\_trial.parquet" in c or "field_trial.parquet" in c for c in captions), (
        captions
    )
    assert not at.error, [e.value for e in at.error]
    options = picker(at, "Target columns that become tasks").options
    assert {"y", "score"} <= set(options), options  # the Parquet file's columns were read
