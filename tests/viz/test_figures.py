"""Plotly figures: traces, styles, colours, and numbers that match scikit-learn."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, roc_auc_score

from mtl.config import ModelConfig
from mtl.models.plan import TextBranch, describe_config
from mtl.viz.colors import PALETTE, SHARED_COLOR, run_colors, task_colors, text_color_on
from mtl.viz.curves import RAW_OPACITY, curves_figure, overlay_figure, weights_figure
from mtl.viz.evaluation import confusion_figure, pred_actual_figure, residuals_figure, roc_figure
from mtl.viz.frames import curve_frame
from mtl.viz.network import network_figure
from mtl.viz.style import UIREVISION, apply_theme

sys.path.insert(0, str(Path(__file__).parent))
from test_frames import TASKS, synthetic_metrics, synthetic_weights  # noqa: E402

COLORS = task_colors(list(TASKS))


def legend_traces(fig):
    return [t for t in fig.data if t.showlegend is not False]


def check_common_style(fig) -> None:
    assert fig.layout.uirevision == UIREVISION
    assert fig.layout.font.size >= 14
    assert fig.layout.paper_bgcolor == "rgba(0, 0, 0, 0)"
    assert fig.layout.plot_bgcolor == "rgba(0, 0, 0, 0)"


# ---- colours -----------------------------------------------------------------------------


def test_colours_by_position_and_stable() -> None:
    assert task_colors(["b", "a"]) == {"b": PALETTE[0], "a": PALETTE[1]}
    assert task_colors(["a", "b", "a"]) == task_colors(["a", "b"])
    assert run_colors(["r1", "r2"]) == {"r1": PALETTE[0], "r2": PALETTE[1]}
    many = task_colors([f"t{i}" for i in range(len(PALETTE) + 1)])
    assert len(set(list(many.values())[: len(PALETTE)])) == len(PALETTE)
    assert SHARED_COLOR not in PALETTE
    assert text_color_on("#FFFFFF") == "#000000" and text_color_on("#000000") == "#FFFFFF"


# ---- curves ------------------------------------------------------------------------------


def test_curves_without_smoothing_one_trace_per_series() -> None:
    frame = curve_frame(synthetic_metrics(), "loss", "step")
    fig = curves_figure(frame, title="Loss", colors=COLORS)
    check_common_style(fig)
    assert len(fig.data) == 4  # 2 tasks × (step, val)
    assert [t.name for t in fig.data] == [
        "species · train",
        "species · val",
        "mass · train",
        "mass · val",
    ]
    assert all(t.opacity is None for t in fig.data)
    assert fig.layout.xaxis.title.text == "step" and fig.layout.yaxis.title.text == "loss"
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.y < 0  # below the plot


def test_curves_with_smoothing_pair_raw_and_smoothed() -> None:
    frame = curve_frame(synthetic_metrics(), "loss", "epoch", smoothing=0.6)
    fig = curves_figure(frame, title="Loss", colors=COLORS)
    assert len(fig.data) == 8
    for raw, smooth in zip(fig.data[::2], fig.data[1::2], strict=True):
        assert raw.opacity == RAW_OPACITY and raw.showlegend is False
        assert smooth.opacity is None and smooth.showlegend is not False
        assert raw.legendgroup == smooth.legendgroup
        assert raw.line.color == smooth.line.color and raw.line.dash == smooth.line.dash
        assert not np.allclose(raw.y, smooth.y)
    assert len(legend_traces(fig)) == 4


def test_curves_validation_is_dashed_and_colour_is_by_task() -> None:
    fig = curves_figure(curve_frame(synthetic_metrics(), "accuracy", "epoch"), colors=COLORS)
    by_name = {t.name: t for t in fig.data}
    assert by_name["species · val"].line.dash == "dash"
    assert by_name["species · train"].line.dash == "solid"
    assert (
        by_name["species · val"].line.color
        == by_name["species · train"].line.color
        == COLORS["species"]
    )


def test_curves_log_axis_and_empty_frame() -> None:
    frame = curve_frame(synthetic_metrics(), "loss", "wall_time")
    assert curves_figure(frame, log_y=True, colors=COLORS).layout.yaxis.type == "log"
    assert curves_figure(frame, colors=COLORS).layout.yaxis.type == "linear"
    empty = curves_figure(frame.iloc[0:0], colors=COLORS)
    assert len(empty.data) == 0 and empty.layout.annotations[0].text == "No points yet"


def test_same_task_same_colour_on_every_chart() -> None:
    metrics = synthetic_metrics()
    loss = curves_figure(curve_frame(metrics, "loss", "step"), colors=COLORS)
    weights = weights_figure(synthetic_weights(), x="step", colors=COLORS)
    for task in TASKS:
        loss_colours = {t.line.color for t in loss.data if t.name.startswith(task)}
        weight_colours = {t.line.color for t in weights.data if t.name == task}
        assert loss_colours == weight_colours == {COLORS[task]}


def test_weights_figure_one_line_per_task() -> None:
    fig = weights_figure(
        synthetic_weights(), x="epoch", colors=COLORS, metrics=synthetic_metrics(epochs=2)
    )
    check_common_style(fig)
    assert [t.name for t in fig.data] == list(TASKS)
    assert list(fig.data[0].x) == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert fig.layout.xaxis.title.text == "epoch"


def test_overlay_colours_by_run_and_pairs_raw_smoothed() -> None:
    metrics = synthetic_metrics()
    frames = {
        "run-a": curve_frame(metrics, "loss", "step", smoothing=0.5, splits=("val",)),
        "run-b": curve_frame(
            metrics.assign(value=metrics["value"] * 2),
            "loss",
            "step",
            smoothing=0.5,
            splits=("val",),
        ),
    }
    colors = run_colors(list(frames))
    fig = overlay_figure(frames, task="mass", title="mass", log_y=True, colors=colors)
    check_common_style(fig)
    assert len(fig.data) == 4  # 2 runs × (raw, smoothed)
    assert [t.line.color for t in fig.data] == [colors["run-a"]] * 2 + [colors["run-b"]] * 2
    assert all(t.line.dash == "dash" for t in fig.data)  # validation
    assert fig.layout.yaxis.type == "log"
    assert len(overlay_figure(frames, task="nope", colors=colors).data) == 0


# ---- evaluation --------------------------------------------------------------------------


def classification_data(classes: list[str], rows: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.choice(classes, size=rows)
    logits = rng.normal(size=(rows, len(classes))) + 1.5 * (
        y[:, None] == np.array(classes)[None, :]
    )
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame(proba, columns=[f"p_{c}" for c in classes])
    pred = np.array(classes)[proba.argmax(axis=1)]
    return y, pred, frame


def test_confusion_counts_match_sklearn() -> None:
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    y, pred, _ = classification_data(classes)
    y_with_missing = [*y, None]
    fig = confusion_figure(y_with_missing, [*pred, "Adelie"], classes)
    check_common_style(fig)
    expected = confusion_matrix(y, pred, labels=classes)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), expected)
    row = expected[0] / expected[0].sum()
    assert fig.data[0].text[0][1] == f"{expected[0, 1]}<br>({row[1]:.0%})"
    assert list(fig.data[0].x) == classes and fig.layout.yaxis.autorange == "reversed"


def test_confusion_compares_labels_as_strings() -> None:
    fig = confusion_figure([0, 1, 1], ["0", "1", "0"], ["0", "1"])
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), [[1, 0], [1, 1]])


def test_roc_multiclass_auc_in_legend_equals_sklearn() -> None:
    classes = ["a", "b", "c"]
    y, _, proba = classification_data(classes, seed=1)
    fig = roc_figure(y, proba, classes)
    check_common_style(fig)
    curves = [t for t in fig.data if t.name != "chance"]
    assert len(curves) == 3
    for trace, cls in zip(curves, classes, strict=True):
        auc = roc_auc_score(y == cls, proba[f"p_{cls}"])
        assert trace.meta["auc"] == pytest.approx(auc)
        assert f"AUC = {auc:.3f}" in trace.name and trace.name.startswith(f"{cls} vs rest")


def test_roc_binary_one_curve_for_the_positive_class() -> None:
    classes = ["no", "yes"]
    y, _, proba = classification_data(classes, seed=2)
    fig = roc_figure(list(y), proba.set_axis(classes, axis=1), classes)  # plain class-named columns
    curves = [t for t in fig.data if t.name != "chance"]
    assert len(curves) == 1
    auc = roc_auc_score(y == "yes", proba["p_yes"])
    assert curves[0].name == f"yes vs no (AUC = {auc:.3f})"


def test_roc_notes_a_class_without_rows() -> None:
    classes = ["a", "b", "c"]
    y, _, proba = classification_data(["a", "b"], seed=3)
    proba = proba.assign(p_c=0.0)
    fig = roc_figure(y, proba, classes)
    assert len([t for t in fig.data if t.name != "chance"]) == 2
    assert "no curve for c" in fig.layout.annotations[0].text


def test_roc_note_shows_a_class_name_as_text() -> None:
    classes = ["a", "b", "<b>c</b>"]
    y, _, proba = classification_data(["a", "b"], seed=3)
    proba = proba.assign(**{"p_<b>c</b>": 0.0})
    note = roc_figure(y, proba, classes).layout.annotations[0].text
    assert note.startswith("no curve for &lt;b&gt;c&lt;/b&gt; (")


def test_pred_actual_and_residuals() -> None:
    true = np.array([1.0, 2.0, 3.0, np.nan])
    pred = np.array([1.5, 1.5, 3.5, 2.0])
    fig = pred_actual_figure(true, pred, title="mass")
    check_common_style(fig)
    line, points = fig.data
    assert line.name == "y = x" and list(line.x) == list(line.y)
    assert line.x[0] <= 1.0 and line.x[-1] >= 3.5
    assert len(points.x) == 3  # the unlabelled row is left out
    res = residuals_figure(true, pred)
    check_common_style(res)
    assert list(res.data[0].y) == pytest.approx([-0.5, 0.5, -0.5])


def test_apply_theme_sets_text_colour() -> None:
    fig = apply_theme(
        curves_figure(curve_frame(synthetic_metrics(), "loss"), colors=COLORS), "dark"
    )
    assert fig.layout.font.color == "#FAFAFA"
    with pytest.raises(ValueError, match="theme"):
        apply_theme(fig, "blue")


# ---- network diagram ---------------------------------------------------------------------

HEADS = {"species": 3, "sex": 1, "body mass": 1}


@pytest.mark.parametrize("sharing", ["hard", "independent", "soft", "cross-stitch", "mmoe"])
@pytest.mark.parametrize("input_shape", [(13,), (1, 8, 8)])
def test_network_figure_draws_every_block(sharing: str, input_shape: tuple[int, ...]) -> None:
    cfg = ModelConfig(
        sharing=sharing,
        hidden=[64, 32],
        channels=[16, 32],
        head_hidden=[16],
        batch_norm=True,
        dropout=0.2,
    )
    description = describe_config(cfg, input_shape, HEADS)
    colors = task_colors(list(HEADS))
    fig = network_figure(description, colors)
    check_common_style(fig)
    blocks = 1 + len(description["shared"]) + sum(len(b) for b in description["tasks"].values())
    assert len(boxes(fig)) == blocks
    fills = [s.fillcolor for s in boxes(fig)]
    for task in HEADS:
        assert fills.count(colors[task]) == len(description["tasks"][task])
    assert fills.count(SHARED_COLOR) == len(description["shared"])
    texts = [a.text for a in fig.layout.annotations]
    assert all(any(f"<b>{task}</b>" in t for t in texts) for task in HEADS)
    if description["coupling"]:
        assert any(description["coupling"] in t for t in texts)
    sizes = [a.font.size for a in fig.layout.annotations if a.text and a.font.size]
    assert min(sizes) >= 11
    assert len(fig.data[0].hovertext) == blocks


def boxes(fig) -> list:
    """The diagram's blocks (rectangles; a bracket is a path)."""
    return [s for s in fig.layout.shapes if s.type == "rect"]


