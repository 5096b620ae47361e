"""The Experiment page with an image folder, through AppTest: a folder path typed on the
page, a zip uploaded, a refused zip shown as one plain message."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from image_support import write_digits_folder, zip_folder
from streamlit.testing.v1 import AppTest

from conftest import ROOT

APP = str(ROOT / "app.py")


@pytest.fixture
def at(home: Path) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120).run()
    app.switch_page("app_pages/experiment.py").run()
    app.selectbox(key="exp.data.dataset").set_value("images").run()
    assert not app.exception
    return app


def texts(at: AppTest) -> str:
    return " | ".join(
        str(e.value) for e in [*at.caption, *at.error, *at.warning, *at.info, *at.markdown]
    )


def test_a_folder_on_disk_becomes_tasks_and_a_valid_config(at: AppTest, tmp_path: Path) -> None:
    folder = write_digits_folder(tmp_path / "scans", limit=150)
    at.text_input(key="exp.ui.folder").set_value(str(folder)).run()
    assert not at.exception
    assert at.session_state["exp.data.path"] == str(folder)
    assert "150 rows × 4 columns" in texts(at) and "Image folder: **scans**" in texts(at)
    targets = next(m for m in at.multiselect if m.label == "Target columns that become tasks")
    targets.set_value(["digit"]).run()
    at.number_input(key="exp.data.options.size").set_value(8).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Ready to start" in texts(at) and "images\\: scans, hard sharing" in texts(at)
    # The options the dataset declares are drawn: colour as a choice, not free text.
    assert at.selectbox(key="exp.data.options.color").options == ["grey", "rgb"]
    # No feature picker: the images are the input.
    assert not [m for m in at.multiselect if m.label == "Feature columns the model reads"]


def test_skipped_rows_are_named_on_the_page_as_text(at: AppTest, tmp_path: Path) -> None:
    folder = write_digits_folder(tmp_path / "scans", limit=100)
    hostile = "**bold** <img src=x onerror=alert(1)>.png"
    with (folder / "labels.csv").open("a") as labels:
        labels.write(f'"{hostile}",3,odd,0\n')
    at.text_input(key="exp.ui.folder").set_value(str(folder)).run()
    assert not at.exception
    warnings = [str(w.value) for w in at.warning]
    skipped = [w for w in warnings if "whose file is missing" in w]
    assert len(skipped) == 1
    assert "\\*\\*bold\\*\\*" in skipped[0] and "\\<img" in skipped[0]  # escaped markdown
    assert "100 rows × 4 columns" in texts(at)


def test_a_zip_upload_is_unpacked_under_the_home(at: AppTest, home: Path, tmp_path: Path) -> None:
    folder = write_digits_folder(tmp_path / "src", limit=80)
    content = zip_folder(folder, tmp_path / "x.zip", inside="ward 7").read_bytes()
    at.file_uploader(key="exp.up.zip").set_value(("ward 7.zip", content, "application/zip")).run()
    assert not at.exception
    path = Path(at.session_state["exp.data.path"])
    assert path.is_relative_to(home / "uploads") and path.name == "ward 7"
    assert at.session_state["exp.name"] == "ward 7"
    assert "80 rows × 4 columns" in texts(at)


def test_a_refused_zip_is_one_plain_message(at: AppTest, home: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.csv", "file,y\n")
        archive.writestr("../../../evil.png", "x")
    at.file_uploader(key="exp.up.zip").set_value(
        ("evil.zip", buffer.getvalue(), "application/zip")
    ).run()
    assert not at.exception
    errors = [str(e.value) for e in at.error]
    assert any("This zip cannot be used" in e and "points outside the folder" in e for e in errors)
    assert not at.session_state["exp.data.path"]
    uploads = home / "uploads"
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))
