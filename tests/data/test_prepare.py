"""Preparation: fitted on train only, clean splits, per-task label masks, the CSV path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtl.config import ExperimentConfig, TaskConfig
from mtl.data.catalog import get_dataset
from mtl.data.prepare import PreparedData, prepare
from mtl.data.tasks import infer_kind, resolve_kind
from mtl.train.metrics import to_original_units

SEED_TASKS = [
    {"name": "label", "target": "label"},
    {"name": "regression", "target": ["r0", "r1", "r2"]},
]


def config(**sections: Any) -> ExperimentConfig:
    data: dict[str, Any] = {
        "data": {"dataset": "seed-example", "options": {"samples": 400}},
        "tasks": SEED_TASKS,
    }
    data.update(sections)
    return ExperimentConfig.from_dict(data)


def raw(cfg: ExperimentConfig) -> pd.DataFrame:
    return get_dataset(cfg.data.dataset).frame(cfg.data.dataset, cfg.data.options, cfg.data.path)


# ---- fitted on the training split only -----------------------------------------------


def test_scaler_is_fitted_on_train_rows_only() -> None:
    cfg = config()
    data = prepare(cfg)
    table = raw(cfg)
    columns = ["x0", "x1", "x2", "x3", "x4"]
    scaler = data.preprocessor.named_transformers_["num"].named_steps["scale"]
    train_mean = table.iloc[data.train.rows][columns].mean().to_numpy()
    train_std = table.iloc[data.train.rows][columns].std(ddof=0).to_numpy()
    np.testing.assert_allclose(scaler.mean_, train_mean, rtol=1e-10)
    np.testing.assert_allclose(scaler.scale_, train_std, rtol=1e-10)
    # and that is not the mean over all rows (so the check above can tell the difference)
    assert not np.allclose(scaler.mean_, table[columns].mean().to_numpy(), rtol=1e-4, atol=1e-4)
    # the training inputs are standardized exactly, the held-out ones only roughly
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.x.std(axis=0), 1.0, atol=1e-4)
    expected_test = (table.iloc[data.test.rows][columns].to_numpy() - train_mean) / train_std
    np.testing.assert_allclose(data.test.x, expected_test, rtol=1e-4, atol=1e-5)


def test_imputer_uses_train_median() -> None:
    cfg = ExperimentConfig.from_dict(
        {"data": {"dataset": "penguins"}, "tasks": [{"name": "species", "target": "species"}]}
    )
    data = prepare(cfg)
    table = raw(cfg)
    imputer = data.preprocessor.named_transformers_["num"].named_steps["impute"]
    numeric = data.preprocessor.transformers_[0][2]
    expected = table.iloc[data.train.rows][numeric].median().to_numpy()
    np.testing.assert_allclose(imputer.statistics_, expected)


# ---- splits --------------------------------------------------------------------------


@pytest.mark.parametrize(("val", "test"), [(0.15, 0.15), (0.2, 0.1), (0.0, 0.25)])
def test_split_sizes_and_no_overlap(val: float, test: float) -> None:
    cfg = config(
        data={
            "dataset": "seed-example",
            "options": {"samples": 400},
            "val_fraction": val,
            "test_fraction": test,
        }
    )
    data = prepare(cfg)
    assert len(data.test) == round(test * 400)
    assert len(data.val) == round(val * 400)
    assert len(data.train) == 400 - len(data.test) - len(data.val)
    sets = [set(data.train.rows), set(data.val.rows), set(data.test.rows)]
    assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
    assert sets[0] | sets[1] | sets[2] == set(range(400))
    for split in (data.train, data.val, data.test):
        assert (
            split.x.shape[0] == len(split.rows) == len(split.y["label"]) == len(split.mask["label"])
        )


def test_split_depends_on_seed_and_repeats_with_it() -> None:
    a, b = prepare(config()), prepare(config())
    np.testing.assert_array_equal(a.test.rows, b.test.rows)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    c = prepare(config(train={"seed": 1}))
    assert not np.array_equal(a.test.rows, c.test.rows)


def test_stratification_keeps_class_proportions(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 1000
    label = np.zeros(n, dtype=int)
    label[rng.choice(n, 60, replace=False)] = 1  # 6 % positives
    frame = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "rare": label, "y": rng.normal(size=n)}
    )
    path = tmp_path / "rare.csv"
    frame.to_csv(path, index=False)
    cfg = ExperimentConfig.from_dict(
        {
            "data": {
                "dataset": "csv",
                "path": str(path),
                "val_fraction": 0.2,
                "test_fraction": 0.2,
            },
            "tasks": [{"name": "y", "target": "y"}, {"name": "rare", "target": "rare"}],
        }
    )
    data = prepare(cfg)
    for split in (data.train, data.val, data.test):
        positives = int(frame["rare"].to_numpy()[split.rows].sum())
        assert abs(positives - 0.06 * len(split)) <= 1, (len(split), positives)


def test_stratification_on_multiclass_penguins() -> None:
    cfg = ExperimentConfig.from_dict(
        {"data": {"dataset": "penguins"}, "tasks": [{"name": "species", "target": "species"}]}
    )
    data = prepare(cfg)
    species = raw(cfg)["species"].to_numpy()
    overall = pd.Series(species).value_counts(normalize=True)
    for split in (data.train, data.val, data.test):
        share = pd.Series(species[split.rows]).value_counts()
        for name, fraction in overall.items():
            assert abs(share[name] - fraction * len(split)) <= 1


# ---- the CSV path --------------------------------------------------------------------


def make_csv(path: Path, n: int = 120) -> pd.DataFrame:
    """A messy table: NaN features, a categorical, an id, free text, targets with gaps."""
    rng = np.random.default_rng(1)
    size = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    size_with_gaps = size.copy()
    size_with_gaps[[3, 17, 50]] = np.nan
    effect = {"red": 2.0, "green": 0.0, "blue": -2.0}
    score = 3.0 * size + np.array([effect[c] for c in colour]) + 100.0
    flag = np.where(size + rng.normal(scale=0.3, size=n) > 0, "yes", "no").astype(object)
    flag[[0, 5, 9, 40, 77]] = None
    score[[1, 5, 33]] = np.nan
    notes = [f"free text note number {i % 100} about the sample" for i in range(n)]
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            "size": size_with_gaps,
            "colour": colour,
            "notes": notes,
            "flag": flag,
            "score": score,
        }
    )
    frame.to_csv(path, index=False)
    return frame


def csv_config(path: Path, **data: Any) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(path), **data},
            "tasks": [{"name": "flag", "target": "flag"}, {"name": "score", "target": "score"}],
        }
    )


@pytest.fixture
def messy(tmp_path: Path) -> tuple[pd.DataFrame, PreparedData]:
    path = tmp_path / "messy.csv"
    frame = make_csv(path)
    return frame, prepare(csv_config(path, text=[]))  # tabular only (text: test below)


def test_csv_id_left_out_and_free_text_becomes_a_text_input(tmp_path: Path) -> None:
    make_csv(tmp_path / "messy.csv")
    data = prepare(csv_config(tmp_path / "messy.csv"))
    assert data.input_columns == ["size", "colour", "notes"]
    assert [t.column for t in data.text] == ["notes"]
    width = data.text[0].width
    assert data.feature_names[:4] == ["size", "colour_blue", "colour_green", "colour_red"]
    assert data.feature_names[4:] == [f"notes:id{i}" for i in range(width)]
    id_warning = [w for w in data.warnings if "'id'" in w]
    assert len(id_warning) == 1 and "ID" in id_warning[0]
    assert not [w for w in data.warnings if "'notes'" in w]


def test_csv_kinds_inferred(messy) -> None:
    _, data = messy
    specs = {t.name: t for t in data.tasks}
    assert specs["flag"].kind == "binary" and specs["flag"].classes == ["no", "yes"]
    assert specs["score"].kind == "regression" and specs["score"].out_dim == 1


def test_csv_masks_false_exactly_where_labels_are_missing(messy) -> None:
    frame, data = messy
    total = 0
    for split in (data.train, data.val, data.test):
        total += len(split)
        expected_flag = frame["flag"].notna().to_numpy()[split.rows]
        expected_score = frame["score"].notna().to_numpy()[split.rows]
        np.testing.assert_array_equal(split.mask["flag"], expected_flag)
        np.testing.assert_array_equal(split.mask["score"], expected_score)
        # the encoded labels are right where present
        yes = frame["flag"].to_numpy()[split.rows] == "yes"
        np.testing.assert_array_equal(
            split.y["flag"][expected_flag], yes[expected_flag].astype(np.float32)
        )
    # no row was dropped: the 5 rows without a flag and 3 without a score are all still there
    assert total == len(frame)
    all_rows = np.concatenate([data.train.rows, data.val.rows, data.test.rows])
    assert set(all_rows) >= {0, 5, 9, 40, 77, 1, 33}
    # row 0 has no flag but a score: it still trains the score task
    split = next(s for s in (data.train, data.val, data.test) if 0 in s.rows)
    position = int(np.flatnonzero(split.rows == 0)[0])
    assert not split.mask["flag"][position] and split.mask["score"][position]


def test_csv_missing_feature_values_are_imputed(messy) -> None:
    _, data = messy
    for split in (data.train, data.val, data.test):
        assert np.isfinite(split.x).all()


def test_csv_categorical_one_hot(messy) -> None:
    frame, data = messy
    onehot = data.train.x[:, 1:]  # colour_blue, colour_green, colour_red
    np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    colours = frame["colour"].to_numpy()[data.train.rows]
    np.testing.assert_array_equal(onehot[:, 2] == 1.0, colours == "red")


def test_unseen_category_at_test_time_is_ignored(messy) -> None:
    _, data = messy
    new = pd.DataFrame({"size": [0.0, np.nan], "colour": ["purple", "red"]})
    x = data.preprocessor.transform(new)
    np.testing.assert_array_equal(x[0, 1:], [0.0, 0.0, 0.0])  # unseen: all zeros, no error
    np.testing.assert_array_equal(x[1, 1:], [0.0, 0.0, 1.0])
    assert np.isfinite(x).all()


def test_explicit_features_keep_the_listed_columns(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    make_csv(path)
    data = prepare(csv_config(path, features=["colour"]))
    assert data.input_columns == ["colour"]
    assert data.warnings == []


def test_class_weights_are_inverse_frequency_on_train(tmp_path: Path) -> None:
    path = tmp_path / "messy.csv"
    frame = make_csv(path)
    cfg = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "csv", "path": str(path)},
            "tasks": [
                {"name": "flag", "target": "flag", "class_weights": True},
                {"name": "score", "target": "score"},
            ],
        }
    )
    data = prepare(cfg)
    labels = frame["flag"].to_numpy()[data.train.rows]
    labels = labels[pd.notna(labels)]
    counts = {c: int((labels == c).sum()) for c in ("no", "yes")}
    expected = [len(labels) / (2 * counts["no"]), len(labels) / (2 * counts["yes"])]
    assert data.tasks[0].class_weights == pytest.approx(expected)


# ---- task kinds ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", "b", "a", None], "binary"),
        ([0, 1, 1, 0], "binary"),
        ([1.5, 2.5, 1.5], "binary"),
        (["x", "y", "z", "x"], "multiclass"),
        ([0, 1, 2, 3, 4, 2], "multiclass"),
        ([1.0, 2.0, 3.0, np.nan], "multiclass"),
        (list(range(30)), "regression"),
        ([0.1, 0.2, 0.35, 0.4], "regression"),
    ],
)
def test_infer_kind(values: list, kind: str) -> None:
    assert infer_kind(pd.Series(values)) == kind


def test_configured_kind_overrides_inference() -> None:
    frame = pd.DataFrame({"t": [0, 1, 2, 1, 0, 2]})
    assert resolve_kind(TaskConfig(name="t", target="t"), frame) == "multiclass"
    assert resolve_kind(TaskConfig(name="t", target="t", kind="regression"), frame) == "regression"


# ---- regression targets --------------------------------------------------------------


def test_regression_targets_standardized_on_train_and_reversible() -> None:
    cfg = config()
    data = prepare(cfg)
    table = raw(cfg)
    spec = next(t for t in data.tasks if t.name == "regression")
    columns = ["r0", "r1", "r2"]
    train_raw = table.iloc[data.train.rows][columns].to_numpy()
    np.testing.assert_allclose(spec.target_mean, train_raw.mean(axis=0), rtol=1e-10)
    np.testing.assert_allclose(spec.target_std, train_raw.std(axis=0), rtol=1e-10)
    np.testing.assert_allclose(data.train.y["regression"].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.train.y["regression"].std(axis=0), 1.0, atol=1e-5)
    for split in (data.val, data.test):
        original = to_original_units(spec, split.y["regression"])
        np.testing.assert_allclose(
            original, table.iloc[split.rows][columns].to_numpy(), rtol=1e-5, atol=1e-5
        )


def test_standardize_targets_off_keeps_raw_values() -> None:
    cfg = config(
        data={"dataset": "seed-example", "options": {"samples": 400}, "standardize_targets": False}
    )
    data = prepare(cfg)
    spec = next(t for t in data.tasks if t.name == "regression")
    assert spec.target_mean == [0.0, 0.0, 0.0] and spec.target_std == [1.0, 1.0, 1.0]
    np.testing.assert_allclose(
        data.train.y["regression"],
        raw(cfg).iloc[data.train.rows][["r0", "r1", "r2"]].to_numpy(),
        rtol=1e-6,
    )


def test_distinct_integer_feature_is_kept_but_row_numbers_and_named_ids_are_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    from mtl.config import ExperimentConfig as _Config
    from mtl.data.prepare import prepare as _prepare

    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame(
        {
            "income": rng.choice(
                np.arange(10_000, 90_000), size=n, replace=False
            ),  # distinct, not consecutive
            "row": np.arange(n) + 100,  # a row number
            "customer_id": rng.choice(np.arange(1, 10_000), size=n, replace=False),
            "y": rng.integers(0, 2, size=n),
        }
    )
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    config = _Config.from_dict(
        {"data": {"dataset": "csv", "path": str(path)}, "tasks": [{"name": "y", "target": "y"}]}
    )
    data = _prepare(config)
    assert data.input_columns == ["income"]
    assert any("'row'" in w for w in data.warnings) and any(
        "'customer_id'" in w for w in data.warnings
    )