def nodes(fig) -> dict[str, tuple[float, float, float]]:
    """Hover text → (left, right, y) of each block (blocks and hover points are added in step)."""
    rects = boxes(fig)
    hover = fig.data[0]
    assert len(rects) == len(hover.hovertext)
    return {
        text: (r.x0, r.x1, (r.y0 + r.y1) / 2)
        for text, r in zip(hover.hovertext, rects, strict=True)
    }


def arrows(fig) -> list[tuple[float, float, float, float]]:
    """(tail x, tail y, head x, head y) of every arrow."""
    return [(a.ax, a.ay, a.x, a.y) for a in fig.layout.annotations if a.showarrow]


def connects(fig, tail: str, head: str) -> bool:
    """An arrow goes from the right edge of block ``tail`` to the left edge of ``head``."""
    (_, right, y0), (left, _, y1) = nodes(fig)[tail], nodes(fig)[head]
    return any(a == pytest.approx((right, y0, left, y1), abs=1e-9) for a in arrows(fig))


@pytest.mark.parametrize("sharing", ["hard", "independent", "soft", "cross-stitch", "mmoe"])
def test_network_figure_draws_the_text_branch(sharing: str) -> None:
    """Token ids → text encoder (shared) → concat with the table's features → the
    architecture's first blocks, as nodes and arrows, for every sharing architecture."""
    cfg = ModelConfig(sharing=sharing, hidden=[64], experts=3)
    branch = TextBranch("review", ids=64, embeddings=10_002, encoder="bag", dim=32)
    description = describe_config(cfg, (1165 + 32,), HEADS, [branch])
    fig = network_figure(description)
    found = nodes(fig)
    text_in = "input: text column review, 64 token ids per row"
    encoder = "shared: text encoder EmbeddingBag 10002→32 (mean)"
    table = "input: 1165 table features"
    concat = "joined: 1165 + 32 = 1197 features"
    assert {text_in, encoder, table, concat} <= set(found)
    texts = [a.text.replace("<br>", " ") for a in fig.layout.annotations]  # lines wrap to fit
    assert "Text review 64 token ids" in texts
    # the encoder's label where it fits, else its name and sizes (the hover has the label)
    assert "EmbeddingBag 10002→32 (mean)" in texts or "bag 10002→32" in texts
    narrow = network_figure(description, width_px=400)
    assert "bag<br>10002→32" in [a.text for a in narrow.layout.annotations]
    assert "Table 1165 features" in texts and "Concat 1197 features" in texts
    fill = {text: r.fillcolor for text, r in zip(fig.data[0].hovertext, boxes(fig), strict=True)}
    assert fill[encoder] == SHARED_COLOR  # the text encoder is shared by every task
    assert found[text_in][2] == found[encoder][2]  # on one row
    assert connects(fig, text_in, encoder)
    assert connects(fig, encoder, concat)
    assert connects(fig, table, concat)
    # the concat feeds what the architecture reads first: its shared trunk or each task's path
    first = (
        [f"shared: {description['shared'][0]}"]
        if sharing in ("hard", "mmoe")
        else [f"{task}: {description['tasks'][task][0]}" for task in HEADS]
    )
    if sharing == "cross-stitch":  # the stitch units come after each task's block
        first = [f"{task}: {description['tasks'][task][0]}" for task in HEADS]
    assert all(connects(fig, concat, block) for block in first)
    assert "shared by all tasks" in fig.layout.annotations[-1].text


