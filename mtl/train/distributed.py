"""Data-parallel training of one run: ``train.workers`` processes, one update, as in one process.

Rank 0 is the process that asked for the run (the worker, the CLI in the foreground, or the
Ray executor's actor): it keeps the callbacks (store, outputs, progress) and starts ranks
1 … N-1 (:func:`spawn_ranks`: ``torch.multiprocessing`` processes here; or, in a Ray actor,
Ray Train workers on any node, :func:`start_ray_train_ranks`), joined
through a ``torch.distributed`` TCP store at a port the operating system picks (on 127.0.0.1,
or this node's address under Ray). Every rank ≥ 1 runs :func:`run_rank`. Backend: gloo on
CPU, NCCL on GPU.

The preprocessing is fitted once, in rank 0, before the other ranks start; each rank then
holds only its shard of the training rows (every N-th row: rank r has rows r, r+N, …) and
the whole validation and test splits: sent by rank 0 from the prepared table, or, for a
Parquet table, read by the rank itself with the fitted preprocessing (:mod:`mtl.data.shards`). Every rank draws the same batch order, so a step's
global batch is the one process's batch; each rank trains on the rows of it that it holds
(any number, zero included), and the step's update is the one-process update:

- the task losses are label-weighted means over the whole global batch: each rank's sums
  and label counts are all-reduced before any weight is computed, and each rank
  differentiates its own share ``Σ_local / count_global``. Loss-level strategies therefore
  see the same loss values on every rank (their state, and RLW's and PCGrad's draws from the
  same seed, stay identical); the parameters' gradients are then summed across ranks;
- gradient-level strategies get the Jacobian of the task losses on the shared parameters
  (T × P_shared) summed across ranks *before* they aggregate it, so PCGrad, MGDA, CAGrad,
  IMTL-G, UPGrad, Aligned-MTL and Nash-MTL see the one-process Jacobian; only the
  task-specific parameters' gradients are summed after;
- GradNorm's per-task gradients on the last shared layer (T × |W|) are summed across ranks
  before it takes their norms, so its learned weights are the one-process ones on every rank;
- the diagnostics (``train.diagnostics_every``) sum their Jacobian on the shared parameters
  across ranks, and a gradient-level strategy aggregates that one at a measured step (no
  second exchange); the affinity's lookahead losses are global ones; rank 0 records the rows;
- ``model.init_from``: rank 0 reads the source run's checkpoint and broadcasts the copied
  layers (which ones, and their values), so every rank starts from them;
- batch normalisation in training mode uses the global batch's statistics, forward and
  backward (:mod:`mtl.train.rank_norm`), and so the one-process running statistics;
- regularisation terms (L1, soft sharing) are the same on every rank and added after the sum;
- validation and test predictions are split across ranks and gathered, and every rank
  computes the metrics of the whole split (so early stopping decides the same everywhere).

A stop (the store's Stop button, SIGTERM) reaches rank 0 only; it travels with the next
step's loss all-reduce, so every rank ends at the same step. ``RankGroup.sent`` counts the
bytes each rank puts into collectives, by purpose (docs/scale.md has the figures).

Not kept equal: dropout trains, with other draws than in one process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from multiprocessing.connection import wait as wait_processes
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import Tensor

from mtl.config import ExperimentConfig
from mtl.data.prepare import PreparedData, Split, prepare
from mtl.data.shards import ShardPlan, load_shard, plan_shards, reads_by_rank
from mtl.train.batches import Rows
from mtl.train.callbacks import Callback
from mtl.train.rank_norm import normalise_over_ranks
from mtl.train.ray_ranks import in_ray_actor, start_ray_train, world_rank
from mtl.train.trainer import EVAL_BATCH, Trainer, TrainResult, select_device
from mtl.weighting.gradient import GradientStrategy, active_rows, task_jacobian
from mtl.weighting.strategies.gradnorm import GradNorm

HOST = "127.0.0.1"
READY = "mtl/ready/"
"""Store key prefix a rank sets once it has started (before it joins the group)."""
TIMEOUT = timedelta(seconds=120)
"""How long a rank waits for the others in a collective before it fails."""
JOIN_S = 60.0
"""How long rank 0 waits for the other ranks to exit after training."""


class RankGroup:
    """This process's place among the ranks, and the collectives the trainer uses.

    Args:
        rank: this process's rank.
        world: the number of ranks.
        store: the TCP store the group was joined through (kept alive with it).
    """

    def __init__(self, rank: int, world: int, store: dist.TCPStore) -> None:
        self.rank = rank
        self.world = world
        self._store = store
        self.sent: dict[str, int] = {
            "losses": 0,
            "jacobian": 0,
            "gradients": 0,
            "gradnorm": 0,
            "evaluation": 0,
            "init": 0,
            "diagnostics": 0,
            "batch_norm": 0,
        }
        """Bytes this rank has put into collectives, by purpose."""

    @classmethod
    def join(cls, store: dist.TCPStore, rank: int, world: int, backend: str) -> RankGroup:
        """Initialise the default process group through ``store``."""
        hook = sys.excepthook
        dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=TIMEOUT)
        # torch wraps the excepthook to prefix "[rankN]:" to every traceback line, once per
        # group; rank 0 is the CLI's or the worker's own process, whose output stays as it was.
        sys.excepthook = hook
        return cls(rank, world, store)

    def close(self) -> None:
        """Leave the process group (idempotent)."""
        if dist.is_initialized():
            dist.destroy_process_group()

    def all_reduce(self, tensor: Tensor, purpose: str) -> Tensor:
        """Sum ``tensor`` over the ranks, in place; returns it."""
        self.sent[purpose] += tensor.numel() * tensor.element_size()
        dist.all_reduce(tensor)
        return tensor

    def broadcast(self, tensor: Tensor, purpose: str) -> Tensor:
        """Rank 0's ``tensor`` on every rank, in place (rank 0 counts the bytes); returns it."""
        if self.rank == 0:
            self.sent[purpose] += tensor.numel() * tensor.element_size()
        dist.broadcast(tensor, src=0)
        return tensor

    def broadcast_object(self, obj: Any, purpose: str) -> Any:
        """Rank 0's ``obj`` on every rank (pickled; the other ranks' ``obj`` is ignored)."""
        if self.rank == 0:
            self.sent[purpose] += len(pickle.dumps(obj))
        message = [obj]
        dist.broadcast_object_list(message, src=0)
        return message[0]

    def gather_strided(self, local: Tensor, total: int) -> Tensor:
        """Rows ``rank, rank + world, …`` of a (total, W) tensor from every rank: the whole tensor."""
        height = math.ceil(total / self.world)
        padded = local.new_zeros((height, *local.shape[1:]))
        padded[: len(local)] = local
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        self.sent["evaluation"] += padded.numel() * padded.element_size()
        dist.all_gather(parts, padded)
        whole = local.new_empty((total, *local.shape[1:]))
        for rank, part in enumerate(parts):
            whole[rank :: self.world] = part[: len(range(rank, total, self.world))]
        return whole

    def gather_objects(self, obj: Any) -> list[Any]:
        """``obj`` of every rank, in rank order (pickled between the ranks' own processes)."""
        self.sent["evaluation"] += len(pickle.dumps(obj))
        parts: list[Any] = [None] * self.world
        dist.all_gather_object(parts, obj)
        return parts


