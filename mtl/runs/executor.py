"""Where runs train: the small interface the launcher dispatches through.

:class:`mtl.runs.launcher.LocalExecutor` (one detached worker process per run, on this
machine) is the only implementation today; a distributed executor implements the same three
methods. Torch-free.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Executor"]


@runtime_checkable
class Executor(Protocol):
    """Start, stop and watch runs that the store has already claimed.

    The store stays the truth: an executor only starts the process (or task) that trains a
    run; the worker records status, heartbeats and metrics in the store itself.
    """

    def submit(self, run_id: str) -> int:
        """Start training the claimed run ``run_id`` (status ``running``); return its pid."""
        ...

    def stop(self, run_id: str, grace_s: float = 10.0) -> str:
        """Stop the run (gracefully, then by force after ``grace_s``); return its final status."""
        ...

    def alive(self, run_id: str) -> bool:
        """Whether the process training ``run_id`` is still there."""
        ...
