"""Lineage: which run a run was initialised from (``model.init_from``), resolved through the store.

A run id from a config never becomes a path by itself: :func:`source_checkpoint` looks the run
up in the store (an unknown id is refused), requires it to be ``finished`` (waiting while it is
still queued or running, as the runs of a transfer study are) and returns the checkpoint inside
the store's own run folder. The store records the link in the ``parent`` column
(:meth:`mtl.runs.store.RunStore.create_run`), so Compare and Evaluate can show it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mtl.errors import ConfigError
from mtl.runs.status import ACTIVE, RunStatus
from mtl.runs.store import RunStore
from mtl.runs.store_db import RunNotFoundError

__all__ = ["CHECKPOINT_FILE", "WAIT_POLL_S", "source_checkpoint"]

CHECKPOINT_FILE = "checkpoint.pt"  # the name mtl.train.checkpoint writes
WAIT_POLL_S = 0.5


def source_checkpoint(
    store: RunStore,
    source_id: str,
    *,
    wait: bool = False,
    should_stop: Callable[[], bool] = lambda: False,
) -> Path:
    """The checkpoint of finished run ``source_id`` in ``store``.

    Args:
        store: the run store holding the source run.
        source_id: ``model.init_from`` (already checked against the run-id rule by the config).
        wait: while the source is queued or running, wait for it to end (a transfer study
            queues the fine-tuning run right after its pretraining run).
        should_stop: polled while waiting; when it returns true, :class:`InterruptedError`.

    Raises:
        ConfigError: no such run, it did not finish, or it has no checkpoint (one line).
    """
    try:
        status = RunStatus(store.get_run(source_id)["status"])
        while wait and status in ACTIVE:
            if should_stop():
                raise InterruptedError(f"stopped while waiting for run {source_id}")
            time.sleep(WAIT_POLL_S)
            status = RunStatus(store.get_run(source_id)["status"])
    except RunNotFoundError:
        raise ConfigError(
            f"model.init_from: no run {source_id!r} in {store.home}; `python -m mtl runs` lists them"
        ) from None
    if status != RunStatus.FINISHED:
        raise ConfigError(
            f"model.init_from: run {source_id} is {status.value}, not finished; "
            "transfer starts from a finished run's weights"
        )
    path = store.run_dir(source_id) / CHECKPOINT_FILE
    if not path.is_file():
        raise ConfigError(f"model.init_from: run {source_id} has no checkpoint ({path.name})")
    return path
