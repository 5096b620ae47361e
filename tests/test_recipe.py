"""The recipe of CONTRIBUTING.md: a weighting or an architecture is one new file.

A copy of the project in a temporary folder gets two throwaway entry files (a weighting
strategy and a sharing architecture, each with an option) and nothing else. Real
subprocesses then find them everywhere a registered entry shows: the CLI listing (without
torch), config validation (an error naming the option), ``docs/config.md`` generation, a
real training run, and the Experiment page's choices and option widgets (AppTest).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, assert_user_error, cli_env, run_fresh, run_module

WEIGHTING = '''"""Throwaway: every task weighs the same factor (the recipe test's weighting).

Reference: tests/test_recipe.py.
"""

from __future__ import annotations

from pydantic import Field

from mtl.weighting.spec import Options, WeightingSpec


class FactorOptions(Options):
    """The one option."""

    factor: float = Field(0.5, gt=0.0, le=1.0, description="The weight of every task.")


SPEC = WeightingSpec(name="throwaway-factor", implementation="FactorWeighting", options=FactorOptions)

# ---- implementation (imports torch; the registry reads only what is above) ----

import torch

from mtl.weighting.base import WeightingStrategy


class FactorWeighting(WeightingStrategy):
    """w_t = factor."""

    def weights(self, losses: torch.Tensor) -> torch.Tensor:
        return torch.full_like(losses, FactorOptions.model_validate(self.options).factor)
'''

ARCHITECTURE = '''"""Throwaway: the whole encoder shared, outputs scaled (the recipe test's architecture).

Reference: tests/test_recipe.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mtl.models.plan import description, encoder_plan, head_plan, output_shape
from mtl.models.spec import ArchitectureSpec, Options


class ScaleOptions(Options):
    """The one option."""

    scale: float = Field(1.0, gt=0.0, le=10.0, description="Multiplies every output.")


def describe(cfg: Any, input_shape: tuple[int, ...], heads: dict[str, int]) -> dict[str, Any]:
    """The encoder shared; each task's head."""
    blocks = encoder_plan(cfg, input_shape)
    width = output_shape(blocks, input_shape)
    tasks = {t: [b.label for b in head_plan(cfg, width, w)] for t, w in heads.items()}
    return description(SPEC.name, input_shape, heads, [b.label for b in blocks], tasks)


SPEC = ArchitectureSpec(
    name="throwaway-trunk", implementation="ScaledTrunk", describe=describe, options=ScaleOptions
)

# ---- implementation (imports torch; the registry reads only what is above) ----

from torch import Tensor, nn

from mtl.models.base import MultiTaskModel
from mtl.models.encoders import encoder_blocks, head_blocks, output_shape as blocks_shape


class ScaledTrunk(MultiTaskModel):
    """One trunk, one head per task, outputs times ``scale``."""

    def __init__(self, cfg: Any, input_shape: tuple[int, ...], heads: dict[str, int]) -> None:
        super().__init__(SPEC.name, input_shape, heads)
        self.description = describe(cfg, self.input_shape, self.heads)
        self.scale = ScaleOptions.model_validate(cfg.options).scale
        blocks = encoder_blocks(cfg, input_shape)
        self.trunk = nn.Sequential(*blocks)
        width = blocks_shape(blocks, input_shape)
        self.task_heads = nn.ModuleList(
            nn.Sequential(*head_blocks(cfg, width, w)) for w in heads.values()
        )

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        shared = self.trunk(x)
        return {t: self.scale * h(shared) for t, h in zip(self.tasks, self.task_heads, strict=True)}

    def shared_parameters(self) -> list[nn.Parameter]:
        return list(self.trunk.parameters())

    def task_parameters(self, task: str) -> list[nn.Parameter]:
        return list(self.task_heads[self.task_index(task)].parameters())
'''

PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=120).run()
at.switch_page("app_pages/experiment.py").run()
sharing = at.selectbox(key="exp.model.sharing")
weighting = at.selectbox(key="exp.loss.weighting")
seen = {"sharing": list(sharing.options), "weighting": list(weighting.options)}
sharing.set_value("throwaway-trunk").run()
at.selectbox(key="exp.loss.weighting").set_value("throwaway-factor").run()
seen["exceptions"] = [e.value for e in at.exception]
seen["inputs"] = {n.key: [n.label, n.value] for n in at.number_input}
seen["torch"] = "torch" in sys.modules
print(json.dumps(seen))
"""

LISTING_WITHOUT_TORCH = """
import contextlib, io, json, sys
from mtl.cli import main
listed = {}
for command in ("architectures", "weightings"):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([command, "--json"]) == 0
    listed[command] = {item["name"]: item for item in json.loads(out.getvalue())}
print(json.dumps({"listed": listed, "torch": "torch" in sys.modules}))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the app and the ``mtl`` package, plus the two throwaway entry files."""
    folder = tmp_path_factory.mktemp("recipe") / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("mtl", "app_pages", "assets"):
        shutil.copytree(ROOT / name, folder / name, ignore=ignore)
    shutil.copy2(ROOT / "app.py", folder / "app.py")
    (folder / "mtl/weighting/strategies/throwaway_factor.py").write_text(WEIGHTING, "utf-8")
    (folder / "mtl/models/architectures/throwaway_trunk.py").write_text(ARCHITECTURE, "utf-8")
    return folder


def run_in(
    project: Path, *argv: str, home: Path | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` in the copy, with only the copy on the import path.

    ``-m mtl`` calls are forked from a warm server started for the copy (``run_module``);
    ``-c`` code, which checks what gets imported, runs in a fresh interpreter.
    """
    env = {**cli_env(home), "PYTHONPATH": str(project)}
    run = run_module if argv[0] == "-m" else run_fresh
    return run(list(argv), env, project, timeout)


def test_the_copy_imports_its_own_mtl(project: Path) -> None:
    result = run_in(project, "-c", "import mtl; print(mtl.__file__)")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == (project / "mtl/__init__.py").resolve()


def test_listed_by_the_cli_with_level_and_options_without_torch(project: Path) -> None:
    result = run_in(project, "-c", LISTING_WITHOUT_TORCH)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["torch"] is False
    trunk = seen["listed"]["architectures"]["throwaway-trunk"]
    factor = seen["listed"]["weightings"]["throwaway-factor"]
    assert trunk["description"].startswith("Throwaway: the whole encoder shared")
    assert trunk["reference"] == "tests/test_recipe.py." and trunk["options"] == ["scale"]
    assert (factor["level"], factor["options"]) == ("loss", ["factor"])
    text = run_in(project, "-m", "mtl", "weightings")
    assert text.returncode == 0, text.stderr
    assert "throwaway-factor" in text.stdout and "level: loss; options: factor" in text.stdout


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            ["loss.weighting=throwaway-factor", "loss.options.factor=2"],
            "loss.options.factor for weighting 'throwaway-factor': must be less than or equal to 1",
        ),
        (
            ["model.sharing=throwaway-trunk", "model.options.scale=-1"],
            "model.options.scale for sharing 'throwaway-trunk': must be greater than 0",
        ),
        (
            ["model.sharing=throwaway-trunk", "model.options.depth=3"],
            "unknown key model.options.depth for sharing 'throwaway-trunk'; allowed keys: scale",
        ),
    ],
    ids=["weighting-option", "architecture-option", "unknown-option"],
)
def test_config_validation_names_the_entrys_option(
    project: Path, tmp_path: Path, overrides: list[str], fragment: str
) -> None:
    sets = [arg for override in overrides for arg in ("--set", override)]
    result = run_in(project, "-m", "mtl", "run", "--preset", "penguins", *sets, home=tmp_path)
    assert_user_error(result, fragment)


def test_in_the_generated_config_reference(project: Path) -> None:
    result = run_in(project, "-m", "mtl", "config-docs")
    assert result.returncode == 0, result.stderr
    docs = result.stdout
    assert "| `throwaway-trunk` | Throwaway: the whole encoder shared" in docs
    assert "| `throwaway-factor` | Throwaway: every task weighs the same factor" in docs
    options = docs.split("## Architecture options (`model.options`)")[1]
    assert "### `throwaway-trunk`" in options and "| `scale` | float | `1.0` | > 0.0" in options
    assert "### `throwaway-factor`" in options.split("## Weighting options (`loss.options`)")[1]


def test_a_run_trains_with_both(project: Path, tmp_path: Path) -> None:
    sets = [
        "train.epochs=1",
        "model.sharing=throwaway-trunk",
        "model.options.scale=0.5",
        "loss.weighting=throwaway-factor",
        "loss.options.factor=0.25",
    ]
    args = [arg for override in sets for arg in ("--set", override)]
    result = run_in(
        project, "-m", "mtl", "run", "--preset", "penguins", *args, "--json", home=tmp_path
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "finished"
    shown = json.loads(
        run_in(project, "-m", "mtl", "show", summary["run_id"], "--json", home=tmp_path).stdout
    )
    assert shown["config"]["model"]["options"] == {"scale": 0.5}
    assert shown["config"]["loss"]["options"] == {"factor": 0.25}


def test_the_experiment_page_offers_both_and_draws_their_options(
    project: Path, tmp_path: Path
) -> None:
    result = run_in(project, "-c", PAGE, home=tmp_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "throwaway-trunk — Throwaway: the whole encoder shared, outputs scaled" in "|".join(
        seen["sharing"]
    )
    assert "throwaway-factor — Throwaway: every task weighs" in "|".join(seen["weighting"])
    assert seen["exceptions"] == []
    assert seen["inputs"]["exp.model.options.scale"] == ["scale: Multiplies every output.", 1.0]
    assert seen["inputs"]["exp.loss.options.factor"] == ["factor: The weight of every task.", 0.5]
    assert seen["torch"] is False
