"""Each weighting strategy's hyperparameters: typed, validated, with the paper's defaults.

This module is torch-free: the config validates ``loss.options`` against these models
(and the UI builds its form from them) without importing a strategy's implementation.
Every strategy module in ``strategies/`` reads its own options from here, so an options
model is the one place a default lives.

``level`` says how a strategy works: ``loss`` strategies combine the task losses into one
weighted loss (one backward pass); ``gradient`` strategies need each task's gradient on
the shared parameters, so they require an architecture that shares some.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from mtl.config import ModelConfig

Level = Literal["loss", "gradient"]


class StrategyOptions(BaseModel):
    """Base of every options model: unknown keys are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    level: ClassVar[Level] = "loss"


class NoOptions(StrategyOptions):
    """A loss-level strategy without hyperparameters."""


class GradientNoOptions(StrategyOptions):
    """A gradient-level strategy without hyperparameters."""

    level: ClassVar[Level] = "gradient"


# ---- loss level --------------------------------------------------------------------


class UncertaintyOptions(StrategyOptions):
    """Kendall et al. 2018: one learnable log-variance s_t = log σ_t² per task."""

    init_log_var: float = Field(
        0.0,
        ge=-10.0,
        le=10.0,
        description="Initial log σ² of every task (0: weight 1 for classification, ½ for regression).",
    )


class DWAOptions(StrategyOptions):
    """Liu et al. 2019: weights from the ratio of the last two epochs' mean losses."""

    temperature: float = Field(
        2.0,
        gt=0.0,
        le=1000.0,
        description="Softmax temperature T; larger = more uniform weights (paper: 2).",
    )


class GradNormOptions(StrategyOptions):
    """Chen et al. 2018: learnable weights that equalise gradient norms on the last shared layer."""

    alpha: float = Field(
        1.5,
        ge=0.0,
        le=10.0,
        description="Restoring force α pulling tasks back to a common training rate (paper: 1.5; 0 = equal norms).",
    )


class RLWOptions(StrategyOptions):
    """Lin et al. 2022: random weights, softmax of a fresh random draw at every step."""

    distribution: Literal["normal", "uniform"] = Field(
        "normal",
        description="Distribution of the logits before the softmax (paper's default: standard normal).",
    )


class FAMOOptions(StrategyOptions):
    """Liu et al. 2023: task logits learned from the change of log losses between steps."""

    lr: float = Field(
        0.025, gt=0.0, le=10.0, description="Adam learning rate of the task logits (paper: 0.025)."
    )
    weight_decay: float = Field(
        1e-3,
        ge=0.0,
        le=1.0,
        description="Weight decay γ on the task logits (paper's Algorithm 2: 0.001).",
    )


# ---- gradient level ----------------------------------------------------------------


class MGDAOptions(StrategyOptions):
    """Sener & Koltun 2018: the min-norm point in the convex hull of the task gradients."""

    level: ClassVar[Level] = "gradient"
    solver: Literal["exact", "frank-wolfe"] = Field(
        "exact",
        description="`exact`: the small quadratic program solved exactly (quadprog, polished); "
        "`frank-wolfe`: the paper's Algorithm 2, which stops early for 3 or more tasks.",
    )
    epsilon: float = Field(
        1e-3, gt=0.0, le=1.0, description="Frank-Wolfe only: stop when the step is below this."
    )
    max_iters: int = Field(
        100, ge=1, le=10_000, description="Frank-Wolfe only: maximum iterations per step."
    )


class CAGradOptions(StrategyOptions):
    """Liu et al. 2021: the best worst-case improvement within a ball around the mean gradient."""

    level: ClassVar[Level] = "gradient"
    c: float = Field(
        0.4,
        ge=0.0,
        le=100.0,
        description="Radius of the ball around the mean gradient, relative to its norm (paper: 0.4; 0 = mean).",
    )
    rescale: Literal[0, 1, 2] = Field(
        1,
        description="Divide the update by 1 (0), 1 + c² (1, the official code's default) or 1 + c (2).",
    )


class UPGradOptions(StrategyOptions):
    """Quinton & Rey 2024: each gradient projected onto the dual cone of all of them, averaged."""

    level: ClassVar[Level] = "gradient"
    norm_eps: float = Field(
        1e-4, ge=0.0, le=1.0, description="Below this squared Jacobian norm the update is 0."
    )
    reg_eps: float = Field(
        1e-4, ge=0.0, le=1.0, description="Added to the Gramian's diagonal for the QP solver."
    )


class AlignedMTLOptions(StrategyOptions):
    """Senushkin et al. 2023: gradients aligned to an orthogonal, equal-norm system."""

    level: ClassVar[Level] = "gradient"
    scale_mode: Literal["min", "median", "rmse"] = Field(
        "min",
        description="Eigenvalue that sets the scale: smallest (paper), median, or mean (`rmse`).",
    )


