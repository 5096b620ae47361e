"""Every catalog dataset loads with the expected shape and columns; the generators do what they say."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mtl.config import ExperimentConfig
from mtl.data import DATASETS
from mtl.data.catalog import describe, get_dataset
from mtl.data.prepare import prepare

EXPECTED = {
    # name: (rows, columns that must be there)
    "penguins": (
        344,
        ["species", "island", "sex", "body_mass_g", "bill_length_mm", "flipper_length_mm"],
    ),
    "digits": (1797, ["px_00", "px_63", "digit", "parity", "ge5"]),
    "wine": (178, ["cultivar", "alcohol", "color_intensity", "proline"]),
    "synthetic": (4000, ["x0", "x31", "y1", "y2"]),
    "seed-example": (1000, ["x0", "x4", "label", "r0", "r1", "r2"]),
    "movie-reviews": (13_905, ["text", "movie_name", "sentiment", "passage"]),
}


def frame(name: str, **options: Any) -> pd.DataFrame:
    """The dataset's table with these options."""
    return get_dataset(name).frame(name, options)


def test_catalog_covers_every_registered_dataset() -> None:
    assert set(EXPECTED) | {"csv", "images"} == set(DATASETS.names())  # csv, images: a user path


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_loads_with_expected_shape(name: str) -> None:
    rows, columns = EXPECTED[name]
    table = frame(name)
    assert len(table) == rows
    for column in columns:
        assert column in table.columns
    info = describe(name)
    assert info.rows == rows
    assert info.description
    # the suggested tasks name real columns, and no target is offered as a feature
    targets = {
        c
        for t in info.suggested_tasks
        for c in ([t["target"]] if isinstance(t["target"], str) else t["target"])
    }
    assert targets and targets <= set(table.columns)
    assert not targets & set(info.features)
    assert info.features


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loading_twice_gives_the_same_table(name: str) -> None:
    pd.testing.assert_frame_equal(frame(name), frame(name))


def test_penguins_columns_and_missing_sex() -> None:
    table = frame("penguins")
    assert set(table["species"].dropna()) == {"Adelie", "Chinstrap", "Gentoo"}
    assert set(table["island"].dropna()) == {"Biscoe", "Dream", "Torgersen"}
    assert table["sex"].isna().sum() == 11
    assert set(table["sex"].dropna()) == {"female", "male"}
    info = describe("penguins")
    assert "island" in info.features  # a categorical input
    assert "year" not in info.features


def test_digits_labels() -> None:
    table = frame("digits")
    digit = table["digit"].to_numpy()
    assert sorted(set(digit)) == list(range(10))
    assert (table["ge5"].to_numpy() == (digit >= 5)).all()
    assert (table["parity"].to_numpy() == np.where(digit % 2 == 0, "even", "odd")).all()


def test_digits_served_as_images_in_unit_range() -> None:
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "digits"},
            "tasks": [{"name": "digit", "target": "digit", "kind": "multiclass"}],
        }
    )
    data = prepare(config)
    assert data.input_shape == (1, 8, 8)
    for split in (data.train, data.val, data.test):
        assert split.x.shape[1:] == (1, 8, 8)
        assert split.x.dtype == np.float32
        assert split.x.min() >= 0.0 and split.x.max() <= 1.0
    assert data.train.x.max() == 1.0  # 16/16: the pixels are scaled, not standardized
    # pixel (r, c) of the image is column px_{8r+c} of the table
    table = frame("digits")
    row = int(data.train.rows[0])
    np.testing.assert_allclose(
        data.train.x[0, 0], table.iloc[row, :64].to_numpy(float).reshape(8, 8), atol=1e-6
    )


def test_digits_flattened_for_an_mlp() -> None:
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "digits"},
            "tasks": [{"name": "digit", "target": "digit", "kind": "multiclass"}],
            "model": {"encoder": "mlp"},
        }
    )
    assert prepare(config).input_shape == (64,)


def test_wine_has_classification_and_regression_tasks() -> None:
    kinds = {t["kind"] for t in describe("wine").suggested_tasks}
    assert {"multiclass", "regression"} <= kinds
    assert frame("wine")["cultivar"].nunique() == 3


# ---- synthetic (Ma et al. 2018) ------------------------------------------------------


def linear_parts(p: float, samples: int = 4000) -> pd.DataFrame:
    """Targets with no sine terms and no noise: exactly w_tᵀx."""
    return frame("synthetic", p=p, sines=0, noise=0.0, samples=samples, features=16)


