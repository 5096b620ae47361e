"""Image folders: reading labels.csv, skipping bad files with a warning, decoding, zip safety."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from image_support import write_digits_folder, zip_folder
from PIL import Image

from mtl.config import ConfigError, ExperimentConfig
from mtl.data.catalog import DataError
from mtl.data.images import Augment, ImageArray, decode, extract_zip, read_folder
from mtl.data.prepare import prepare

TASKS = [{"name": "digit", "target": "digit", "kind": "multiclass"}]


def config(path: Path | str, **options: Any) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {"data": {"dataset": "images", "path": str(path), "options": options}, "tasks": TASKS}
    )


def one_line(error: pytest.ExceptionInfo[Exception]) -> str:
    message = str(error.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


@pytest.fixture
def digits(tmp_path: Path) -> Path:
    return write_digits_folder(tmp_path / "digits", limit=120)


def test_prepare_reads_the_folder_lazily_with_the_digits_labels(digits: Path) -> None:
    data = prepare(config(digits, size=8))
    assert data.input_shape == (1, 8, 8)
    assert isinstance(data.train.x, ImageArray)
    assert len(data.train) + len(data.val) + len(data.test) == 120
    # The decoded pixels are the digits' own (v/16, to 8-bit precision), in row order.
    from sklearn.datasets import load_digits

    expected = load_digits().images[data.test.rows[:5]] / 16.0  # (5, 8, 8)
    np.testing.assert_allclose(data.test.x.take(np.arange(5))[:, 0], expected, atol=1 / 255)
    assert data.train.x.augment is None and data.val.x.augment is None


def test_missing_label_masks_only_that_task(digits: Path) -> None:
    labels = pd.read_csv(digits / "labels.csv")
    labels.loc[::3, "parity"] = np.nan
    labels.to_csv(digits / "labels.csv", index=False)
    tasks = [*TASKS, {"name": "parity", "target": "parity", "kind": "binary"}]
    data = prepare(
        ExperimentConfig.from_dict(
            {"data": {"dataset": "images", "path": str(digits)}, "tasks": tasks}
        )
    )
    mask = np.concatenate([data.split(s).mask["parity"] for s in ("train", "val", "test")])
    digit = np.concatenate([data.split(s).mask["digit"] for s in ("train", "val", "test")])
    assert (~mask).sum() == 40 and digit.all()


def test_folder_without_labels_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pics").mkdir()
    Image.new("L", (8, 8)).save(tmp_path / "pics" / "a.png")
    with pytest.raises(DataError) as err:
        prepare(config(tmp_path / "pics"))
    assert "has no labels.csv" in one_line(err) and "'file' column" in str(err.value)


def test_missing_folder_and_missing_path_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        prepare(config(tmp_path / "nowhere"))
    assert "not found" in one_line(err)
    with pytest.raises(ConfigError, match="data.path is required"):
        ExperimentConfig.from_dict({"data": {"dataset": "images"}, "tasks": TASKS})


def test_bad_rows_are_skipped_with_a_warning_and_the_rest_kept(digits: Path) -> None:
    (digits / "notes.txt").write_text("not an image")
    (digits / "fake.png").write_text("text pretending to be a PNG")
    good = (digits / "img" / "0000.png").read_bytes()
    (digits / "cut.png").write_bytes(good[: len(good) // 2])  # truncated: corrupt
    (digits.parent / "outside.png").write_bytes(good)
    labels = pd.read_csv(digits / "labels.csv")
    extra = pd.DataFrame(
        {
            "file": [
                "gone.png",
                "notes.txt",
                "fake.png",
                "cut.png",
                "../outside.png",
                "/etc/passwd",
            ],
            "digit": [1, 2, 3, 4, 5, 6],
        }
    )
    pd.concat([labels, extra]).to_csv(digits / "labels.csv", index=False)
    frame, _, warnings = read_folder(digits)
    assert len(frame) == 120
    text = " | ".join(warnings)
    assert "1 row(s) of labels.csv whose file is missing: 'gone.png'" in text
    assert "is not a PNG or JPEG image: 'notes.txt', 'fake.png'" in text
    assert "is corrupt or unreadable: 'cut.png'" in text
    assert "is outside the folder: '../outside.png', '/etc/passwd'" in text
    data = prepare(config(digits, size=8))
    assert all(w in data.warnings for w in warnings)


def test_no_usable_image_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "labels.csv").write_text("file,digit\na.png,1\nb.png,2\n")
    with pytest.raises(DataError) as err:
        prepare(config(folder))
    assert "has no usable image" in one_line(err) and "missing" in str(err.value)


def test_mixed_sizes_and_modes_are_converted(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.new("RGBA", (10, 14), (255, 0, 0, 128)).save(folder / "a.png")
    Image.new("L", (5, 5), 200).save(folder / "b.jpg")
    Image.new("P", (30, 20)).save(folder / "c.png")
    Image.new("RGB", (16, 16), (0, 0, 255)).save(folder / "d.jpeg")
    for color, channels in (("grey", 1), ("rgb", 3)):
        images = ImageArray(folder, ["a.png", "b.jpg", "c.png", "d.jpeg"], 16, color)  # type: ignore[arg-type]
        batch = images.take([0, 1, 2, 3])
        assert batch.shape == (4, channels, 16, 16) and batch.dtype == np.float32
        assert batch.min() >= 0.0 and batch.max() <= 1.0
    rgb = decode(folder / "a.png", 4, "rgb")
    np.testing.assert_allclose(rgb[:, 0, 0], [1.0, 0.0, 0.0])  # alpha dropped, red kept
    assert decode(folder / "b.jpg", 4, "grey")[0, 0, 0] == pytest.approx(200 / 255, abs=2 / 255)


def test_a_file_broken_after_the_check_names_itself(tmp_path: Path) -> None:
    folder = tmp_path / "later"
    folder.mkdir()
    (folder / "x.png").write_text("garbage")
    with pytest.raises(DataError, match="image .*x.png.* cannot be decoded"):
        ImageArray(folder, ["x.png"], 8, "grey").take([0])


def test_augmentation_flips_and_shifts_deterministically(tmp_path: Path) -> None:
    folder = tmp_path / "aug"
    folder.mkdir()
    pixels = np.zeros((8, 8), dtype=np.uint8)
    pixels[2, 1] = 255  # one bright pixel left of centre
    Image.fromarray(pixels, mode="L").save(folder / "p.png")
    files = ["p.png"] * 64
    flipped = ImageArray(folder, files, 8, "grey", Augment(flip=True, seed=3)).take(range(64))
    cols = {int(np.argwhere(img[0])[0][1]) for img in flipped}
    assert cols == {1, 6}  # mirrored left-right about half the time, never moved otherwise
    shifted = ImageArray(folder, files, 8, "grey", Augment(shift=1, seed=3)).take(range(64))
    spots = {tuple(np.argwhere(img[0])[0]) for img in shifted}
    assert spots <= {(r, c) for r in (1, 2, 3) for c in (0, 1, 2)} and len(spots) > 3
    again = ImageArray(folder, files, 8, "grey", Augment(shift=1, seed=3)).take(range(64))
    np.testing.assert_array_equal(shifted, again)
    data = prepare(
        ExperimentConfig.from_dict(
            {
                "data": {
                    "dataset": "images",
                    "path": str(write_digits_folder(tmp_path / "d", 60)),
                    "options": {"flip": True, "shift": 1},
                },
                "tasks": TASKS,
            }
        )
    )
    assert data.train.x.augment is not None  # type: ignore[union-attr]
    assert data.val.x.augment is None and data.test.x.augment is None  # type: ignore[union-attr]


def test_bad_options_are_one_line(digits: Path) -> None:
    with pytest.raises(ConfigError, match="data.options for dataset 'images'.*size"):
        config(digits, size=1)
    with pytest.raises(ConfigError, match="color"):
        config(digits, color="cmyk")


# ---- zip safety ---------------------------------------------------------------------


def make_zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def refused(data: bytes, dest: Path, **limits: int) -> str:
    with pytest.raises(DataError) as err:
        extract_zip(io.BytesIO(data), dest, **limits)
    assert not dest.exists()
    # Nothing written: no folder, or an empty one (no staging folder left behind).
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    return one_line(err)


def test_zip_of_a_folder_extracts_and_trains_its_root(digits: Path, tmp_path: Path) -> None:
    archive = zip_folder(digits, tmp_path / "d.zip", inside="my digits")
    dest = extract_zip(archive, tmp_path / "out" / "x")
    frame, root, _ = read_folder(dest)
    assert root == dest / "my digits" and len(frame) == 120


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("../evil.txt", "points outside the folder"),
        ("/abs/evil.txt", "points outside"),
        ("a/../../evil.txt", "points outside"),
        ("C:/evil.txt", "points outside"),
    ],
)
def test_zip_path_traversal_is_refused(tmp_path: Path, name: str, fragment: str) -> None:
    data = make_zip({"labels.csv": b"file,y\n", name: b"boom"})
    message = refused(data, tmp_path / "up" / "x")
    assert fragment in message and repr(name) in message
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "up" / "evil.txt").exists()


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    data = make_zip({"labels.csv": b"file,y\n", "link.png": b"/etc/passwd"}, links=("link.png",))
    assert "is a symbolic link" in refused(data, tmp_path / "up" / "x")


def test_zip_bomb_is_refused_before_extracting(tmp_path: Path) -> None:
    data = make_zip({"labels.csv": b"file,y\n", "bomb.png": bytes(60 * 2**20)})
    assert len(data) < 2**20  # 60 MB of zeros compress to well under 1 MB
    message = refused(data, tmp_path / "up" / "x", max_bytes=50 * 2**20)
    assert "expands to more than 50 MB" in message


def test_zip_lying_about_its_size_is_stopped_while_streaming(tmp_path: Path) -> None:
    data = bytearray(make_zip({"labels.csv": b"file,y\n", "big.png": bytes(200_000)}))
    # Declare 1,000 bytes for big.png in its local and central headers.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            header_name = b"big.png"
            if header_name in data[start : start + 80]:
                data[start + offset : start + offset + 4] = (1000).to_bytes(4, "little")
            start += 4
    message = refused(bytes(data), tmp_path / "up" / "x", max_bytes=100_000)
    assert "big.png" in message


def test_zip_with_too_many_files_is_refused(tmp_path: Path) -> None:
    data = make_zip({f"{i}.png": b"x" for i in range(6)})
    assert "holds 6 entries; at most 5" in refused(data, tmp_path / "up" / "x", max_files=5)


def test_not_a_zip_is_one_line(tmp_path: Path) -> None:
    assert "not a readable zip file" in refused(b"PK but not really", tmp_path / "up" / "x")


def test_a_zip_path_as_data_path_says_to_extract(tmp_path: Path, digits: Path) -> None:
    archive = zip_folder(digits, tmp_path / "d.zip")
    with pytest.raises(DataError) as err:
        prepare(config(archive))
    assert "is a zip file; extract it" in one_line(err)
    assert os.path.exists(archive)
