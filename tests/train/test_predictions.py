"""Test predictions written beside a run agree with the run's own test metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, r2_score

from mtl import presets
from mtl.train.outputs import OutputWriter
from mtl.train.trainer import Trainer


def test_prediction_files_reproduce_the_test_metrics(tmp_path: Path) -> None:
    config = presets.load("penguins").with_overrides(
        {"train.epochs": 8, "train.early_stopping": None}
    )
    result = Trainer(config, callbacks=[OutputWriter(tmp_path)]).fit()
    folder = tmp_path / "predictions"
    for task in ("species", "sex"):
        frame = pd.read_csv(folder / f"{task}.csv")
        labelled = frame[frame["true"].notna()]
        assert np.isclose(
            accuracy_score(labelled["true"], labelled["pred"]),
            result.summary["test"][task]["accuracy"],
        )
        proba = frame.filter(like="p_")
        assert np.allclose(proba.sum(axis=1), 1.0)
        assert (proba.idxmax(axis=1).str.removeprefix("p_") == frame["pred"].astype(str)).all()
    mass = pd.read_csv(folder / "body_mass.csv").dropna()
    r2 = r2_score(mass["true_body_mass_g"], mass["pred_body_mass_g"])
    assert np.isclose(r2, result.summary["test"]["body_mass"]["r2"], atol=1e-5)
    # rows point back into the dataset: the true labels are the dataset's own values
    from palmerpenguins import load_penguins

    raw = load_penguins()
    species = pd.read_csv(folder / "species.csv")
    assert (raw.loc[species["row"], "species"].to_numpy() == species["true"].to_numpy()).all()
    # regression: the true values are the column's own numbers, not an inverse transform of
    # the standardised float32 targets (4249.999999710176 for a 4250 g bird)
    masses = pd.read_csv(folder / "body_mass.csv")
    expected = raw.loc[masses["row"], "body_mass_g"].to_numpy(dtype=np.float64)
    np.testing.assert_array_equal(masses["true_body_mass_g"].to_numpy(), expected)
