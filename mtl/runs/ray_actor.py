"""What runs on a Ray node: a warm actor that trains runs one after another and hands back
what each recorded.

:class:`RemoteRun` imports the training stack when it is created, then trains each run it is
given (:meth:`RemoteRun.start`) in a thread of its actor through the local worker's own
:func:`~mtl.runs.worker.execute` (the same output writer and
:class:`~mtl.runs.recorder.StoreRecorder`), with a :class:`BufferSink` as its store: the
recorder's interface is the seam (rows, weights, heartbeats, stop requests, the final status),
and the run's folder is a temporary folder on the node.
The launcher's driver (:mod:`mtl.runs.ray_driver`) calls :meth:`RemoteRun.poll` about twice a
second and gets a :class:`Batch`: the rows and weights recorded since the last call, the
files that are new or changed, and the final status once training ended.

The file is ray-free and torch-free at import (torch loads when the actor is created, in the
Ray worker), so the actor itself is tested without a cluster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, cast

from mtl.config import ExperimentConfig
from mtl.errors import UnsafePathError
from mtl.runs.lineage import CHECKPOINT_FILE
from mtl.runs.status import RunStatus
from mtl.runs.store import RunStore
from mtl.runs.worker import execute
from mtl.train.files import atomic_write

__all__ = ["Batch", "BufferSink", "FileShipper", "RemoteRun", "write_files"]

WORKER_LOG = "worker.log"
"""Where :func:`mtl.runs.worker.execute` appends a failure's traceback (on the node)."""
LOG_NAME = "ray_worker.log"
"""Its name in the launcher's run folder (``worker.log`` there is the driver's log)."""


@dataclass
class Batch:
    """What the actor recorded since the previous :meth:`RemoteRun.poll`.

    Attributes:
        metrics: metric rows, as :meth:`RunStore.add_metrics` takes them.
        weights: loss-weight rows, as :meth:`RunStore.add_weights` takes them.
        files: relative POSIX path → whole content, for files new or changed since.
        status: the final status once training ended (written last by the driver), with
            ``error`` and ``summary``.
    """

    metrics: list[tuple] = field(default_factory=list)
    weights: list[tuple] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    status: str | None = None
    error: str | None = None
    summary: dict[str, Any] | None = None


class BufferSink:
    """The run store as seen from a node: keeps what it is given until :meth:`take`.

    Implements the methods :func:`mtl.runs.worker.execute` and its
    :class:`~mtl.runs.recorder.StoreRecorder` call on a :class:`~mtl.runs.store.RunStore`;
    the run id they pass is ignored (one sink per run), except a source run's.

    Args:
        folder: the run's folder on this node (:meth:`run_dir`).
        sources: the finished runs it may start from (``model.init_from``): run id → their
            folder on this node, holding the checkpoint the launcher sent.
    """

    def __init__(self, folder: Path, sources: dict[str, Path] | None = None) -> None:
        self.folder = Path(folder)
        self.sources = dict(sources or {})
        self._lock = threading.Lock()
        self._metrics: list[tuple] = []
        self._weights: list[tuple] = []
        self._end: tuple[str, str | None, dict[str, Any] | None] | None = None
        self._stop = threading.Event()

    def add_metrics(self, run_id: str, rows: list[tuple]) -> None:
        with self._lock:
            self._metrics.extend(rows)

    def add_weights(self, run_id: str, rows: list[tuple]) -> None:
        with self._lock:
            self._weights.extend(rows)

    def run_dir(self, run_id: str) -> Path:
        return self.sources.get(run_id, self.folder)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run's status as far as the node knows: ``running`` until it ended (a source
        run: ``finished``, the launcher sends only those)."""
        if run_id in self.sources:
            return {"status": RunStatus.FINISHED}
        with self._lock:
            return {"status": RunStatus.RUNNING if self._end is None else self._end[0]}

    def heartbeat(self, run_id: str) -> None:
        """Nothing: a successful poll is the heartbeat the driver records."""

    def stop_requested(self, run_id: str) -> bool:
        return self._stop.is_set()

    def request_stop(self) -> None:
        """Make :meth:`stop_requested` true (the recorder then stops the trainer)."""
        self._stop.set()

    def set_status(
        self,
        run_id: str,
        status: str,
        error: str | None = None,
        summary: dict[str, Any] | None = None,
    ) -> None:
        """Remember the final status (the first one wins, as in the store)."""
        with self._lock:
            if self._end is None:
                self._end = (str(status), error, summary)

    def take(self) -> Batch:
        """Everything recorded since the last call (rows, weights, the final status)."""
        with self._lock:
            batch = Batch(metrics=self._metrics, weights=self._weights)
            self._metrics, self._weights = [], []
            if self._end is not None:
                batch.status, batch.error, batch.summary = self._end
        return batch


class FileShipper:
    """The files of ``folder`` (recursively) that are new or changed since the last call.

    Args:
        folder: the run's folder on the node.
        rename: relative path on the node → the name it is shipped under.
    """

    def __init__(self, folder: Path, rename: dict[str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.rename = dict(rename or {})
        self._sent: dict[str, tuple[int, int]] = {}

    def changed(self) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        if not self.folder.is_dir():
            return out
        for path in sorted(self.folder.rglob("*")):
            if not path.is_file() or path.is_symlink() or path.name.startswith("."):
                continue  # hidden: atomic_write's temporary files
            rel = path.relative_to(self.folder).as_posix()
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            if self._sent.get(rel) == signature:
                continue
            with contextlib.suppress(OSError):  # replaced meanwhile: the next call sends it
                out[self.rename.get(rel, rel)] = path.read_bytes()
                self._sent[rel] = signature
        return out


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write the shipped ``files`` under ``folder``, each atomically.

    Raises:
        UnsafePathError: a name is absolute, has ``..`` or an empty part, or a NUL or
            backslash (nothing sent from a node becomes a path outside the run's folder).
    """
    for rel, content in files.items():
        path = PurePosixPath(rel)
        if (
            path.is_absolute()
            or not path.parts
            or any(part in ("", ".", "..") or "\\" in part or "\0" in part for part in path.parts)
        ):
            raise UnsafePathError(f"{rel!r} cannot name a file in a run's folder")
        target = Path(folder).joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, partial(Path.write_bytes, data=content))


