"""Choosing where runs train, before anything is queued: ``--executor``, the Ray cluster and
the resources of a run on it (:class:`RayOptions`), and a quick check that the cluster answers.

Standard library only (ray is looked up, never imported), so the CLI and the dashboard load
it at no cost. The Ray executor itself is :mod:`mtl.runs.ray_executor`.
"""

from __future__ import annotations

import importlib.util
import os
import socket
from dataclasses import dataclass

from mtl.errors import UserError

__all__ = [
    "ADDRESS_ENV",
    "EXECUTORS",
    "EXECUTOR_ENV",
    "RayOptions",
    "check_cluster",
    "cluster_configured",
    "default_executor",
]

EXECUTORS = ("local", "ray")
"""The executor names ``--executor`` accepts."""
EXECUTOR_ENV = "MTL_EXECUTOR"
"""Default executor name when ``--executor`` is not given (``local`` when unset)."""
ADDRESS_ENV = "RAY_ADDRESS"
"""Ray's own variable for the cluster to join; unset: the store's driver starts a local one."""


@dataclass(frozen=True)
class RayOptions:
    """Where and with what a run trains on Ray.

    Args:
        address: the cluster (``host:port`` of its head, or a ``ray://host:port`` client
            address); ``None``: a private local Ray instance of the store's driver (slow to
            start; set ``RAY_ADDRESS`` to a running cluster instead).
        num_cpus: CPUs the run's actor reserves on its node.
        num_gpus: GPUs it reserves (a fraction shares one GPU between runs).
    """

    address: str | None = None
    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def __post_init__(self) -> None:
        for name in ("num_cpus", "num_gpus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"--ray-{name[4:]} {value!r} must be a number of at least 0")

    @classmethod
    def from_env(cls, num_cpus: float | None = None, num_gpus: float | None = None) -> RayOptions:
        """Options for this launcher: the address from ``RAY_ADDRESS``, resources as given
        (default 1 CPU, no GPU)."""
        return cls(
            address=os.environ.get(ADDRESS_ENV) or None,
            num_cpus=1.0 if num_cpus is None else num_cpus,
            num_gpus=0.0 if num_gpus is None else num_gpus,
        )


def default_executor() -> str:
    """The executor used when none is named: ``$MTL_EXECUTOR`` (``local`` or ``ray``), else local.

    Raises:
        ValueError: ``MTL_EXECUTOR`` names something else.
    """
    name = os.environ.get(EXECUTOR_ENV) or "local"
    if name not in EXECUTORS:
        raise ValueError(f"{EXECUTOR_ENV}={name!r}: choose one of {', '.join(EXECUTORS)}")
    return name


def cluster_configured() -> bool:
    """Whether this launcher is set up for Ray (``RAY_ADDRESS`` or ``MTL_EXECUTOR=ray``): the
    dashboard offers the Ray executor only then."""
    return bool(os.environ.get(ADDRESS_ENV)) or os.environ.get(EXECUTOR_ENV) == "ray"


def check_cluster(address: str | None, timeout_s: float = 3.0) -> None:
    """Fail fast, before anything is queued, when Ray runs cannot start from here.

    Checks that ``ray`` is installed and that the cluster's address accepts a connection
    (``auto`` and a local instance are not checked: the driver reports those).

    Raises:
        UserError: one line naming what is missing or unreachable.
    """
    if importlib.util.find_spec("ray") is None:  # looked up, not imported: ray loads slowly
        raise UserError(
            "the Ray executor needs the `ray` package; install it with "
            "`python -m pip install 'ray==2.60.0'` (see docs/scale.md)"
        )
    if address is None or address == "auto":
        return
    host, port = _host_port(address)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserError(
            f"cannot reach the Ray cluster at {address!r} ({ADDRESS_ENV}): {reason.lower()}; "
            "start it with `ray start --head` or fix the address"
        ) from None


def _host_port(address: str) -> tuple[str, int]:
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(
            f"{ADDRESS_ENV}={address!r} is not a cluster address; write it as HOST:PORT "
            "(e.g. 10.0.0.5:6379) or ray://HOST:PORT"
        )
    return host.strip("[]"), int(port)