def test_network_figure_text_only_and_two_text_columns() -> None:
    gru = [
        TextBranch("title", ids=16, embeddings=502, encoder="gru", dim=8),
        TextBranch("body", ids=128, embeddings=20_002, encoder="gru", dim=8),
    ]
    description = describe_config(ModelConfig(hidden=[32]), (2 * 16,), {"a": 1}, gru)
    fig = network_figure(description)
    found = nodes(fig)
    assert not any(key.startswith("input: ") and "table" in key for key in found)
    assert "joined: 16 + 16 = 32 features" in found
    for column, ids, rows in (("title", 16, 502), ("body", 128, 20_002)):
        text_in = f"input: text column {column}, {ids} token ids per row"
        encoder = f"shared: text encoder Embedding {rows}→8 + BiGRU 8×2"
        assert connects(fig, text_in, encoder)
        assert connects(fig, encoder, "joined: 16 + 16 = 32 features")
    # one text column alone: its encoder feeds the architecture directly (no concat)
    one = describe_config(ModelConfig(hidden=[32]), (16,), {"a": 1}, gru[:1])
    fig = network_figure(one)
    assert not any(key.startswith("joined") for key in nodes(fig))
    assert connects(
        fig, "shared: text encoder Embedding 502→8 + BiGRU 8×2", "shared: Linear 16→32 + ReLU"
    )


