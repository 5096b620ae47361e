"""Synthetic regression tasks that share a latent, with a controlled task correlation p.

The model (adapted from the MMoE paper's generator): u_1 … u_T orthonormal directions in R^d,
x ~ N(0, I_d); each task k has its own latent z_k = c·u_kᵀx (independent N(0, c²)) passed
through one nonlinearity f(z) = z + Σ_i sin(α_i·z + β_i). The first task of a group (its
anchor a) is y_a = f(z_a) + ε; every other task of the group is

    y_t = p·f(z_a) + sqrt(1 − p²)·f(z_t) + ε,

i.e. it shares the anchor's latent feature f(z_a) (the part a shared layer can learn once for
both) and adds its own. So p is exactly the correlation of the noiseless targets of the
anchor and a task (p² between two non-anchor tasks of a group), with or without the sines;
with ``sines = 0`` it is also the cosine between the weight vectors w_t = c·(p·u_a +
sqrt(1 − p²)·u_t), as in the paper. At p = 0 the targets are independent: they only use the
same function f on different, independent latents, which nothing shared can exploit.

The paper's own generator applies the sines to w_tᵀx, so at p = 0.9 the nonlinear part of
each task is a function of a *different* projection: what a shared layer learns for one task
barely serves the other (label correlation 0.86 at p = 0.9, 0.43 at p = 0.5), and sharing
helped only within the seed noise. Here the related tasks share the latent feature itself.

Task groups (``groups``, e.g. ``[[1, 2], [3, 4]]``) give the data a known structure: inside a
group the tasks share the group's anchor latent as above; across groups the latents are
disjoint, so tasks of different groups are unrelated (correlation 0). Without ``groups``
every task is in one group, anchored on task 1.

``labelled`` below 1 leaves each task's target missing on a random share of the rows, drawn
independently per task: few labelled rows per task, and different rows for each, the regime
where a shared trunk helps most (it learns the shared latent from every task's rows).

Reference: Ma et al., "Modeling Task Relationships in Multi-task Learning with Multi-gate
Mixture-of-Experts", KDD 2018.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mtl.data.catalog import DataError, Dataset

NAME = "synthetic"
MAX_BYTES = 1 << 30
"""Largest table the generator builds (float64 cells: samples × (features + n_tasks) × 8 bytes)."""


class Options(BaseModel):
    """Settings of the synthetic generator."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    n_tasks: int = Field(2, ge=1, le=16, description="Number of tasks (targets y1 … yT).")
    p: float = Field(
        0.5,
        ge=-1.0,
        le=1.0,
        description="Task correlation in [-1, 1]: of a task's noiseless target "
        "with its group's first task (p² between two other tasks of a group).",
    )
    samples: int = Field(4000, ge=20, le=1_000_000, description="Number of rows.")
    features: int = Field(32, ge=2, le=4096, description="Input dimension d (≥ n_tasks).")
    c: float = Field(1.0, gt=0.0, le=1e6, description="Scale of the latents (z_k = c·u_kᵀx).")
    sines: int = Field(10, ge=0, le=100, description="Number m of sine terms.")
    noise: float = Field(0.1, ge=0.0, le=1e6, description="Standard deviation of ε.")
    binary: list[int] = Field(
        default_factory=list,
        description="Task numbers (1-based) turned into binary labels by thresholding at 0.",
    )
    labelled: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="Share of rows on which each task's target is observed, drawn independently "
        "per task; the others are missing (few labelled rows per task, different rows per task).",
    )
    seed: int = Field(
        0, ge=0, description="Generator seed (fixed so the data does not change with train.seed)."
    )
    groups: list[list[int]] = Field(
        default_factory=list,
        description="Task groups (1-based task numbers, e.g. [[1, 2], [3, 4]]): related (p) "
        "inside a group, unrelated across groups; every task in exactly one group. Empty = one group.",
    )

    @field_validator("binary")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if any(v < 1 for v in value):
            raise ValueError(f"task numbers are 1-based, found {value}")
        return value

    @field_validator("groups")
    @classmethod
    def _check_groups(cls, value: list[list[int]]) -> list[list[int]]:
        flat = [t for group in value for t in group]
        if any(not group for group in value):
            raise ValueError("a task group is empty; list at least one task number in each")
        if any(t < 1 for t in flat):
            raise ValueError(f"task numbers are 1-based, found {value}")
        repeated = sorted({t for t in flat if flat.count(t) > 1})
        if repeated:
            raise ValueError(f"tasks {repeated} are in more than one group")
        return value

    @model_validator(mode="after")
    def _fits_in_memory(self) -> Options:
        size = self.samples * (self.features + self.n_tasks) * 8
        if size > MAX_BYTES:
            raise ValueError(
                f"samples × (features + n_tasks) = {self.samples:,} × {self.features + self.n_tasks} float64 cells "
                f"need {size / 2**30:.1f} GiB, above the {MAX_BYTES / 2**30:.0f} GiB limit; lower samples or features"
            )
        return self


