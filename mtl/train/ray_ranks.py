"""Ranks 1 … N-1 of a data-parallel run as Ray Train workers, on any node of the cluster.

Rank 0 stays the process that runs the run (the Ray executor's actor, or a driver): it keeps
the callbacks that stream rows and files to the launcher's store, exactly as with one worker.
The other ranks are the workers of one :class:`ray.train.torch.TorchTrainer` with
``ScalingConfig(num_workers=N - 1)``, placed by Ray wherever the cluster has room (other
nodes included). Each worker leaves the process group Ray Train set up among those N - 1
workers and joins the run's own group of N ranks through rank 0's TCP store, at rank 0's
node address (:func:`mtl.train.distributed.run_rank`): the group's collectives then span
nodes, with gloo on CPU and NCCL on GPU.

The data travels through Ray's object store: each rank's shard of the prepared data, or the
row-free Parquet plan (:mod:`mtl.data.shards`) when every node can read the file.
Rank 0 watches the trainer like a process (:class:`RayTrainRanks`): when a worker fails,
``fit`` raises and rank 0 hears of it; when rank 0 fails or leaves the group, the workers'
next collective fails and the trainer ends.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from typing import Any

import ray
import torch
import torch.distributed as dist
from ray.train import FailureConfig, RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from mtl.config import ExperimentConfig
from mtl.train.distributed import DataSource, RankProcess, rank_source, run_rank, train_rows

__all__ = ["RayTrainRanks", "start_ray_train_ranks"]


class RayTrainRanks:
    """A Ray Train run of ranks 1 … N-1, watched by rank 0 with a process's interface.

    Args:
        fit: starts the trainer and returns when every worker has ended (raises when one
            failed); called in a thread of this process.
    """

    def __init__(self, fit: Callable[[], Any]) -> None:
        self._fit = fit
        self._read, self._write = os.pipe()
        self.exitcode: int | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="mtl-ray-ranks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._fit()
            self.exitcode = 0
        except BaseException as err:  # a worker failed: rank 0 reports it
            self.error = err
            self.exitcode = 1
        finally:
            os.close(self._write)  # wakes rank 0's wait on the sentinel

    @property
    def sentinel(self) -> int:
        """A file descriptor that becomes readable when the trainer ended."""
        return self._read

    def is_alive(self) -> bool:
        """Whether the trainer still runs."""
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the trainer to end (at most ``timeout`` seconds)."""
        self._thread.join(timeout)
        if not self._thread.is_alive():
            with contextlib.suppress(OSError):
                os.close(self._read)

    def kill(self) -> None:
        """Nothing to end here: once rank 0 left the group, the workers' next collective
        fails and the trainer ends by itself."""


def start_ray_train_ranks(
    config: ExperimentConfig,
    source: DataSource,
    world: int,
    host: str,
    port: int,
    dtype: torch.dtype | None,
) -> list[RankProcess]:
    """Start ranks 1 … N-1 as the workers of one Ray Train ``TorchTrainer`` (a
    :data:`mtl.train.distributed.RankStarter`)."""
    cuda = torch.cuda.is_available() and config.train.device != "cpu"
    loop_config = {
        "config": config.to_dict(),
        "sources": [ray.put(rank_source(source, rank, world)) for rank in range(1, world)],
        "n_train": train_rows(source),
        "world": world,
        "host": host,
        "port": port,
        "dtype": None if dtype is None else str(dtype),
    }
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=world - 1, use_gpu=cuda),
        run_config=RunConfig(
            name=f"mtl-ranks-{uuid.uuid4().hex[:8]}",
            storage_path=tempfile.mkdtemp(prefix="mtl-ray-train-"),
            # no restart: a new worker would miss the step's state of the other ranks (the
            # type checker sees Train v1's FailureConfig; Ray 2.60 runs v2's, which has it)
            failure_config=FailureConfig(max_failures=0, max_preemption_failures=0),  # type: ignore[call-arg]
        ),
    )
    return [RayTrainRanks(trainer.fit)]


def _train_loop(loop: dict[str, Any]) -> None:
    """One Ray Train worker: rank ``world rank + 1`` of the run's group."""
    rank = ray.train.get_context().get_world_rank() + 1
    if dist.is_initialized():  # the group of the N - 1 workers: the run has its own
        dist.destroy_process_group()
    run_rank(
        loop["config"],
        ray.get(loop["sources"][rank - 1]),
        loop["n_train"],
        rank=rank,
        world=loop["world"],
        host=loop["host"],
        port=loop["port"],
        dtype=loop["dtype"],
    )