@pytest.mark.parametrize("sharing", ["hard", "independent", "soft", "cross-stitch", "mmoe"])
def test_network_figure_draws_the_image_input_and_its_conv_encoder(sharing: str) -> None:
    cfg = ModelConfig(sharing=sharing, hidden=[16], channels=[4, 8], experts=2)
    description = describe_config(cfg, (3, 32, 32), HEADS)
    fig = network_figure(description)
    found = nodes(fig)
    texts = [a.text.replace("<br>", " ") for a in fig.layout.annotations]
    assert "Image 3×32×32 RGB" in texts
    assert "conv encoder · 2 conv blocks" in texts
    image = "input: image 3×32×32"
    first = (
        [f"shared: {description['shared'][0]}"]
        if sharing in ("hard", "mmoe")
        else [f"{task}: {description['tasks'][task][0]}" for task in HEADS]
    )
    assert all("Conv3×3 3→4" in block for block in first)
    assert all(connects(fig, image, block) for block in first)
    # the bracket spans the two conv blocks' columns
    [bracket] = [s for s in fig.layout.shapes if s.type == "path"]
    xs = [float(v.split(",")[0]) for v in bracket.path.replace("M ", "").split(" L ")]
    conv = [b for text, b in found.items() if "Conv3×3" in text]
    assert min(xs) == pytest.approx(min(b[0] for b in conv))
    assert max(xs) == pytest.approx(max(b[1] for b in conv))
    # a table has no bracket
    plain_fig = network_figure(
        describe_config(cfg.model_copy(update={"channels": []}), (5,), HEADS)
    )
    assert not [s for s in plain_fig.layout.shapes if s.type == "path"]