def generate(options: Options) -> pd.DataFrame:
    """The table: feature columns ``x0 … x{d-1}`` and targets ``y1 … yT``."""
    if options.features < options.n_tasks:
        raise DataError(
            f"data.options.features ({options.features}) must be ≥ n_tasks ({options.n_tasks})"
        )
    if any(b > options.n_tasks for b in options.binary):
        raise DataError(
            f"data.options.binary {options.binary} names a task above n_tasks ({options.n_tasks})"
        )
    groups = task_groups(options)
    rng = np.random.default_rng(options.seed)
    d, n, t = options.features, options.samples, options.n_tasks
    basis, _ = np.linalg.qr(rng.normal(size=(d, t)))  # (d, T) orthonormal columns u_1 … u_T
    anchors = {number - 1: group[0] - 1 for group in groups for number in group}
    alpha = rng.normal(size=options.sines)
    beta = rng.normal(size=options.sines)
    x = rng.normal(size=(n, d))  # (N, d)
    z = options.c * (x @ basis)  # (N, T): the latents z_k = c·u_kᵀx, independent N(0, c²)
    f = np.stack([_f(z[:, k], alpha, beta) for k in range(t)], axis=1)  # (N, T): f(z_k)
    p, q = options.p, np.sqrt(1.0 - options.p**2)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(d)])
    targets = []
    for k in range(t):
        a = anchors[k]
        signal = f[:, k] if k == a else p * f[:, a] + q * f[:, k]  # (N,)
        y = signal + options.noise * rng.normal(size=n)
        targets.append((y > 0).astype(np.int64) if (k + 1) in options.binary else y)
    for k, y in enumerate(targets):
        if options.labelled < 1.0:  # drawn after every target, so y is the same whatever the share
            observed = rng.random(n) < options.labelled
            y = np.where(observed, y, np.nan)
        frame[f"y{k + 1}"] = y
    return frame


def _f(z: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The nonlinearity every latent goes through: f(z) = z + Σ_i sin(α_i·z + β_i)."""
    return z + np.sin(np.outer(z, alpha) + beta).sum(axis=1)  # (N,)


def task_groups(options: Options) -> list[list[int]]:
    """The task groups, 1-based (one group of every task when ``groups`` is empty).

    Raises:
        DataError: a group names a task above ``n_tasks``, or a task is in no group.
    """
    if not options.groups:
        return [list(range(1, options.n_tasks + 1))]
    flat = {t for group in options.groups for t in group}
    above = sorted(t for t in flat if t > options.n_tasks)
    if above:
        raise DataError(
            f"data.options.groups names tasks {above} above n_tasks ({options.n_tasks})"
        )
    missing = sorted(set(range(1, options.n_tasks + 1)) - flat)
    if missing:
        raise DataError(
            f"data.options.groups leaves tasks {missing} out; put every task in one group"
        )
    return [list(group) for group in options.groups]


def _load(options: Options, path: str | None) -> pd.DataFrame:
    return generate(options)


DATASET = Dataset(
    load=_load,
    options=Options,
    suggested_tasks=[
        {"name": "y1", "target": "y1", "kind": "regression"},
        {"name": "y2", "target": "y2", "kind": "regression"},
    ],
    exclude=tuple(f"y{k}" for k in range(1, 17)),
)
