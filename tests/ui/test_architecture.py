"""The modules the pages load stay torch-free (and the light pages scikit-learn-free).

The diagram's ``describe_config`` and the models are both built from the layer plan:
``tests/models/test_plan.py`` checks them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, python_output


def test_ui_modules_do_not_load_torch_or_streamlit() -> None:
    code = (
        "import sys\n"
        "import mtl.ui, mtl.viz.curves, mtl.viz.evaluation, mtl.viz.network, mtl.viz.sweeps\n"
        "import mtl.viz.frames, mtl.models.plan, mtl.viz.colors\n"
        "import mtl.ui.form, mtl.ui.estimate, mtl.viz.labels, mtl.study.estimate\n"
        "from mtl.config import ModelConfig\n"
        "from mtl.models.plan import describe_config\n"
        "from mtl.viz.network import network_figure\n"
        "network_figure(describe_config(ModelConfig(), (1, 8, 8), {'a': 3}))\n"
        "bad = sorted(m for m in ('torch', 'streamlit') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    assert python_output(code) == ""


# What the pages that must open fast import (Home, Live, Compare, Sweeps): no torch, no Streamlit
# below mtl.ui, and no scikit-learn either (it costs about a second on a cold first visit).
LIGHT_PAGE_MODULES = (
    "mtl.metric_names",
    "mtl.viz.runs_table",
    "mtl.study.sweeps",
    "mtl.viz.report",
    "mtl.viz.style",
    "mtl.viz.curves",
    "mtl.viz.evaluation",
    "mtl.viz.network",
    "mtl.viz.sweeps",
    "mtl.viz.frames",
    "mtl.viz.colors",
    "mtl.viz.labels",
    "mtl.models.plan",
    "mtl.ui.live_chart",
    "mtl.presets",
    "mtl.runs.store",
    "mtl.runs.spare",
    "mtl.models",
    "mtl.weighting",
    "mtl.train.predictions",
)


def test_page_import_paths_do_not_load_sklearn() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {LIGHT_PAGE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in ('sklearn', 'scipy', 'torch') if m in sys.modules)))\n"
    )
    assert python_output(code) == ""


def test_metric_names_are_re_exported_for_the_training_code() -> None:
    from mtl import metric_names
    from mtl.train import metrics

    assert metrics.HIGHER_IS_BETTER is metric_names.HIGHER_IS_BETTER
    assert metrics.metric_names("regression") == ("mse", "rmse", "mae", "r2")
    assert metrics.metric_names("binary") == metric_names.CLASSIFICATION_METRICS


def test_the_light_pages_load_neither_torch_nor_sklearn(tmp_path: Path) -> None:
    """Home, Live, Compare and Sweeps run for real (AppTest) without loading scikit-learn."""
    code = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=120).run()\n"
        "for page in ('home', 'live', 'compare', 'sweep'):\n"
        "    at.switch_page(f'app_pages/{page}.py').run()\n"
        "    assert not at.exception, (page, at.exception)\n"
        "    print(page, sorted(m for m in ('torch', 'sklearn') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "MTL_HOME": str(tmp_path / "home"),
        "MTL_WARM_WORKER": "0",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == ["home []", "live []", "compare []", "sweep []"]
