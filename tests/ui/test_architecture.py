"""describe_config (no torch) must equal the real model's describe(), errors included."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_python
from mtl.config import ModelConfig
from mtl.models import ARCHITECTURES
from mtl.ui.architecture import DESCRIBERS, describe_config, encoder_depth

HEADS = {"a": 1, "b": 3, "c": 2}
INPUTS = {
    "table": ((13,), "auto"),
    "image-cnn": ((1, 8, 8), "auto"),
    "image-mlp": ((1, 8, 8), "mlp"),
}
SMALL = {"hidden": [6, 5], "channels": [3, 4], "experts": 2}
SETTINGS = {
    "defaults": {},
    "branch-0": {"branch_depth": 0},
    "branch-1-head-hidden": {"branch_depth": 1, "head_hidden": [7, 3]},
    "bn-dropout-gelu": {
        "batch_norm": True,
        "dropout": 0.25,
        "activation": "gelu",
        "soft_lambda": 0.05,
    },
    "experts-5-no-hidden": {"experts": 5, "hidden": []},
}


def real_describe(cfg: ModelConfig, input_shape: tuple[int, ...], heads: dict[str, int]) -> dict:
    return ARCHITECTURES.get(cfg.sharing)(cfg, input_shape, heads).describe()


def test_every_registered_architecture_has_a_describer() -> None:
    assert set(DESCRIBERS) == set(ARCHITECTURES.names())


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("input_kind", list(INPUTS))
@pytest.mark.parametrize("sharing", ARCHITECTURES.names())
def test_describe_config_equals_the_models_describe(
    sharing: str, input_kind: str, setting: str
) -> None:
    input_shape, encoder = INPUTS[input_kind]
    cfg = ModelConfig(sharing=sharing, encoder=encoder, **{**SMALL, **SETTINGS[setting]})
    assert describe_config(cfg, input_shape, HEADS) == real_describe(cfg, input_shape, HEADS)


def test_describe_config_single_task_and_tiny_image() -> None:
    for sharing in ARCHITECTURES.names():
        cfg = ModelConfig(sharing=sharing, channels=[2, 2, 2], hidden=[4])
        for shape, heads in (((2, 3, 5), {"only": 4}), ((7,), {"x": 1})):
            if len(shape) == 1:
                cfg = cfg.model_copy(update={"channels": []})
            assert describe_config(cfg, shape, heads) == real_describe(cfg, shape, heads)


def error_of(fn, *args) -> tuple[type, str]:
    with pytest.raises((ValueError, KeyError)) as info:
        fn(*args)
    return info.type, str(info.value)


@pytest.mark.parametrize(
    ("cfg", "input_shape", "heads"),
    [
        (ModelConfig(sharing="hard", hidden=[8, 8], branch_depth=3), (13,), HEADS),
        (ModelConfig(sharing="hard", channels=[4], hidden=[8], branch_depth=5), (1, 8, 8), HEADS),
        (ModelConfig(sharing="soft", encoder="cnn"), (13,), HEADS),
        (ModelConfig(sharing="mmoe"), (3, 4), HEADS),
        (ModelConfig(sharing="cross-stitch"), (0,), HEADS),
        (ModelConfig(sharing="independent"), (13,), {}),
        (ModelConfig(sharing="hard"), (13,), {"a": 0}),
    ],
    ids=[
        "depth-table",
        "depth-image",
        "cnn-on-table",
        "2d-input",
        "zero-width-input",
        "no-heads",
        "zero-head",
    ],
)
def test_impossible_settings_raise_the_same_errors(
    cfg: ModelConfig, input_shape: tuple, heads: dict
) -> None:
    assert error_of(describe_config, cfg, input_shape, heads) == error_of(
        real_describe, cfg, input_shape, heads
    )


@pytest.mark.parametrize("input_kind", list(INPUTS))
def test_encoder_depth_is_the_deepest_branch_the_model_accepts(input_kind: str) -> None:
    shape, encoder = INPUTS[input_kind]
    cfg = ModelConfig(sharing="hard", encoder=encoder, **SMALL)
    depth = encoder_depth(cfg, shape)
    assert depth == {"table": 2, "image-cnn": 4, "image-mlp": 2}[input_kind]
    deepest = cfg.model_copy(update={"branch_depth": depth})
    assert real_describe(deepest, shape, HEADS)["branch_depth"] == depth
    with pytest.raises(ValueError, match="branch_depth"):
        real_describe(cfg.model_copy(update={"branch_depth": depth + 1}), shape, HEADS)


def test_unknown_sharing_raises_like_the_registry() -> None:
    cfg = ModelConfig.model_construct(**{**ModelConfig().model_dump(), "sharing": "nope"})
    assert error_of(describe_config, cfg, (13,), HEADS) == error_of(ARCHITECTURES.get, "nope")


def test_ui_modules_do_not_load_torch_or_streamlit() -> None:
    code = (
        "import sys\n"
        "import mtl.ui, mtl.viz.curves, mtl.viz.evaluation, mtl.viz.network, mtl.viz.sweeps\n"
        "import mtl.viz.frames, mtl.ui.architecture, mtl.viz.colors\n"
        "import mtl.ui.form, mtl.ui.estimate, mtl.viz.labels, mtl.study.estimate\n"
        "from mtl.config import ModelConfig\n"
        "from mtl.ui.architecture import describe_config\n"
        "from mtl.viz.network import network_figure\n"
        "network_figure(describe_config(ModelConfig(), (1, 8, 8), {'a': 3}))\n"
        "bad = sorted(m for m in ('torch', 'streamlit') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


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
    "mtl.ui.architecture",
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
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


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