class RemoteRun:
    """A warm Ray actor that trains runs one after another (created by the driver with
    ``ray.remote(RemoteRun).options(num_cpus=…, num_gpus=…)``).

    Creating it pays what a fresh worker pays before its first step (torch, the trainer,
    every registered architecture and strategy); the driver then hands it run after run
    (:meth:`start`), so only the first run on an actor waits for that.

    Args:
        warm: also load every registered architecture and strategy now (``False`` in tests
            that train in-process, where the registries load on demand).
    """

    def __init__(self, warm: bool = True) -> None:
        # why: torch and scikit-learn load here, in the Ray worker, never in the driver that
        # imports this module for the actor class
        from mtl.runs import ray_warm

        self._stack = ray_warm
        if warm:
            ray_warm.warm_up()
        self.runs = 0
        self.run_id: str | None = None
        self.folder: Path | None = None
        nowhere = Path(tempfile.gettempdir()) / ".mtl-no-run"  # never created: no run yet
        self.sink = BufferSink(nowhere)
        self.shipper = FileShipper(nowhere)
        self._thread: threading.Thread | None = None

    def start(
        self,
        run_id: str,
        config: dict[str, Any],
        data_file: tuple[str, bytes] | None = None,
        source: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """Start training ``run_id`` in a thread of this actor; returns where it runs.

        Args:
            run_id: the run (only used in names and messages).
            config: the run's config as a dict.
            data_file: ``(file name, content)`` of the CSV named by ``data.path``, read on
                the launcher; the node writes it to its temporary folder and trains from there.
            source: ``(run id, checkpoint)`` of the finished run named by ``model.init_from``,
                read on the launcher.

        Returns:
            ``host`` and ``pid`` of this actor's process and ``runs``: how many runs it was
            given so far, this one included.

        Raises:
            RuntimeError: the previous run's training thread has not ended.
        """
        if self._thread is not None:
            self._thread.join(timeout=30)  # its status was handed over: it is returning
            if self._thread.is_alive():
                raise RuntimeError(f"this actor still trains run {self.run_id}")
        self.runs += 1
        self.run_id = run_id
        self.folder = Path(tempfile.mkdtemp(prefix=f"mtl-{run_id}-"))
        out = self.folder / "run"
        out.mkdir()
        sources = {}
        if source is not None:
            source_id, checkpoint = source
            write_files(self.folder / "sources", {f"{source_id}/{CHECKPOINT_FILE}": checkpoint})
            sources[source_id] = self.folder / "sources" / source_id
        self.sink = BufferSink(out, sources)
        self.shipper = FileShipper(out, rename={WORKER_LOG: LOG_NAME})
        self._thread = threading.Thread(
            target=self._train, args=(run_id, config, data_file), name="train", daemon=True
        )
        self._thread.start()
        return {"host": socket.gethostname(), "pid": os.getpid(), "runs": self.runs}

    def request_stop(self) -> None:
        """Stop at the next step (the run ends ``stopped``, its checkpoint written): the
        recorder finds the request in the sink at its next flush."""
        self.sink.request_stop()

    def poll(self) -> Batch:
        """What was recorded since the last poll (see :class:`Batch`)."""
        batch = self.sink.take()  # status first: files written before it are complete below
        batch.files = self.shipper.changed()
        if batch.status is not None and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
        return batch

    def _train(self, run_id: str, config_dict: dict[str, Any], data_file: Any) -> None:
        sink = self.sink
        try:
            config = ExperimentConfig.from_dict(config_dict)
            data = None
            if data_file is not None:  # read the launcher's CSV from a copy on this node
                name, content = data_file
                path = sink.folder.parent / (Path(name).name or "data.csv")
                path.write_bytes(content)
                data = self._stack.prepare(config.with_overrides({"data.path": str(path)}))
            # the local worker's own training path, recording into the sink
            execute(cast(RunStore, sink), run_id, config, data)
        except BaseException as err:  # execute recorded it (a failed prepare is recorded here)
            message = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
            sink.set_status(run_id, RunStatus.FAILED, error=message)
