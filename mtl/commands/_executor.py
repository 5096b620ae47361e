"""The executor options shared by ``run``, ``sweep`` and the studies: ``--executor``, ``--ray-cpus``, ``--ray-gpus``.

Not a command (the leading underscore keeps :func:`mtl.commands.add_all` from loading it as
one). Ray itself is never imported here: :func:`ray_options` only checks that it is installed
and that the cluster answers, so a bad address is one ``error:`` line before anything is queued.
"""

from __future__ import annotations

import argparse

from mtl.runs.ray_options import EXECUTORS, RayOptions, check_cluster, default_executor

__all__ = ["add_executor_args", "ray_options"]


def add_executor_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--executor`` and the Ray resources per run to ``parser``."""
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="where runs train: `local` worker processes, or a `ray` cluster ($RAY_ADDRESS, "
        "else a local Ray instance); default $MTL_EXECUTOR or local",
    )
    parser.add_argument(
        "--ray-cpus", type=float, default=None, help="with --executor ray: CPUs per run (1)"
    )
    parser.add_argument(
        "--ray-gpus", type=float, default=None, help="with --executor ray: GPUs per run (0)"
    )


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The Ray options of the command, or ``None`` for the local executor.

    Raises:
        ValueError: a resource is negative, ``MTL_EXECUTOR`` is unknown, or Ray options are
            given without the Ray executor.
        UserError: ray is not installed or the cluster cannot be reached.
    """
    executor = args.executor or default_executor()
    given = [f"--ray-{n}" for n in ("cpus", "gpus") if getattr(args, f"ray_{n}") is not None]
    if executor != "ray":
        if given:
            raise ValueError(f"{given[0]} needs --executor ray")
        return None
    options = RayOptions.from_env(args.ray_cpus, args.ray_gpus)
    check_cluster(options.address)
    return options
