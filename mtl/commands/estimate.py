"""``python -m mtl estimate (CONFIG | --preset NAME) [--set KEY=VALUE]…``: how long the run would take, from a few timed steps.

Prepares the data as the worker will, trains about twenty real steps and extrapolates to
``train.epochs`` (see :mod:`mtl.study.timing`). Nothing is recorded in the run store. With
``--json``, stdout is one JSON object (``seconds``, ``step_seconds``, ``steps_per_epoch``…).
Torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json

from mtl.commands.run import add_config_args, load_config
from mtl.study.estimate import describe


def add_parser(
    sub: argparse._SubParsersAction, parents: dict[str, argparse.ArgumentParser]
) -> None:
    """Add ``estimate`` to the ``python -m mtl`` parser."""
    p = sub.add_parser(
        "estimate",
        parents=[parents["json"]],
        help="estimate a run's duration by timing a few training steps on its real data",
    )
    add_config_args(p)
    p.add_argument("--steps", type=int, default=None, help="training steps to time (default 20)")
    p.set_defaults(handler=cmd_estimate)


def cmd_estimate(args: argparse.Namespace) -> int:
    from mtl.study.timing import TIMED_STEPS, estimate  # torch: only when the command runs

    steps = TIMED_STEPS if args.steps is None else args.steps
    if steps < 1:
        raise ValueError(f"--steps must be at least 1, found {steps}")
    result = estimate(load_config(args), steps=steps)
    print(json.dumps(result.to_dict()) if args.json else describe(result))
    return 0