def fitted_weights(table: pd.DataFrame, target: str, d: int = 16) -> np.ndarray:
    """w recovered by least squares from x and a noiseless linear target."""
    x = table[[f"x{i}" for i in range(d)]].to_numpy()
    w, *_ = np.linalg.lstsq(x, table[target].to_numpy(), rcond=None)
    return w


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_synthetic_p1_gives_identical_tasks() -> None:
    table = linear_parts(1.0)
    np.testing.assert_allclose(table["y1"], table["y2"], atol=1e-12)
    # with the sine terms (same α, β for both tasks) and no noise they are still identical
    full = frame("synthetic", p=1.0, noise=0.0, samples=500)
    np.testing.assert_allclose(full["y1"], full["y2"], atol=1e-12)


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9, -0.7])
def test_synthetic_weight_vectors_have_cosine_p(p: float) -> None:
    table = linear_parts(p, samples=400)
    w1, w2 = fitted_weights(table, "y1"), fitted_weights(table, "y2")
    assert cosine(w1, w2) == pytest.approx(p, abs=1e-6)
    # both have norm c = 1
    assert np.linalg.norm(w1) == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(w2) == pytest.approx(1.0, abs=1e-6)


def test_synthetic_p0_linear_parts_are_uncorrelated() -> None:
    table = linear_parts(0.0, samples=20000)
    assert abs(np.corrcoef(table["y1"], table["y2"])[0, 1]) < 0.03
    related = linear_parts(0.9, samples=20000)
    assert np.corrcoef(related["y1"], related["y2"])[0, 1] == pytest.approx(0.9, abs=0.02)


def test_synthetic_label_correlation_grows_with_p() -> None:
    corr = [
        np.corrcoef(*frame("synthetic", p=p, samples=3000)[["y1", "y2"]].to_numpy().T)[0, 1]
        for p in (0, 0.5, 0.9)
    ]
    assert corr[0] < corr[1] < corr[2]


def test_synthetic_noise_has_the_given_scale() -> None:
    clean = frame("synthetic", noise=0.0, samples=5000)
    noisy = frame("synthetic", noise=0.5, samples=5000)
    # same seed: same x, same w; only ε differs (drawn after x)
    np.testing.assert_allclose(clean["x3"], noisy["x3"])
    assert float((noisy["y1"] - clean["y1"]).std()) == pytest.approx(0.5, rel=0.05)


def test_synthetic_options_shape_the_table() -> None:
    table = frame("synthetic", n_tasks=4, features=6, samples=50)
    assert table.shape == (50, 6 + 4)
    assert [c for c in table.columns if c.startswith("y")] == ["y1", "y2", "y3", "y4"]


def test_synthetic_binary_option_thresholds_at_zero() -> None:
    raw = frame("synthetic", samples=500)
    table = frame("synthetic", samples=500, binary=[2])
    assert set(table["y2"].unique()) == {0, 1}
    assert (table["y2"].to_numpy() == (raw["y2"].to_numpy() > 0)).all()
    pd.testing.assert_series_equal(table["y1"], raw["y1"])


def test_synthetic_seed_changes_the_data() -> None:
    assert not np.allclose(
        frame("synthetic", samples=100, seed=0)["y1"], frame("synthetic", samples=100, seed=1)["y1"]
    )


# ---- seed-example --------------------------------------------------------------------


def test_seed_example_has_binary_label_and_three_regression_columns() -> None:
    table = frame("seed-example")
    assert list(table.columns) == ["x0", "x1", "x2", "x3", "x4", "label", "r0", "r1", "r2"]
    assert set(table["label"].unique()) == {0, 1}
    assert 0.2 < table["label"].mean() < 0.8
    for column in ("r0", "r1", "r2"):
        assert pd.api.types.is_float_dtype(table[column])
        assert table[column].std() > 0.1
    tasks = {t["name"]: t for t in describe("seed-example").suggested_tasks}
    assert tasks["regression"]["target"] == ["r0", "r1", "r2"]
    assert tasks["label"]["kind"] == "binary"


def test_seed_example_prepared_regression_has_three_outputs() -> None:
    config = ExperimentConfig.from_dict(
        {
            "data": {"dataset": "seed-example", "options": {"samples": 200}},
            "tasks": [
                {"name": "label", "target": "label"},
                {"name": "regression", "target": ["r0", "r1", "r2"]},
            ],
        }
    )
    data = prepare(config)
    specs = {t.name: t for t in data.tasks}
    assert specs["regression"].kind == "regression" and specs["regression"].out_dim == 3
    assert specs["label"].kind == "binary" and specs["label"].out_dim == 1
    assert data.train.y["regression"].shape == (len(data.train), 3)
    assert data.feature_names == ["x0", "x1", "x2", "x3", "x4"]