def test_network_figure_hard_arrows_fan_out_from_the_trunk() -> None:
    description = describe_config(
        ModelConfig(hidden=[8, 8], branch_depth=1), (5,), {"a": 1, "b": 2}
    )
    fig = network_figure(description)
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    # input → trunk, trunk → each task's first block, then one arrow per remaining task block
    assert len(arrows) == 1 + 2 + 2 * (len(description["tasks"]["a"]) - 1)
    assert "shared" in fig.layout.annotations[-1].text


def test_fit_height_moves_the_legend_further_down_on_a_shorter_chart() -> None:
    from mtl.viz.curves import curves_figure
    from mtl.viz.style import fit_height

    frame = pd.DataFrame(
        {
            "x": [1, 2],
            "task": ["a", "a"],
            "split": ["train", "train"],
            "metric": ["loss"] * 2,
            "value": [1.0, 0.5],
            "smoothed": [1.0, 0.5],
        }
    )
    tall = fit_height(curves_figure(frame, title="t", colors={}), 600)
    short = fit_height(curves_figure(frame, title="t", colors={}), 300)
    assert short.layout.height == 300 and tall.layout.height == 600
    assert short.layout.legend.y < tall.layout.legend.y < 0


# ---- sweeps ------------------------------------------------------------------------------


def sweep_table() -> pd.DataFrame:
    """Four settings whose means coincide two by two (labels must not hide each other)."""
    return pd.DataFrame(
        {
            "model.sharing": ["hard", "hard", "independent", "independent"],
            "loss.weighting": ["equal", "uncertainty", "equal", "uncertainty"],
            "label/accuracy mean": [0.9, 0.9, 0.8, 0.8],
            "label/accuracy std": [0.01, 0.02, 0.0, 0.01],
            "regression/rmse mean": [0.5, 0.5, 0.7, 0.7],
            "regression/rmse std": [0.1, 0.1, 0.1, 0.1],
            "delta_m mean": [2.0, 1.5, 0.0, -1.0],
        }
    )


def test_pareto_points_are_labelled_with_their_setting_on_distinct_sides() -> None:
    from mtl.study.sweeps import pareto_front
    from mtl.viz.sweeps import pareto_figure

    table = sweep_table()
    front = pareto_front(table, "label/accuracy mean", "regression/rmse mean", True, False)
    fig = pareto_figure(
        table,
        "label/accuracy mean",
        "regression/rmse mean",
        front,
        labels=["model.sharing", "loss.weighting"],
    )
    notes = {a.text: a for a in fig.layout.annotations}
    assert sorted(notes) == sorted(
        ["hard · equal", "hard · uncertainty", "independent · equal", "independent · uncertainty"]
    )
    for text, note in notes.items():  # each label points at its own setting's mean
        row = table[
            table["model.sharing"].str.cat(table["loss.weighting"], sep=" · ") == text
        ].iloc[0]
        assert (note.x, note.y) == (row["label/accuracy mean"], row["regression/rmse mean"])
    # the two settings at the same spot get their labels on different sides
    assert (notes["hard · equal"].ax, notes["hard · equal"].ay) != (
        notes["hard · uncertainty"].ax,
        notes["hard · uncertainty"].ay,
    )
    assert (notes["independent · equal"].ax, notes["independent · equal"].ay) != (
        notes["independent · uncertainty"].ax,
        notes["independent · uncertainty"].ay,
    )
    assert fig.layout.xaxis.title.text == "label · accuracy mean"
    assert fig.layout.yaxis.title.text == "regression · RMSE mean"