class NashMTLOptions(StrategyOptions):
    """Navon et al. 2022: the Nash bargaining solution between the task gradients."""

    level: ClassVar[Level] = "gradient"
    max_norm: float = Field(
        1.0, ge=0.0, description="Clip the norm of the update to this (0 = no clipping)."
    )
    update_weights_every: int = Field(
        1,
        ge=1,
        le=10_000,
        description="Solve for new weights every this many steps and reuse them in between "
        "(paper: 1; its speed-up for large models). A solve costs well under a millisecond here.",
    )
    optim_niter: int = Field(
        20,
        ge=1,
        le=1000,
        description="Newton steps per solve at most (the exact solver converges in under 10).",
    )


OPTIONS: dict[str, type[StrategyOptions]] = {
    "equal": NoOptions,
    "manual": NoOptions,
    "uncertainty": UncertaintyOptions,
    "dwa": DWAOptions,
    "gradnorm": GradNormOptions,
    "rlw": RLWOptions,
    "gls": NoOptions,
    "famo": FAMOOptions,
    "pcgrad": GradientNoOptions,
    "mgda": MGDAOptions,
    "cagrad": CAGradOptions,
    "imtl": GradientNoOptions,
    "upgrad": UPGradOptions,
    "aligned-mtl": AlignedMTLOptions,
    "nash-mtl": NashMTLOptions,
}
"""Registered strategy name → its options model (a strategy missing here takes no options)."""


def options_model(weighting: str) -> type[StrategyOptions]:
    """The options model of ``weighting`` (:class:`NoOptions` when it has none)."""
    return OPTIONS.get(weighting, NoOptions)


def level(weighting: str) -> Level:
    """``"loss"`` or ``"gradient"``: how ``weighting`` works."""
    return options_model(weighting).level


def parse_options(weighting: str, options: dict[str, Any] | None) -> StrategyOptions:
    """Validate ``loss.options`` for ``weighting``; ``ValueError`` with one readable line.

    Args:
        weighting: a registered strategy name.
        options: the user's ``loss.options`` (``None`` = defaults).

    Raises:
        ValueError: naming the bad key and what is allowed, e.g.
            ``loss.options.temperature for weighting 'dwa': must be > 0 (got -1)``.
    """
    model = options_model(weighting)
    try:
        return model.model_validate(dict(options or {}))
    except ValidationError as err:
        allowed = ", ".join(model.model_fields) or "none"
        problems = []
        for problem in err.errors()[:3]:
            key = ".".join(str(p) for p in problem["loc"])
            if problem["type"] == "extra_forbidden":
                if model.model_fields:
                    problems.append(
                        f"unknown key loss.options.{key} for weighting {weighting!r}; allowed keys: {allowed}"
                    )
                else:
                    problems.append(
                        f"weighting {weighting!r} takes no options, found loss.options.{key}"
                    )
            else:
                message = (
                    problem["msg"]
                    .removeprefix("Value error, ")
                    .replace("Input should be", "must be")
                )
                problems.append(
                    f"loss.options.{key} for weighting {weighting!r}: {message} (got {problem.get('input')!r})"
                )
        raise ValueError("; ".join(problems)) from None


def shared_parameters_problem(model: ModelConfig) -> str | None:
    """Why ``model`` has no shared parameters, or ``None`` when it has some (or may have).

    Decided from the config alone (no torch): ``independent`` shares nothing, nor does
    ``hard`` with ``branch_depth: 0``, nor any architecture whose encoder has no layer.
    """
    if model.sharing == "independent":
        return "model.sharing 'independent' shares none"
    if model.sharing == "hard" and model.branch_depth == 0:
        return "model.sharing 'hard' with model.branch_depth 0 shares none"
    if not model.hidden and (model.encoder == "mlp" or not model.channels):
        return f"model.sharing {model.sharing!r} with an encoder without layers (model.hidden: []) shares none"
    return None


def diagnostics_cost(n_tasks: int, every: int, affinity: bool, weighting: str) -> float:
    """Rough extra training time of ``train.diagnostics_every``, as a fraction of a plain step.

    A plain step is about one forward and one backward pass (≈ 3 forward passes' work);
    a measurement costs one backward per task through the shared layers (≈ 2 each, none
    for a gradient-level strategy, which reuses them) plus T + 1 forward passes with
    ``affinity``, once every ``every`` steps. For the UI's cost hint; the benchmark in
    ``docs/weighting.md`` gives the measured per-step times.

    Args:
        n_tasks: number of tasks T.
        every: ``train.diagnostics_every``.
        affinity: ``train.affinity``.
        weighting: ``loss.weighting``.

    Returns:
        e.g. 0.27 for "about 27 % slower".
    """
    backward = 0.0 if level(weighting) == "gradient" else 2.0 * n_tasks
    forward = float(n_tasks + 1) if affinity else 0.0
    return (backward + forward) / (3.0 * every)


def loss_level_names(names: list[str]) -> list[str]:
    """The loss-level strategies among ``names`` (for error messages)."""
    return [name for name in names if level(name) == "loss"]


__all__ = [
    "OPTIONS",
    "Level",
    "StrategyOptions",
    "diagnostics_cost",
    "level",
    "loss_level_names",
    "options_model",
    "parse_options",
    "shared_parameters_problem",
]
