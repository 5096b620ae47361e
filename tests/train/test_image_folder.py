"""Training from an image folder: the digits as PNG files match the in-memory digits preset,
batches are decoded lazily, and the CLI trains and predicts image files (folder or zip)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from image_support import write_digits_folder, zip_folder

from conftest import assert_user_error, run_cli
from mtl import presets
from mtl.config import ExperimentConfig
from mtl.data.images import ImageArray
from mtl.train.batches import LazyBatches
from mtl.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digits_folder(tmp_path_factory.mktemp("digits-png"))


def image_config(base: ExperimentConfig, folder: Path, **options: object) -> ExperimentConfig:
    data = {"dataset": "images", "path": str(folder), "options": {"size": 8, **options}}
    return ExperimentConfig.from_dict({**base.to_dict(), "data": data})


def test_png_digits_reach_the_in_memory_presets_accuracy(digits_folder: Path) -> None:
    base = presets.load("digits").with_overrides({"train.epochs": 6})
    in_memory = Trainer(base).fit()
    trainer = Trainer(image_config(base, digits_folder))
    assert isinstance(trainer._tensors["train"]["x"], LazyBatches)  # decoded per batch
    from_files = trainer.fit()
    assert from_files.status == "finished" and not from_files.data.warnings
    for task in ("digit", "parity", "ge5"):
        a = in_memory.summary["test"][task]["accuracy"]
        b = from_files.summary["test"][task]["accuracy"]
        assert abs(a - b) <= 0.02, (task, a, b)
    assert from_files.summary["test"]["digit"]["accuracy"] > 0.8  # it learned, on both sides
    # Same seed, same split: the test rows are the same images.
    np.testing.assert_array_equal(in_memory.data.test.rows, from_files.data.test.rows)


def test_lazy_batches_decode_only_the_rows_asked_for(digits_folder: Path) -> None:
    import torch

    images = ImageArray(digits_folder, ["img/0003.png", "img/0001.png"], 8, "grey")
    lazy = LazyBatches(images, torch.device("cpu"))
    batch = lazy.index_select(0, torch.tensor([1, 0, 1]))
    assert batch.shape == (3, 1, 8, 8)
    torch.testing.assert_close(batch[0], batch[2])
    from sklearn.datasets import load_digits

    expected = torch.from_numpy(load_digits().images[[1, 3]] / 16.0).float()
    torch.testing.assert_close(batch[:2, 0], expected, atol=1 / 255, rtol=0)


def test_cli_trains_and_predicts_image_files(
    digits_folder: Path, tmp_path: Path, home: Path
) -> None:
    config = image_config(
        presets.load("digits").with_overrides({"train.epochs": 2, "name": "png digits"}),
        digits_folder,
    )
    path = tmp_path / "images.yaml"
    path.write_text(config.to_yaml())
    result = run_cli("run", str(path), "--json", home=home)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    run_id, run_folder = summary["run_id"], Path(summary["output"])
    stored = pd.read_csv(run_folder / "predictions" / "digit.csv")

    out = tmp_path / "pred.csv"
    result = run_cli(
        "predict", run_id, "--images", str(digits_folder), "--out", str(out), home=home
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert len(table) == 1797 and list(table.columns[:3]) == ["row", "file", "digit"]
    assert (
        table["digit (label)"].tolist()
        == pd.read_csv(digits_folder / "labels.csv")["digit"].tolist()
    )
    # The CLI's predictions of the test images are the run's own test predictions.
    mine = table.iloc[stored["row"]]
    assert mine["digit"].tolist() == stored["pred"].tolist()
    np.testing.assert_allclose(mine["digit p(3)"], stored["p_3"], atol=1e-5)

    # A zip of a few images without labels.csv, plus a file that is not an image.
    loose = tmp_path / "loose"
    (loose / "sub").mkdir(parents=True)
    for i in (5, 7):
        (loose / "sub" / f"{i}.png").write_bytes(
            (digits_folder / "img" / f"{i:04d}.png").read_bytes()
        )
    (loose / "readme.txt").write_text("hello")
    archive = zip_folder(loose, tmp_path / "loose.zip")
    result = run_cli(
        "predict",
        run_id,
        "--images",
        str(archive),
        "--out",
        str(out),
        "--json",
        "--force",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    assert "readme.txt" in json.loads(result.stdout)["warnings"][0]
    zipped = pd.read_csv(out)
    assert zipped["file"].tolist() == ["sub/5.png", "sub/7.png"]
    assert zipped["digit"].tolist() == table["digit"].iloc[[5, 7]].tolist()

    # Wrong kind of input for this model: one line, exit 2.
    assert_user_error(
        run_cli(
            "predict",
            run_id,
            "--csv",
            str(digits_folder / "labels.csv"),
            "--out",
            str(out),
            "--force",
            home=home,
        ),
        "reads image files",
        "--images",
    )
    assert_user_error(
        run_cli(
            "predict",
            run_id,
            "--images",
            str(tmp_path / "none"),
            "--out",
            str(out),
            "--force",
            home=home,
        ),
        "neither a folder nor a .zip",
    )


def test_cli_refuses_a_folder_without_labels(tmp_path: Path, home: Path) -> None:
    (tmp_path / "pics").mkdir()
    config = {
        "data": {"dataset": "images", "path": str(tmp_path / "pics")},
        "tasks": [{"name": "y", "target": "y"}],
    }
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert_user_error(run_cli("run", str(path), home=home), "has no labels.csv")
