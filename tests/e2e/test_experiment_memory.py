"""The Experiment form remembers, in headless Chromium against a real `streamlit run app.py`.

Upload a CSV, choose two targets and MMoE, name the run, go to Compare through the
navigation, come back: every choice is still on the page. With ``$MTL_SCREENSHOTS`` set
to a folder, the page is saved there (1280×800 and presenter view).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import (
    choose,
    chromium,
    idle,
    require_chromium,
    shot,
    task_row,
    upload_on_experiment,
)

require_chromium()
pytest.importorskip("playwright.sync_api")

WAIT_MS = 60_000


def field_trial(path: Path) -> Path:
    lines = ["age,city,note,y,score"]
    for i in range(150):
        lines.append(
            f"{20 + i % 37},{['oslo', 'rome', 'lima'][i % 3]},visit note {i % 120},"
            f"{'yes' if (i * 7) % 5 < 2 else 'no'},{(i % 11) * 1.5}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_form_survives_a_visit_to_compare(
    app_on_new_home: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = app_on_new_home
    csv = field_trial(tmp_path / "field trial.csv")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        upload_on_experiment(
            page, f"{url}/experiment", "csv — ", "Upload a CSV or Parquet file", csv
        )
        page.get_by_text("Target columns that become tasks").wait_for(timeout=WAIT_MS)
        name = page.get_by_label("Run name")
        page.wait_for_function(
            "() => document.querySelector('input[aria-label=\"Run name\"]').value "
            "=== 'field trial'",
            timeout=WAIT_MS,
        )  # the upload named the run
        idle(page)
        choose(page, "Target columns that become tasks", "y", exact=True)
        task_row(page, "y").wait_for(timeout=WAIT_MS)  # the server made it a task
        choose(page, "Target columns that become tasks", "score", exact=True)
        task_row(page, "score").wait_for(timeout=WAIT_MS)
        choose(page, "Sharing", "mmoe — ")
        page.get_by_label("Experts").wait_for(timeout=WAIT_MS)
        name.fill("trial-mmoe")
        name.press("Enter")
        page.get_by_text(
            "Ready to start trial-mmoe: 2 tasks on field_trial.csv, mmoe sharing"
        ).wait_for(timeout=WAIT_MS)
        shot(page, "experiment-memory-before")

        page.locator('[data-testid="stSidebarNav"] a', has_text="Compare").click()
        page.wait_for_url("**/compare", timeout=WAIT_MS)
        page.get_by_text("5 · Training").wait_for(state="detached", timeout=WAIT_MS)
        idle(page)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Experiment").click()
        page.wait_for_url("**/experiment", timeout=WAIT_MS)
        page.get_by_text("5 · Training").wait_for(timeout=WAIT_MS)
        idle(page)

        assert page.get_by_label("Run name").input_value() == "trial-mmoe"
        page.get_by_text(
            "Ready to start trial-mmoe: 2 tasks on field_trial.csv, mmoe sharing"
        ).wait_for(timeout=WAIT_MS)
        assert "csv — " in selected(page, "Dataset")
        assert "mmoe — " in selected(page, "Sharing")
        targets = page.locator('[data-testid="stMultiSelect"]').filter(
            has=page.get_by_text("Target columns that become tasks", exact=True)
        )
        tags = targets.locator("[data-tag]")
        assert [tags.nth(i).get_attribute("aria-label") for i in range(tags.count())] == [
            "y",
            "score",
        ]
        page.get_by_text("field_trial.csv").first.wait_for(
            timeout=WAIT_MS
        )  # the uploaded file is still used
        assert page.get_by_label("Experts").input_value() == "4"  # the MMoE setting is drawn
        shot(page, "experiment-memory-after")
        page.goto(f"{url}/experiment?present=1")
        page.get_by_text("5 · Training").wait_for(timeout=WAIT_MS)
        idle(page)
        shot(page, "experiment-memory-present")
        page.close()


def selected(page, label: str) -> str:  # type: ignore[no-untyped-def]
    box = page.locator('[data-testid="stSelectbox"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    return box.locator("input").first.input_value()