def test_pareto_bars_show_the_seed_spread_of_grid_settings_and_of_search_trials() -> None:
    from mtl.viz.sweeps import pareto_figure

    table = sweep_table()
    on_front = pd.Series([True, False, False, True], index=table.index)
    grid = pareto_figure(
        table, "label/accuracy mean", "regression/rmse mean", on_front, labels=["model.sharing"]
    )
    dominated, front = grid.data[0], grid.data[1]
    assert list(front.error_x.array) == [0.01, 0.01] and list(front.error_y.array) == [0.1, 0.1]
    assert list(dominated.error_x.array) == [0.02, 0.0]
    # a search on several seeds: the objective columns are means with "<column> std" beside
    trials = pd.DataFrame(
        {
            "trial": ["#0", "#1"],
            "a": [0.9, 0.8],
            "a std": [0.03, 0.05],
            "b": [0.4, 0.6],
            "b std": [0.1, 0.2],
        }
    )
    searched = pareto_figure(trials, "a", "b", pd.Series([True, True]), labels=["trial"])
    assert list(searched.data[1].error_x.array) == [0.03, 0.05]
    assert list(searched.data[1].error_y.array) == [0.1, 0.2]
    one_seed = pareto_figure(
        trials.drop(columns=["a std", "b std"]), "a", "b", pd.Series([True, True]), labels=["trial"]
    )
    assert one_seed.data[1].error_x.array is None  # no spread to show


def test_parallel_coordinates_have_readable_axis_titles_and_room_for_them() -> None:
    from mtl.viz.sweeps import parallel_figure

    fig = parallel_figure(
        sweep_table(), ["model.sharing", "loss.weighting"], "delta_m mean", title=""
    )
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["sharing", "weighting", "Δm (%) mean"]
    assert list(dims[0].ticktext) == ["hard", "independent"]
    assert fig.layout.margin.l >= 80 and fig.layout.margin.r >= 80 and fig.layout.margin.t >= 72


HOSTILE = [
    "<img src=x onerror=window.__pwned=1>",
    "<iframe srcdoc='<script>parent.__pwned=1</script>'>",
    "<a href='javascript:alert(1)'>x</a>",
    "**bold**",
]


def test_user_strings_reach_plotly_escaped() -> None:
    """Run, task and class names are text in every figure: no tag survives into the JSON."""
    metrics = synthetic_metrics()
    renamed = metrics.assign(
        task=metrics["task"].map(dict(zip(TASKS, HOSTILE, strict=False))).fillna(metrics["task"])
    )
    frame = curve_frame(renamed, "loss", "step")
    figures = [
        curves_figure(frame, title=HOSTILE[0]),
        overlay_figure({HOSTILE[1]: frame}, task=HOSTILE[0], title=HOSTILE[2]),
        weights_figure(synthetic_weights().assign(task=HOSTILE[0])),
        confusion_figure([HOSTILE[0], HOSTILE[1]] * 5, [HOSTILE[1], HOSTILE[0]] * 5, HOSTILE[:2]),
        network_figure(
            describe_config(ModelConfig(sharing="hard", hidden=[8]), (4,), {HOSTILE[0]: 1})
        ),
        network_figure(  # a text column named like markup
            describe_config(
                ModelConfig(sharing="hard", hidden=[8]),
                (4 + 8,),
                {"a": 1},
                [TextBranch(HOSTILE[1], ids=4, embeddings=10, encoder="bag", dim=8)],
            )
        ),
    ]
    for fig in figures:
        text = fig.to_json()
        assert (
            "<img" not in text
            and "<iframe" not in text
            and "<a href" not in text
            and "<script" not in text
        )
    assert figures[0].layout.title.text == "&lt;img src=x onerror=window.__pwned=1&gt;"
    assert {t.name.rsplit(" · ", 1)[0] for t in figures[1].data} == {
        "&lt;iframe srcdoc='&lt;script&gt;parent.__pwned=1&lt;/script&gt;'&gt;"
    }
