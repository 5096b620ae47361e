"""Run statuses: one string enum, its active and terminal sets, and the allowed changes.

Torch-free and dependency-free. :class:`RunStatus` members *are* strings
(``RunStatus.FINISHED == "finished"``, same hash, ``str()`` gives the value), so the store
keeps plain text in its ``status`` column and code may compare either way.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "STATUSES", "TERMINAL", "TERMINAL_STATUSES", "TRANSITIONS", "RunStatus"]


class RunStatus(StrEnum):
    """The status of a run, written by the launcher and the worker, read by everyone else."""

    QUEUED = "queued"  # recorded, waiting for a free slot
    RUNNING = "running"  # a worker process is training it
    FINISHED = "finished"  # trained to the end (or early-stopped)
    STOPPED = "stopped"  # stopped by the user (or cancelled while queued)
    FAILED = "failed"  # an error; the run's ``error`` says which
    DIVERGED = "diverged"  # the loss became NaN or infinite
    INTERRUPTED = "interrupted"  # its worker died (no heartbeat)


ACTIVE: frozenset[RunStatus] = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})
"""Statuses of a run that may still change (a page keeps polling it)."""
TERMINAL: frozenset[RunStatus] = frozenset(RunStatus) - ACTIVE
"""Final statuses: nothing changes a run after one of these."""

# Plain-string forms, in the order the store and the tables show them.
STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus)
TERMINAL_STATUSES: frozenset[str] = frozenset(s.value for s in TERMINAL)

# Allowed status changes. A queued run may be cancelled (stopped) or fail before it
# starts (e.g. its worker could not be spawned); terminal statuses are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    RunStatus.QUEUED.value: frozenset(
        {RunStatus.RUNNING.value, RunStatus.STOPPED.value, RunStatus.FAILED.value}
    ),
    RunStatus.RUNNING.value: TERMINAL_STATUSES,
    **{status: frozenset() for status in TERMINAL_STATUSES},
}
