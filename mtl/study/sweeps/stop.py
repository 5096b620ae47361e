"""Stopping a sweep (or a study, which is one): every run it queued, grid and baselines alike."""

from __future__ import annotations

from mtl.runs.scheduler import stop
from mtl.runs.status import ACTIVE, RunStatus
from mtl.runs.store import RunStore
from mtl.study.sweeps.records import get_sweep

__all__ = ["stop_sweep"]


def stop_sweep(store: RunStore, sweep_id: str, grace_s: float = 10.0) -> dict[str, RunStatus]:
    """Stop every queued or running run of sweep ``sweep_id``; return each one's final status.

    Queued runs are cancelled first (so none starts when a running one frees its slot), then
    each running run is stopped (:func:`mtl.runs.scheduler.stop`). Runs that had already
    ended are left as they are and not listed. Baselines reused from earlier (not queued by
    this sweep) are never stopped.

    Raises:
        SweepError: no such sweep.
    """
    record = get_sweep(store, sweep_id)
    ids = [r["id"] for r in record.get("runs", [])]
    ids += [b["id"] for b in record.get("baselines", []) if not b.get("reused")]
    runs = store.list_runs(list(ACTIVE)).set_index("id")["status"]
    active = [i for i in ids if i in runs.index]
    for run_id in sorted(active, key=lambda i: runs[i] != RunStatus.QUEUED):  # queued first
        store.request_stop(run_id)
    return {run_id: stop(store, run_id, grace_s) for run_id in active}
