"""A zipped image folder uploaded on the Experiment page: unpacked safely under the home."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from image_support import write_digits_folder, zip_folder

from mtl.config import ExperimentConfig
from mtl.data.catalog import DataError
from mtl.ui import form
from mtl.viz.labels import dataset_label


def test_a_zip_upload_unpacks_under_the_home_and_trains_from_there(tmp_path: Path) -> None:
    folder = write_digits_folder(tmp_path / "src", limit=60)
    content = zip_folder(folder, tmp_path / "a.zip", inside="my digits").read_bytes()
    home = tmp_path / "home"
    root = form.save_zip_upload(content, "../../Digit photos (v2).zip", home)
    assert root.is_relative_to(home / "uploads") and root.name == "my digits"
    assert root.parent.name == "Digit_photos__v2"  # the sanitised upload name
    assert (root / "labels.csv").is_file() and len(list((root / "img").iterdir())) == 60
    again = form.save_zip_upload(content, "../../Digit photos (v2).zip", home)
    assert again == root  # the same upload reuses its folder
    config = {
        "data": {"dataset": "images", "path": str(root), "options": {"size": 8}},
        "tasks": [{"name": "digit", "target": "digit", "kind": "multiclass"}],
    }
    parsed, problems = form.check(config, form.load_dataset("images", {"size": 8}, str(root)))
    assert problems == [] and parsed is not None
    assert dataset_label(parsed.data.model_dump()) == "images: my digits"
    assert form.model_inputs(ExperimentConfig.from_dict(config))[0] == (1, 8, 8)


def test_a_refused_zip_leaves_nothing_in_the_home(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.csv", "file,y\n")
        archive.writestr("../../escape.png", "x")
    home = tmp_path / "home"
    with pytest.raises(DataError, match="points outside the folder"):
        form.save_zip_upload(buffer.getvalue(), "evil.zip", home)
    assert not any(p.is_file() for p in home.rglob("*"))
    assert not (tmp_path / "escape.png").exists()
    with pytest.raises(DataError, match="expands to more than"):
        form.save_zip_upload(zip_bytes(2_000_000), "big.zip", home, max_bytes=1_000_000)


def test_a_zip_without_labels_is_refused_in_one_line(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.png", "x")
    with pytest.raises(DataError) as err:
        form.save_zip_upload(buffer.getvalue(), "pics.zip", tmp_path)
    message = str(err.value)
    assert "holds no labels.csv" in message and "\n" not in message
    assert str(tmp_path) not in message  # the server's folders are not shown
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def zip_bytes(size: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("labels.csv", "file,y\n")
        archive.writestr("zeros.png", bytes(size))
    return buffer.getvalue()
