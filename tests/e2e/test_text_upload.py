"""A CSV with a free-text column, end to end in headless Chromium against `streamlit run app.py`.

Upload the CSV on the Experiment page, see its free-text column picked as a text input,
launch, see live points, see Evaluate's test metrics, and predict new rows with text
there (the saved vocabulary). With ``$MTL_SCREENSHOTS`` set to a folder, the Experiment
page with the text column is saved there (1280×800 and presenter view).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from text_support import review_table

from browser_support import (
    WAIT_MS,
    choose,
    chromium,
    enter,
    idle,
    live_run,
    require_chromium,
    shot,
    task_row,
    upload,
    upload_on_experiment,
    wait_for_points,
)
from mtl.runs.store import RunStore

require_chromium()
pytest.importorskip("playwright.sync_api")


def test_upload_text_csv_launch_watch_evaluate_predict(
    app_on_new_home: tuple[str, Path], tmp_path: Path
) -> None:
    url, home = app_on_new_home
    csv = tmp_path / "film reviews.csv"
    review_table(240).drop(columns=["id"]).to_csv(csv, index=False)
    new_rows = tmp_path / "new reviews.csv"
    pd.DataFrame(
        {
            "review": ["a wonderful and brilliant film", "dull, tedious and lifeless"],
            "length": [5, 4],
        }
    ).to_csv(new_rows, index=False)

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        fill_form(page, f"{url}/experiment", csv)
        enter(page, "Epochs", 30)
        idle(page)

        page.locator('[data-testid="stBaseButton-primary"]', has_text="Start").click()
        run_id = live_run(page)
        config = RunStore(home).get_run(run_id)["config"]
        assert config["data"]["text"] is None and config["data"]["text_encoder"] == "bag"

        wait_for_points(page)
        page.get_by_text("finished", exact=True).first.wait_for(timeout=WAIT_MS)

        page.goto(f"{url}/evaluate?run={run_id}")
        page.get_by_text("Test metrics per task").wait_for(timeout=WAIT_MS)
        upload(page, "CSV to predict", new_rows)
        button = page.get_by_role("button", name="Download the predictions (CSV)")
        button.wait_for(timeout=WAIT_MS)
        with page.expect_download() as download:
            button.click()
        table = pd.read_csv(download.value.path())
        assert table["liked"].tolist() == ["yes", "no"]  # words the saved vocabulary knows

        page.close()
        if os.environ.get("MTL_SCREENSHOTS"):  # presenter view: a new session, filled again
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            fill_form(page, f"{url}/experiment?present=1", csv, "experiment-text-present")
            page.close()


def fill_form(page, address: str, csv: Path, name: str = "experiment-text") -> None:  # type: ignore[no-untyped-def]
    """Upload ``csv``, make ``liked`` a task; the free-text column is a text input, and
    the diagram draws its branch. Saves screenshot ``name`` of the Features section."""
    upload_on_experiment(page, address, "csv — ", "Upload a CSV or Parquet file", csv)
    page.get_by_text("Target columns that become tasks").wait_for(timeout=WAIT_MS)
    idle(page)
    choose(page, "Target columns that become tasks", "liked", exact=True)
    task_row(page, "liked").wait_for(timeout=WAIT_MS)
    idle(page)
    text_picker = page.locator('[data-testid="stMultiSelect"]').filter(
        has=page.get_by_text("Text columns the text encoder reads", exact=True)
    )
    # .first: while Streamlit reruns, the old and the new tag can both be in the page a moment
    text_picker.get_by_text("review", exact=True).first.wait_for(timeout=WAIT_MS)
    # the diagram draws the text branch: the column's ids → its text encoder
    diagram = page.locator('[data-testid="stPlotlyChart"] .annotation-text')
    diagram.filter(has_text=re.compile(r"^Textreview")).first.wait_for(timeout=WAIT_MS)
    diagram.filter(has_text=re.compile(r"^bag\d+→32$")).first.wait_for(timeout=WAIT_MS)
    if os.environ.get("MTL_SCREENSHOTS"):
        page.get_by_text("Text encoder settings").click()
        page.get_by_text("Character trigrams (hashed)").wait_for(timeout=WAIT_MS)
        page.wait_for_timeout(600)  # the expander's opening animation, for the picture only
        page.get_by_role("heading", name="Features").evaluate(
            "el => el.scrollIntoView({block: 'start'})"
        )
        shot(page, name)
