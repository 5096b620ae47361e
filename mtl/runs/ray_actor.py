"""What runs on a Ray node: one actor per run that trains it and hands back what it recorded.

:class:`RemoteRun` trains in a thread of its actor with the same callbacks as a local worker:
an :class:`~mtl.train.outputs.OutputWriter` writing into a temporary folder on the node, and a
:class:`~mtl.runs.recorder.StoreRecorder` whose "store" is a :class:`BufferSink` (the
recorder's interface is the seam: rows, weights, heartbeats, stop requests, the final status).
The launcher's driver (:mod:`mtl.runs.ray_driver`) calls :meth:`RemoteRun.poll` about twice a
second and gets a :class:`Batch`: the rows and weights recorded since the last call, the
files that are new or changed, and the final status once training ended.

The file is ray-free and torch-free at import (torch loads inside the actor's training
thread), so the sink and the file shipping are tested without a cluster.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mtl.config import ExperimentConfig
from mtl.errors import UnsafePathError
from mtl.runs.recorder import StoreRecorder
from mtl.runs.status import RunStatus
from mtl.train.files import atomic_write

__all__ = ["Batch", "BufferSink", "FileShipper", "RemoteRun", "write_files"]

LOG_NAME = "ray_worker.log"
"""The file in the run's folder a failure's traceback is appended to."""


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
    """The recorder's store, on the node: keeps what it is given until :meth:`take`.

    Implements the methods :class:`~mtl.runs.recorder.StoreRecorder` calls on a
    :class:`~mtl.runs.store.RunStore`; the run id they pass is ignored (one sink per run).
    """

    def __init__(self) -> None:
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
    """The files of ``folder`` (recursively) that are new or changed since the last call."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
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
                out[rel] = path.read_bytes()
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
        atomic_write(target, lambda tmp, data=content: tmp.write_bytes(data))


class RemoteRun:
    """The actor that trains one run on a Ray node (created by the driver with
    ``ray.remote(RemoteRun).options(num_cpus=…, num_gpus=…)``).

    Args:
        run_id: the run (only used in names and messages).
        config: the run's config as a dict.
        data_file: ``(file name, content)`` of the CSV named by ``data.path``, read on the
            launcher; the node writes it to its temporary folder and trains from there.
    """

    def __init__(
        self, run_id: str, config: dict[str, Any], data_file: tuple[str, bytes] | None = None
    ) -> None:
        self.run_id = run_id
        self.config = config
        self.data_file = data_file
        self.folder = Path(tempfile.mkdtemp(prefix=f"mtl-{run_id}-"))
        self.out = self.folder / "run"
        self.out.mkdir()
        self.sink = BufferSink()
        self.shipper = FileShipper(self.out)
        self._trainer: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> dict[str, Any]:
        """Start training in a thread of this actor; returns where it runs (host, pid)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._train, name="train", daemon=True)
            self._thread.start()
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def request_stop(self) -> None:
        """Stop at the next step (the run ends ``stopped``, its checkpoint written)."""
        self.sink.request_stop()
        if self._trainer is not None:
            self._trainer.request_stop("stop requested")

    def poll(self) -> Batch:
        """What was recorded since the last poll (see :class:`Batch`)."""
        batch = self.sink.take()  # status first: files written before it are complete below
        batch.files = self.shipper.changed()
        if batch.status is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
        return batch

    def _train(self) -> None:
        recorder = StoreRecorder(self.sink, self.run_id)  # type: ignore[arg-type]
        recorder.start()
        try:
            # why: torch loads here, in the actor's thread, never in the launcher
            from mtl.data.prepare import prepare
            from mtl.train.outputs import OutputWriter
            from mtl.train.trainer import Trainer

            config = ExperimentConfig.from_dict(self.config)
            here = config
            if self.data_file is not None:  # read the launcher's CSV from a copy on this node
                name, content = self.data_file
                path = self.folder / (Path(name).name or "data.csv")
                path.write_bytes(content)
                here = config.with_overrides({"data.path": str(path)})
            writer = OutputWriter(self.out)  # config.yaml keeps the launcher's data.path
            self._trainer = Trainer(config, prepare(here), callbacks=[writer, recorder])
            if self.sink.stop_requested(self.run_id):
                self._trainer.request_stop("stop requested")
            self._trainer.fit()
        except BaseException as err:
            with contextlib.suppress(Exception):
                recorder.close()
            with contextlib.suppress(OSError), open(self.out / LOG_NAME, "a") as log:
                traceback.print_exc(file=log)
            message = str(err) if isinstance(err, ValueError) else f"{type(err).__name__}: {err}"
            self.sink.set_status(self.run_id, RunStatus.FAILED, error=message)
