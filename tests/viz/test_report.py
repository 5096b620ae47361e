"""HTML reports: self-contained, with Δm, config, metrics and notes; render offline in Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pytest

from conftest import run_cli, run_python
from mtl import presets
from mtl.errors import OutputPathError
from mtl.runs.store import RunNotFoundError, RunStore
from mtl.study.baseline import ensure_baseline, run_delta
from mtl.viz.report import Section, delta_figure, report_html, write_report

NOTES = "Sharing helps here.\n<script>alert('x')</script> & <b>not bold</b>"


def _train(store: RunStore, preset: str, overrides: dict[str, Any]) -> str:
    from mtl.runs.worker import execute

    config = presets.load(preset).with_overrides(overrides)
    run_id = store.create_run(config.name, config.to_dict(), status="running", pid=os.getpid())
    assert execute(store, run_id, config).status == "finished"
    return run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small multi-task run with its baseline, and a classification run without one."""
    home = tmp_path_factory.mktemp("report-home")
    store = RunStore(home)
    mtl = _train(store, "synthetic-related", {"train.epochs": 4, "data.options.samples": 300})
    store.set_notes(mtl, NOTES)
    store.set_tags(mtl, ["demo", "related"])
    baseline = ensure_baseline(store, mtl).run_id
    penguins = _train(store, "penguins", {"train.epochs": 2})
    yield {"home": home, "store": store, "mtl": mtl, "baseline": baseline, "penguins": penguins}


def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def test_a_run_report_is_self_contained_with_delta_m_config_metrics_and_notes(
    runs: dict[str, Any],
) -> None:
    store = runs["store"]
    html = report_html(store, [runs["mtl"]])
    js = _plotlyjs()

    assert "</script" not in js.lower()  # safe to inline
    assert html.count(js) == 1  # plotly.js inlined exactly once
    ours = html.replace(js, "")
    assert (
        "<script src" not in ours
        and "<link" not in ours
        and "http" not in ours.replace("http-equiv", "")
    )
    assert html.count('class="plotly-graph-div"') >= 4  # loss, R², predicted vs actual per task
    assert "<title>synthetic-related</title>" in html
    delta = run_delta(store, runs["mtl"])
    assert f"Δm = {delta.value:+.2f}%" in html
    assert runs["baseline"] in html
    assert "How Δm is computed" in html and "regression: rmse, mae" in html
    assert "sharing: hard" in html and "Download config" in html  # the config as YAML
    assert "RMSE" in html and "Best validation values" in html
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;"
        in html
    )
    assert "<script>alert('x')</script>" not in html and "<b>not bold</b>" not in html
    assert "<span class='tag'>demo</span>" in html
    assert "y1 · predicted vs actual" in html


def test_a_comparison_report_with_baseline_classification_and_extra_sections(
    runs: dict[str, Any],
) -> None:
    store = runs["store"]
    extra = Section(
        "Sweep summary",
        text="Two settings.\n\nSecond paragraph.",
        tables=[pd.DataFrame({"setting": ["a", "b"], "Δm mean": [1.0, 2.0]})],
        figures=[go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="pareto"))],
    )
    ids = [runs["mtl"], runs["baseline"], runs["penguins"], runs["mtl"]]  # duplicates dropped
    html = report_html(store, ids, title="My <sweep>", sections=[extra])

    assert "<title>My &lt;sweep&gt;</title>" in html and "MTL Lab report · 3 runs" in html
    assert "Multi-task gain over the single-task baseline" in html  # Δm bars
    assert (
        "validation loss" in html
        and "y1 · validation R²" in html
        and "species · validation accuracy" in html
    )
    assert "This run is itself a single-task baseline" in html
    assert f"<code>python -m mtl baseline {runs['penguins']}</code> trains one" in html
    assert "species · confusion matrix" in html
    assert "Sweep summary" in html and "Second paragraph." in html and "Δm mean" in html

    plain = report_html(store, [runs["mtl"]], baseline=False)
    assert "Δm =" not in plain and "How Δm is computed" not in plain


