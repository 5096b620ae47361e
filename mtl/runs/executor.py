"""Where runs train: the small interface the scheduler starts and stops runs through.

The scheduler (:mod:`mtl.runs.scheduler`) owns the queue: it claims queued runs in the store
while slots are free, asks runs to stop, and marks dead ones. An executor only owns the
*processes*: it starts the one that trains a claimed run, ends it when asked, and tells
whether it is still there. :class:`mtl.runs.local_executor.LocalExecutor` runs one detached
worker process per run on this machine; :class:`mtl.runs.ray_executor.RayExecutor` hands runs
to the store's Ray driver, which trains them in warm actors on a cluster. Torch-free.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["Executor"]


@runtime_checkable
class Executor(Protocol):
    """Start, stop and watch the processes of runs that the store has already claimed.

    The store stays the truth: the process an executor starts records status, heartbeats and
    metrics in the store itself, and the scheduler reads them from there.
    """

    def submit(self, run_id: str) -> int | None:
        """Start training the claimed run ``run_id`` (status ``running``).

        Returns:
            The pid of the process on this machine that trains it, or that records it while
            it trains elsewhere (the store keeps it to tell a dead worker), or ``None`` when
            there is none: then its heartbeat alone tells whether it lives.
        """
        ...

    def stop(self, run_id: str, *, force: bool = False) -> bool:
        """End the process training ``run_id`` now: ask it to stop (it records its own
        ``stopped``), or with ``force`` kill it.

        Returns:
            ``False`` when the process is certainly gone already (nothing left to wait for).
        """
        ...

    def alive(self, run_id: str) -> bool:
        """Whether the process training ``run_id`` is still there."""
        ...

    def warm_up(self) -> None:
        """Get a process ready for the next run (torch imported) so it starts in seconds.

        The scheduler calls it while a slot is free and the caller asked for warm starts;
        an executor whose processes are always warm does nothing.
        """
        ...