def shard(data: PreparedData, rank: int, world: int) -> PreparedData:
    """``data`` with only rank ``rank``'s training rows (every ``world``-th, from ``rank``)."""
    train = data.train
    mine = slice(rank, None, world)
    part = Split(
        x=train.x[mine],
        y={name: y[mine] for name, y in train.y.items()},
        mask={name: m[mine] for name, m in train.mask.items()},
        rows=train.rows[mine],
    )
    return dataclasses.replace(data, train=part)


def backend_for(config: ExperimentConfig) -> str:
    """``nccl`` when the run trains on CUDA, ``gloo`` otherwise."""
    return "nccl" if select_device(config.train.device).type == "cuda" else "gloo"


class DistributedTrainer(Trainer):
    """One rank of a data-parallel run; trains like a :class:`Trainer` on the whole data.

    Args:
        config: the experiment (``train.workers`` ranks).
        data: this rank's :func:`shard` of the prepared data.
        group: the joined process group.
        n_train: rows in the whole training split.
        callbacks: receive the training events (rank 0 only, by convention).
        ranks: the processes of the other ranks, which :meth:`fit` waits for (rank 0).
        init_checkpoint: with ``model.init_from``, the source run's checkpoint, read by rank 0
            only; the other ranks receive the copied layers from it (:meth:`_transfer`).
    """

    def __init__(
        self,
        config: ExperimentConfig,
        data: PreparedData,
        group: RankGroup,
        n_train: int,
        callbacks: Sequence[Callback] = (),
        ranks: Sequence[RankProcess] = (),
        init_checkpoint: Path | None = None,
    ) -> None:
        if select_device(config.train.device).type == "cuda":
            torch.cuda.set_device(group.rank % torch.cuda.device_count())
        self.group = group
        self._n_train = n_train
        self._ranks = list(ranks)
        self._stop_pending: str | None = None
        self.rank_info: list[dict[str, Any]] = []
        """Each rank's node (Ray's node id, or ``None``), what started it and the training
        rows it held: rank 0 fills it at launch and writes it in the summary (``ranks``)."""
        self._gathering = True
        """Predictions are split across ranks until the summary; after it (rank 0's output
        writer) each rank predicts on its own."""
        super().__init__(config, data, callbacks, init_checkpoint=init_checkpoint)
        if isinstance(self.strategy, GradNorm):  # its norms are of the global losses' gradients
            self.strategy.sum_across = lambda grads: group.all_reduce(grads, "gradnorm")
        if config.model.batch_norm:  # the global batch's statistics, as in one process
            normalise_over_ranks(self.model, lambda sums: group.all_reduce(sums, "batch_norm"))
        self._jacobian_reduced = False
        """The diagnostics summed this step's Jacobian and handed it to the strategy."""
        if self.diagnostics is not None:
            self.diagnostics.sum_across = self._sum_diagnostics_jacobian
        # _batch_losses below reports every task's labelled rows in the whole batch (a task
        # complete in this shard may still be masked in another), so every task is "masked".
        self._masked_tasks = torch.arange(len(self.tasks), device=self.device)

    # ---- the run -------------------------------------------------------------------

    def fit(self) -> TrainResult:
        """Train (all ranks together); rank 0 then waits for the others and leaves the group.

        When this rank fails, the other ranks (waiting in a collective) are ended at once.
        """
        try:
            result = super().fit()
        except BaseException:
            self._finish(wait=False)
            raise
        self._finish(wait=True)
        return result

    def _finish(self, wait: bool) -> None:
        for process in self._ranks:
            process.join(JOIN_S if wait else 0)
        for process in self._ranks:
            if process.is_alive():  # a rank stuck in a collective: ours to end
                process.kill()
                process.join(JOIN_S)
        self._ranks = []
        self.group.close()

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask every rank to end after the next step (sent with that step's losses)."""
        self._stop_pending = reason

    def _transfer(self, checkpoint: Path | None) -> list[torch.nn.Parameter]:
        """``model.init_from`` on every rank: rank 0 copies the source run's layers from its
        checkpoint, then broadcasts which parameters it copied (their names) and their values,
        so every rank starts from the same weights and gives the same parameters
        ``init_lr_factor`` and ``freeze_epochs``."""
        if self.config.model.init_from is None:
            return []
        copied = super()._transfer(checkpoint) if self.group.rank == 0 else []
        names = {id(p): name for name, p in self.model.named_parameters()}
        chosen = self.group.broadcast_object([names[id(p)] for p in copied], "init")
        params = dict(self.model.named_parameters())
        transferred = [params[name] for name in chosen]
        if transferred:
            with torch.no_grad():
                flat = torch.cat([p.reshape(-1) for p in transferred]).to(self.device)
                self.group.broadcast(flat, "init")
                offset = 0
                for p in transferred:
                    p.copy_(flat[offset : offset + p.numel()].view_as(p))
                    offset += p.numel()
        return transferred

    def _sum_diagnostics_jacobian(self, jacobian: Tensor) -> Tensor:
        """The diagnostics' Jacobian (T, P_shared) of the global losses; a gradient-level
        strategy is handed it and aggregates it in this step's :meth:`_backward`."""
        self._jacobian_reduced = isinstance(self.strategy, GradientStrategy)
        return self.group.all_reduce(jacobian, "diagnostics")

    def _split_size(self, split: str) -> int:
        return self._n_train if split == "train" else len(self.data.split(split))

    # ---- one step ------------------------------------------------------------------

    def _train_step(
        self, split: dict[str, Any], index: Rows, active: Tensor | None
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        assert isinstance(index, Tensor)  # this subclass gets row indices, never a slice
        world = self.group.world
        mine = index[index % world == self.group.rank] // world  # positions in this shard
        return super()._train_step(split, mine, active)

    def _batch_losses(
        self, out: dict[str, Tensor], split: dict[str, Any], index: Rows
    ) -> tuple[Tensor, list[tuple[int, Tensor]]]:
        """The global batch's task losses (T,): their values are the whole batch's, their
        gradient this rank's share of it; and every task's labelled rows in the whole batch."""
        assert isinstance(index, Tensor)
        sums, weights, counts = [], [], []
        for spec, loss_fn in zip(self.tasks, self.loss_fns, strict=True):
            y = split["y"][spec.name].index_select(0, index)
            mask = split["mask"][spec.name].index_select(0, index)
            rows, scale = loss_fn.per_row(out[spec.name], y)  # (b,), (b,)
            weight = scale.to(rows.dtype) * mask
            sums.append((rows * weight).sum())
            weights.append(weight.sum())
            counts.append(mask.sum())
        local = torch.stack(sums)  # (T,) with a graph
        stop = 0.0 if self._stop_pending is None else 1.0
        flag = local.new_full((1,), stop)
        reduced = torch.cat([local.detach(), torch.stack(weights), torch.stack(counts), flag])
        self.group.all_reduce(reduced, "losses")  # (3T + 1,)
        n_tasks = len(self.tasks)
        total, weight_sum, count = (
            reduced[:n_tasks],
            reduced[n_tasks : 2 * n_tasks],
            reduced[2 * n_tasks : 3 * n_tasks],
        )
        if float(reduced[-1]) > 0 and self._stop_reason is None:
            self._stop_reason = self._stop_pending or "stop requested"
        denominator = weight_sum.clamp_min(1e-12)
        losses = []
        for t in range(n_tasks):
            share = sums[t] / denominator[t]  # this rank's part of the mean, differentiated
            whole = total[t] / denominator[t]  # the mean over the whole batch, as a value
            losses.append(share + (whole - share).detach())
        return torch.stack(losses), [(t, count[t]) for t in range(n_tasks)]

    def _backward(self, losses: Tensor, active: Tensor | None, extra: Tensor | None) -> Tensor:
        strategy = self.strategy
        shared: set[int] = set()
        if isinstance(strategy, GradientStrategy):
            n_tasks = losses.shape[0]
            rows = active_rows(n_tasks, active)
            if rows:
                params = strategy.shared_parameters
                if not self._jacobian_reduced:  # else the diagnostics handed the summed one over
                    jacobian = task_jacobian(losses, params, rows)  # (T, P): this rank's part
                    if len(rows) == n_tasks:
                        self.group.all_reduce(jacobian, "jacobian")
                    else:  # only the active tasks' rows travel
                        jacobian[rows] = self.group.all_reduce(jacobian[rows], "jacobian")
                    strategy.use_jacobian(jacobian)  # aggregated as the one-process Jacobian
                shared = {id(p) for p in params}
            self._jacobian_reduced = False
        weights = strategy.backward(losses, active, None)
        own = [p for p in self.model.parameters() if p.grad is not None and id(p) not in shared]
        if own:
            flat = torch.cat([p.grad.reshape(-1) for p in own if p.grad is not None])
            self.group.all_reduce(flat, "gradients")
            offset = 0
            for p in own:
                size = p.numel()
                p.grad = flat[offset : offset + size].view_as(p)
                offset += size
        if extra is not None and extra.requires_grad:
            extra.backward()  # the same on every rank: added once, after the sum
        return weights

    # ---- evaluation ----------------------------------------------------------------

    @torch.no_grad()
    def predict(self, split: str) -> dict[str, np.ndarray]:
        """Raw outputs per task on a whole split; each rank computes its rows, all gather."""
        if not self._gathering:
            return super().predict(split)
        self.model.eval()
        x = self._tensors[split]["x"]
        mine = x[self.group.rank :: self.group.world]
        widths = [t.out_dim for t in self.tasks]
        chunks = [
            torch.cat([out[t.name] for t in self.tasks], dim=1)  # (b, Σ out_dim)
            for out in (
                self.model(mine[s : s + EVAL_BATCH]) for s in range(0, len(mine), EVAL_BATCH)
            )
        ]
        local = torch.cat(chunks) if chunks else x.new_zeros((0, sum(widths)))
        whole = self.group.gather_strided(local.contiguous(), len(x)).cpu().numpy()
        edges = np.cumsum([0, *widths])
        return {t.name: whole[:, edges[i] : edges[i + 1]] for i, t in enumerate(self.tasks)}

    def _epoch_outputs(
        self, order: Tensor, outputs: list[dict[str, Tensor]]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The whole batch order's training outputs, labels and masks (gathered from the ranks)."""
        batch = self.config.train.batch_size
        seen = min(len(outputs) * batch, self._n_train)
        perm = order.cpu().numpy()[:seen]
        owner = perm % self.group.world
        mine = perm[owner == self.group.rank] // self.group.world
        names = [t.name for t in self.tasks]
        train = self.data.train
        local = (
            {n: torch.cat([o[n] for o in outputs]).cpu().numpy() for n in names},
            {n: train.y[n][mine] for n in names},
            {n: train.mask[n][mine] for n in names},
        )
        parts = self.group.gather_objects(local)
        result: tuple[dict[str, np.ndarray], ...] = ({}, {}, {})
        for kind in range(3):
            for n in names:
                first = parts[0][kind][n]
                whole = np.empty((seen, *first.shape[1:]), dtype=first.dtype)
                for rank, part in enumerate(parts):
                    whole[owner == rank] = part[kind][n]
                result[kind][n] = whole
        return result[0], result[1], result[2]

    def summary(self, status: str) -> dict[str, Any]:
        """The final summary (all ranks together), with where the ranks ran (rank 0);
        afterwards each rank predicts alone."""
        try:
            summary = super().summary(status)
        finally:
            self._gathering = False
        if self.rank_info:
            summary["ranks"] = self.rank_info
        return summary


# ---- launching -------------------------------------------------------------------------


DataSource = PreparedData | ShardPlan
"""What a data-parallel run is given: the prepared data, which the launcher shards and sends
to each rank, or a Parquet :class:`~mtl.data.shards.ShardPlan` (the fitted preprocessing), with
which each rank reads and transforms its own rows."""


class RankProcess(Protocol):
    """A started rank (or group of ranks) that rank 0 watches: a process's interface."""

    @property
    def exitcode(self) -> int | None: ...

    @property
    def sentinel(self) -> int: ...

    def is_alive(self) -> bool: ...

    def join(self, timeout: float | None = None) -> None: ...

    def kill(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class RankSetup:
    """What every rank ≥ 1 of a run is given besides the config and its data.

    Attributes:
        n_train: rows in the whole training split.
        world: N, the number of ranks.
        host: the address of rank 0's TCP store.
        port: its port.
        dtype: the default float type (``"torch.float64"``), or ``None``: float32.
    """

    n_train: int
    world: int
    host: str
    port: int
    dtype: str | None


RankStarter = Callable[[ExperimentConfig, DataSource, RankSetup], list[RankProcess]]
"""Starts ranks 1 … N-1 of a run: ``(config, source, setup)``; they join the group through
the TCP store at ``setup.host:setup.port`` with :func:`run_rank`."""


def create_trainer(
    config: ExperimentConfig,
    data: PreparedData | None = None,
    callbacks: Sequence[Callback] = (),
    init_checkpoint: Path | None = None,
) -> Trainer:
    """The trainer of a run: a :class:`Trainer`, or rank 0 of ``train.workers`` ranks
    (``init_checkpoint``: with ``model.init_from``, the source run's weights, read here and
    sent to the other ranks). A Parquet table is read by each rank itself
    (:mod:`mtl.data.shards`); other data is prepared here and sharded."""
    if config.train.workers == 1:
        return Trainer(config, data, callbacks, init_checkpoint=init_checkpoint)
    source: DataSource
    if data is not None:
        source = data
    else:
        source = plan_shards(config) if reads_by_rank(config) else prepare(config)
    return launch(config, source, callbacks, init_checkpoint=init_checkpoint)


def rank_data(source: DataSource, rank: int, world: int) -> PreparedData:
    """Rank ``rank``'s data: its :func:`shard` of prepared data, or the rows it reads itself."""
    if isinstance(source, PreparedData):
        return shard(source, rank, world)
    return load_shard(source, rank, world)[0]


def train_rows(source: DataSource) -> int:
    """Rows in the whole training split."""
    return len(source.train) if isinstance(source, PreparedData) else source.n_train


def rank_source(source: DataSource, rank: int, world: int) -> DataSource:
    """What is sent to rank ``rank``: its shard of prepared data, or the (row-free) plan."""
    return shard(source, rank, world) if isinstance(source, PreparedData) else source


def spawn_ranks(
    config: ExperimentConfig, source: DataSource, setup: RankSetup
) -> list[RankProcess]:
    """Ranks 1 … N-1 as processes of this machine (``torch.multiprocessing``, spawn)."""
    context = mp.get_context("spawn")
    ranks: list[RankProcess] = []
    try:
        for rank in range(1, setup.world):
            process = context.Process(
                target=run_rank,
                args=(config.to_dict(), rank_source(source, rank, setup.world), setup, rank),
                name=f"mtl-rank-{rank}",
                daemon=True,
            )
            process.start()
            ranks.append(process)
    except BaseException:
        _end(ranks)
        raise
    return ranks


def start_ray_train_ranks(
    config: ExperimentConfig, source: DataSource, setup: RankSetup
) -> list[RankProcess]:
    """Ranks 1 … N-1 as the workers of one Ray Train ``TorchTrainer`` on the connected
    cluster, on any node (:mod:`mtl.train.ray_ranks`); their data through Ray's object store."""
    loop = {"config": config.to_dict(), "setup": setup}
    shards = [rank_source(source, rank, setup.world) for rank in range(1, setup.world)]
    cuda = select_device(config.train.device).type == "cuda"
    return [start_ray_train(ray_train_rank, loop, shards, use_gpu=cuda)]


def ray_train_rank(loop: dict[str, Any]) -> None:
    """One Ray Train worker of :func:`start_ray_train_ranks`: rank ``world rank + 1``."""
    import ray  # why: ray loads only in a Ray Train worker

    rank = world_rank() + 1
    if dist.is_initialized():  # Ray Train's group of the N - 1 workers: the run has its own
        dist.destroy_process_group()
    shard = ray.get(loop["shards"][rank - 1])
    run_rank(loop["config"], shard, loop["setup"], rank, started_by="ray train")


def launch(
    config: ExperimentConfig,
    data: DataSource,
    callbacks: Sequence[Callback] = (),
    dtype: torch.dtype | None = None,
    start_ranks: RankStarter | None = None,
    init_checkpoint: Path | None = None,
) -> DistributedTrainer:
    """Start ranks 1 … N-1 and return rank 0's trainer (this process); its ``fit`` trains them all.

    Args:
        config: the experiment; ``config.train.workers`` = N.
        data: the prepared data (fitted here, once), of which each rank gets its shard; or
            a Parquet plan (fitted here, once), with which each rank reads its own rows.
        callbacks: rank 0's callbacks.
        dtype: the other ranks' default float type (``torch.float64`` for exactness checks;
            rank 0 uses this process's). ``None``: float32.
        start_ranks: how ranks 1 … N-1 start; by default processes of this machine
            (:func:`spawn_ranks`), or Ray Train workers on any node of the cluster when this
            process is a Ray actor (the Ray executor's: :func:`start_ray_train_ranks`).
        init_checkpoint: with ``model.init_from``, the source run's checkpoint (read by this
            process; the other ranks receive the copied layers through the group).
    """
    world = config.train.workers
    starter = start_ranks or (start_ray_train_ranks if in_ray_actor() else spawn_ranks)
    host = _host() if starter is not spawn_ranks else HOST
    # port 0: the OS picks a free one; the other ranks connect while this one goes on
    store = dist.TCPStore(host, 0, world, True, timeout=TIMEOUT, wait_for_workers=False)
    ranks: list[RankProcess] = []
    try:
        setup = RankSetup(
            train_rows(data), world, host, store.port, None if dtype is None else str(dtype)
        )
        ranks = starter(config, data, setup)
        wait_for_ranks(store, ranks, world)
        info = [json.loads(store.get(f"{READY}{rank}")) for rank in range(1, world)]
        group = RankGroup.join(store, 0, world, backend_for(config))
        trainer = DistributedTrainer(
            config,
            rank_data(data, 0, world),
            group,
            setup.n_train,
            callbacks,
            ranks,
            init_checkpoint=init_checkpoint,
        )
        trainer.rank_info = [
            {
                "rank": 0,
                "node": _node_id(),
                "started_by": "launcher",
                "train_rows": len(trainer.data.train),
            },
            *info,
        ]
        return trainer
    except BaseException:
        _end(ranks)
        with contextlib.suppress(RuntimeError, ValueError):
            if dist.is_initialized():
                dist.destroy_process_group()
        raise


def _end(ranks: Sequence[RankProcess]) -> None:
    for process in ranks:
        process.kill()
        process.join(JOIN_S)


def _host() -> str:
    """This node's address as the other nodes of the Ray cluster reach it."""
    import ray  # why: ray loads only for ranks on a Ray cluster

    return str(ray.util.get_node_ip_address())


def _node_id() -> str | None:
    """The Ray node this process runs on; ``None`` outside Ray."""
    if "ray" not in sys.modules:
        return None
    import ray

    return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else None


def wait_for_ranks(
    store: dist.TCPStore, ranks: Sequence[RankProcess], world: int | None = None
) -> None:
    """Return once ranks 1 … N-1 have started (imports done, data read, store reached).

    ``ranks`` are their processes, or one handle for them all (Ray Train); ``world``: N,
    by default one more than ``ranks``.

    Raises:
        RuntimeError: a rank's process ended first (its traceback is on stderr), or
            :data:`TIMEOUT` passed.
    """
    world = len(ranks) + 1 if world is None else world
    keys = [f"{READY}{rank}" for rank in range(1, world)]
    deadline = time.monotonic() + TIMEOUT.total_seconds()
    while not store.check(keys):
        for rank, process in enumerate(ranks, start=1):
            if process.exitcode is not None:
                raise RuntimeError(
                    f"data-parallel rank {rank} of {world} exited with code "
                    f"{process.exitcode} before training; its error is in the run's output"
                )
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"data-parallel ranks did not start within {TIMEOUT.total_seconds():.0f} s"
            )
        # wakes at once when a rank's process ends, else re-checks the store
        wait_processes([p.sentinel for p in ranks], timeout=0.1)


def run_rank(
    config: dict[str, Any],
    source: DataSource,
    setup: RankSetup,
    rank: int,
    started_by: str = "process",
) -> None:
    """Rank ``rank`` ≥ 1 of a run: get its data, join the group at ``setup.host:setup.port``,
    train, leave.

    ``config``: the experiment as a dict; ``source``: this rank's shard of the prepared data,
    or the Parquet plan with which it reads its rows; ``started_by``: what started this
    process, for the run's summary (``process``, ``ray train``).

    The rank loop, whoever started the process (:func:`spawn_ranks`, or a Ray Train worker).
    Before joining, it tells rank 0 where it runs and how many rows it holds.
    """
    if setup.dtype is not None:
        torch.set_default_dtype(getattr(torch, setup.dtype.removeprefix("torch.")))
    experiment = ExperimentConfig.from_dict(config)
    data = rank_data(source, rank, setup.world) if isinstance(source, ShardPlan) else source
    store = dist.TCPStore(setup.host, setup.port, setup.world, False, timeout=TIMEOUT)
    info = {
        "rank": rank,
        "node": _node_id(),
        "started_by": started_by,
        "train_rows": len(data.train),
    }
    store.set(f"{READY}{rank}", json.dumps(info))
    group = RankGroup.join(store, rank, setup.world, backend_for(experiment))
    DistributedTrainer(experiment, data, group, setup.n_train).fit()


__all__ = [
    "DataSource",
    "DistributedTrainer",
    "RankGroup",
    "RankSetup",
    "create_trainer",
    "launch",
    "rank_data",
    "run_rank",
    "shard",
    "spawn_ranks",
    "start_ray_train_ranks",
    "wait_for_ranks",
]