def test_delta_figure_draws_delta_m_and_each_task() -> None:
    from mtl.study.delta import delta_m

    a = delta_m({"t": {"rmse": 1.0, "mae": 1.0}}, {"t": {"rmse": 2.0, "mae": 1.0}})
    b = delta_m({"t": {"rmse": 1.0, "mae": 1.0}}, {"t": {"rmse": 0.0, "mae": 0.0}})
    fig = delta_figure({"run a": a, "run b": b})
    assert [trace.name for trace in fig.data] == ["Δm", "t"]
    assert list(fig.data[0].y) == [pytest.approx(25.0), None]
    assert "Δm undefined for run b" in fig.layout.annotations[0].text


def test_bad_requests_raise_one_line_errors(runs: dict[str, Any], tmp_path: Path) -> None:
    store = runs["store"]
    with pytest.raises(ValueError, match="at least one run id"):
        report_html(store, [])
    with pytest.raises(RunNotFoundError):
        report_html(store, ["no-such-run"])
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        write_report(store, [runs["mtl"]], tmp_path / "file" / "report.html")
    with pytest.raises(OutputPathError, match="inside the run store"):
        write_report(store, [runs["mtl"]], store.home / "store.sqlite")


def test_cli_writes_the_report(runs: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = run_cli(
        "report",
        runs["mtl"],
        runs["penguins"],
        "--out",
        str(out),
        "--title",
        "Two runs",
        home=runs["home"],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {out} (2 runs, ")
    assert "<title>Two runs</title>" in out.read_text(encoding="utf-8")

    missing = run_cli("report", "nope", "--out", str(out), "--force", home=runs["home"])
    assert missing.returncode == 2
    assert (
        missing.stderr.strip()
        == f"error: no run 'nope' in {runs['home']}; `python -m mtl runs` lists them"
    )


def test_the_modules_import_no_torch() -> None:
    code = (
        "import sys, mtl.study.delta, mtl.study.baseline, mtl.viz.report, mtl.commands.baseline, mtl.commands.report; "
        "sys.exit('torch' in sys.modules)"
    )
    done = run_python(code)
    assert done.returncode == 0, done.stderr or "torch was imported"


def test_the_report_renders_offline_in_chromium(runs: dict[str, Any], tmp_path: Path) -> None:
    from browser_support import chromium, require_chromium

    require_chromium()  # skips without /usr/bin/chromium, fails under CI=true
    path = write_report(runs["store"], [runs["mtl"], runs["penguins"]], tmp_path / "report.html")
    figures = path.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    requests: list[str] = []
    errors: list[str] = []
    with chromium() as browser:
        context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith("file:") else route.abort()
            ),
        )
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot').length === {figures}", timeout=20_000
        )
        traces = page.locator(".scatterlayer .trace").count()
        heatmaps = page.locator(".heatmaplayer .hm").count()
        bars = page.locator(".barlayer .trace").count()
        context.close()
    assert figures >= 10
    assert traces > 0 and heatmaps >= 2 and bars >= 1
    assert errors == []
    assert requests == [path.as_uri()], f"requests left the file: {requests}"


def test_hostile_names_tags_and_tasks_stay_text_in_the_report(tmp_path: Path) -> None:
    """A run whose name, task names and tags are HTML: the report shows them, runs nothing."""
    hostile = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>"]
    store = RunStore(tmp_path)
    config = presets.load("seed-example").to_dict()
    for task, name in zip(config["tasks"], hostile, strict=True):
        task["name"] = name
    run_id = store.create_run(hostile[0], config, status="running", pid=os.getpid(), tags=hostile)
    rows = [
        (e, e, float(e), name, "val", "loss", 1.0 / (1 + e), None)
        for e in range(3)
        for name in hostile
    ]
    store.add_metrics(run_id, rows)
    store.set_status(
        run_id,
        "finished",
        summary={"test": {hostile[0]: {"accuracy": 0.9}, hostile[1]: {"r2": 0.5}}},
    )
    html = report_html(store, [run_id]).replace(_plotlyjs(), "")
    assert "<img" not in html and "alert(2)</script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown, as text
