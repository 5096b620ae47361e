"""A zipped image folder, end to end in headless Chromium against a real `streamlit run app.py`.

Upload the zip on the Experiment page (dataset ``images``), pick two label columns, start:
the Live page draws points, the run finishes, Evaluate shows its test metrics and predicts
an uploaded zip of new images. With ``$MTL_SCREENSHOTS`` set to a folder, the Experiment
page with the image dataset is saved there (1280×800 and presenter view).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from image_support import write_digits_folder, zip_folder

from browser_support import (
    WAIT_MS,
    choose,
    chromium,
    enter,
    idle,
    live_run,
    require_chromium,
    shot,
    upload,
    upload_on_experiment,
    wait_for_points,
)
from conftest import status, wait_for
from mtl.runs.store import RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")


def number(page, label: str, value: str) -> None:  # type: ignore[no-untyped-def]
    idle(page)
    enter(page, label, value)
    idle(page)


def set_up(page, address: str, archive: Path) -> None:  # type: ignore[no-untyped-def]
    """Open the Experiment page, upload the zipped digits, pick two tasks, 8×8, 4 epochs."""
    upload_on_experiment(page, address, "images — ", "Upload a zipped image folder", archive)
    page.get_by_text("Image folder: digit photos").wait_for(timeout=WAIT_MS)
    page.get_by_text("400 rows × 4 columns").wait_for(timeout=WAIT_MS)
    choose(page, "Target columns that become tasks", "digit", exact=True)
    choose(page, "Target columns that become tasks", "parity", exact=True)
    number(page, "size: Images are resized to size × size pixels.", "8")
    number(page, "Epochs", "4")
    page.get_by_text("Ready to start digit photos: 2 tasks on images: digit photos").wait_for(
        timeout=WAIT_MS
    )
    # The architecture diagram draws the 8×8 grey image input.
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot text')]"
        ".some(t => t.textContent.includes('1×8×8'))",
        timeout=WAIT_MS,
    )
    page.get_by_text("1 · Data").scroll_into_view_if_needed()


def test_upload_a_zipped_image_folder_train_watch_evaluate(
    app_on_new_home: tuple[str, Path], tmp_path: Path
) -> None:
    url, home = app_on_new_home
    folder = write_digits_folder(tmp_path / "digit photos", limit=400)
    archive = zip_folder(folder, tmp_path / "digit photos.zip", inside="digit photos")
    new = write_digits_folder(tmp_path / "new", limit=12)
    (new / "labels.csv").unlink()
    new_zip = zip_folder(new, tmp_path / "new images.zip")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        set_up(page, f"{url}/experiment", archive)
        shot(page, "experiment-images")
        page.get_by_text("3 · Architecture").scroll_into_view_if_needed()
        shot(page, "experiment-images-architecture")

        page.get_by_role("button", name="Start").click()
        run_id = live_run(page)
        wait_for_points(page)  # the live loss chart draws
        store = RunStore(home)
        wait_for(lambda: status(store, run_id) == "finished", timeout=180)
        config = store.get_run(run_id)["config"]
        assert config["data"]["dataset"] == "images"
        assert config["data"]["options"]["size"] == 8 and config["train"]["epochs"] == 4
        assert Path(config["data"]["path"]).is_relative_to(home / "uploads")

        page.goto(f"{url}/evaluate?run={run_id}")
        page.get_by_text("Test metrics per task").wait_for(timeout=WAIT_MS)
        upload(page, "Zipped images to predict", new_zip)
        page.get_by_role("button", name="Download the predictions (CSV)").wait_for(timeout=WAIT_MS)
        page.get_by_text("img/0011.png").first.wait_for(state="attached", timeout=WAIT_MS)

        page.close()
        if os.environ.get("MTL_SCREENSHOTS"):  # the same form in presenter view
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            set_up(page, f"{url}/experiment?present=1", archive)
            shot(page, "experiment-images-present")
            page.close()
