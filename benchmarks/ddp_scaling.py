"""Data-parallel training: 2 gloo ranks against 1 process, and the bytes each step sends.

Two measurements, printed as markdown tables:

1. **Throughput** on a compute-bound model (a wide MLP, large batches): steps per second of
   ``Trainer.fit()`` in one process against ``launch(...).fit()`` with ``train.workers: 2``,
   the same global batch, one torch thread per process. Time is the run's own
   ``duration_s`` (from the first step to the summary: training and the per-epoch
   evaluation), so the spawn of rank 1 and its imports are not charged. Rounds alternate
   (1, 2, 1, 2, …) and the ratio is the median of per-round ratios. The ratio can only
   approach 2 on a machine with two idle cores.
2. **Traffic** per step for each weighting level, measured by counting the bytes each rank
   puts into the collectives (``RankGroup.sent``), next to what the formula predicts:
   loss-level = (3T + 1) loss values + every parameter's gradient (1 × P);
   gradient-level = (3T + 1) loss values + the Jacobian on the shared parameters
   (T × P_shared) + the task-specific gradients (P − P_shared); GradNorm = loss-level + its
   per-task gradients on the last shared layer (T × |W|).
3. **Parquet read by rank**: a 200,000-row table written as Parquet; the rows and bytes of
   prepared arrays one process holds (``prepare``) against what each of N ranks holds after
   reading its own rows (``plan_shards`` once + ``load_shard`` per rank), with the time of each.

    python benchmarks/ddp_scaling.py           # 3 rounds, 4 epochs of the wide model
    python benchmarks/ddp_scaling.py --quick   # 1 round, 2 epochs
    python benchmarks/ddp_scaling.py --only parquet
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # rank 1 inherits it
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from mtl.config import ExperimentConfig  # noqa: E402
from mtl.data.prepare import PreparedData, prepare  # noqa: E402
from mtl.data.shards import load_shard, plan_shards  # noqa: E402
from mtl.train.distributed import DistributedTrainer, launch  # noqa: E402
from mtl.train.trainer import Trainer  # noqa: E402

WEIGHTINGS = [
    "equal",
    "uncertainty",
    "famo",
    "gradnorm",
    "pcgrad",
    "mgda",
    "cagrad",
    "upgrad",
    "imtl",
    "aligned-mtl",
    "nash-mtl",
]


def make_config(
    weighting: str, workers: int, epochs: int, hidden: list[int], samples: int, n_tasks: int
) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "name": "ddp-scaling",
            "data": {
                "dataset": "synthetic",
                "options": {"n_tasks": n_tasks, "samples": samples, "features": 256},
                "val_fraction": 0.1,
                "test_fraction": 0.1,
            },
            "tasks": [{"name": f"y{t}", "target": f"y{t}"} for t in range(1, n_tasks + 1)],
            "model": {"hidden": hidden},
            "loss": {"weighting": weighting},
            "train": {
                "epochs": epochs,
                "batch_size": 512,
                "lr": 1e-3,
                "device": "cpu",
                "workers": workers,
                "log_every": 50,
            },
        }
    )


def timed_fit(trainer: Any) -> tuple[float, float]:
    """Steps per second of ``trainer.fit()`` (its own ``duration_s``) and this process's CPU
    seconds per step (rank 0's, gloo's threads included)."""
    cpu = time.process_time()
    result = trainer.fit()
    cpu = time.process_time() - cpu
    steps = result.summary["steps"]
    return steps / result.summary["duration_s"], cpu / steps


def throughput(rounds: int, epochs: int) -> None:
    hidden = [512, 512, 512]
    one = make_config("equal", 1, epochs, hidden, 12_000, 2)
    data = prepare(one)
    two = make_config("equal", 2, epochs, hidden, 12_000, 2)
    singles, pairs, ratios, cpu_ratios = [], [], [], []
    for _ in range(rounds):
        single, single_cpu = timed_fit(Trainer(one, data))
        pair, pair_cpu = timed_fit(launch(two, data))
        singles.append((single, single_cpu))
        pairs.append((pair, pair_cpu))
        ratios.append(pair / single)
        cpu_ratios.append(single_cpu / pair_cpu)
    trainer = Trainer(one, data)
    n_params = sum(p.numel() for p in trainer.model.parameters())
    steps = trainer_steps(one, data)
    print(
        f"## throughput: synthetic, {len(data.train):,} training rows, 256 features, 2 regression "
        f"tasks, hard {hidden} ({n_params:,} parameters), global batch 512, {epochs} epochs = "
        f"{steps} steps, weighting equal\n"
    )
    print("| processes | median steps/s | min | max | CPU ms/step in rank 0 (median) | rounds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, measured in (("1 (Trainer)", singles), ("2 (gloo ranks)", pairs)):
        rates = [rate for rate, _ in measured]
        cpu = statistics.median(c for _, c in measured) * 1000
        print(
            f"| {name} | {statistics.median(rates):.1f} | {min(rates):.1f} | "
            f"{max(rates):.1f} | {cpu:.1f} | {len(rates)} |"
        )
    print(
        f"\nratio 2 ranks / 1 process, wall steps/s (median of per-round ratios): "
        f"**{statistics.median(ratios):.2f}×** (rounds: {', '.join(f'{r:.2f}' for r in ratios)}); "
        f"work per step in one rank against one process (CPU time ratio, the speed-up two idle "
        f"cores would give): **{statistics.median(cpu_ratios):.2f}×**\n"
    )


def trainer_steps(config: ExperimentConfig, data: PreparedData) -> int:
    per_epoch = -(-len(data.train) // config.train.batch_size)
    return per_epoch * config.train.epochs


def traffic() -> None:
    n_tasks, hidden = 3, [256, 128]
    print(
        f"## traffic per step: {n_tasks} regression tasks, hard {hidden} + linear heads, "
        "float32, 2 ranks (bytes one rank sends into the all-reduces; a ring all-reduce "
        "moves about 2 × (N − 1) / N of that per rank on the wire)\n"
    )
    print(
        "| weighting | level | losses B/step | Jacobian B/step | gradients B/step | "
        "GradNorm B/step | total B/step | predicted | × loss-level |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    for weighting in WEIGHTINGS:
        config = make_config(weighting, 2, 1, hidden, 3_000, n_tasks)
        data = prepare(config)
        trainer = launch(config, data)
        assert isinstance(trainer, DistributedTrainer)
        shared = sum(p.numel() for p in trainer.model.shared_parameters())
        total_params = sum(p.numel() for p in trainer.model.parameters())
        result = trainer.fit()
        steps = result.summary["steps"]
        sent = trainer.group.sent
        level = trainer.strategy.level
        per_step = {k: sent[k] / steps for k in ("losses", "jacobian", "gradients", "gradnorm")}
        total = sum(per_step.values())
        size = 4
        losses = (3 * n_tasks + 1) * size
        if level == "gradient":
            predicted = losses + (n_tasks * shared + total_params - shared) * size
        else:
            predicted = losses + total_params * size
        if weighting == "gradnorm":  # the last shared layer: the trunk's last weight matrix
            layer = [p for p in trainer.model.shared_parameters() if p.dim() >= 2][-1]
            predicted += n_tasks * layer.numel() * size
        if base is None:
            base = total
        print(
            f"| {weighting} | {level} | {per_step['losses']:,.0f} | {per_step['jacobian']:,.0f} | "
            f"{per_step['gradients']:,.0f} | {per_step['gradnorm']:,.0f} | {total:,.0f} | "
            f"{predicted:,} | {total / base:.2f} |"
        )
    print(
        f"\nshared parameters P_shared = {shared:,}, all parameters P = {total_params:,}; "
        "evaluation (gathered predictions, once per epoch) is not per step and not counted here.\n"
    )


def held_bytes(data: PreparedData) -> int:
    """Bytes of the prepared arrays (inputs, targets, masks) of every split."""
    total = 0
    for split in (data.train, data.val, data.test):
        total += int(np.asarray(split.x).nbytes)
        total += sum(v.nbytes for v in split.y.values()) + sum(
            v.nbytes for v in split.mask.values()
        )
    return total


def parquet_reads(rows: int = 200_000, features: int = 32) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(rows, features)).astype(np.float64),
        columns=[f"x{i}" for i in range(features)],
    )
    frame["y1"] = frame.x0 + 0.1 * rng.normal(size=rows)
    frame["y2"] = (frame.x1 > 0).astype(int)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.parquet"
        frame.to_parquet(path, row_group_size=20_000)
        size = path.stat().st_size

        def config(workers: int) -> ExperimentConfig:
            return ExperimentConfig.from_dict(
                {
                    "data": {"dataset": "csv", "path": str(path)},
                    "tasks": [{"name": "y1", "target": "y1"}, {"name": "y2", "target": "y2"}],
                    "train": {"workers": workers, "device": "cpu"},
                }
            )

        start = time.perf_counter()
        whole = prepare(config(1))
        whole_s = time.perf_counter() - start
        print(
            f"## Parquet read by rank: {rows:,} rows × {features} features + 2 targets, "
            f"{size / 1e6:.1f} MB on disk, row groups of 20,000\n"
        )
        groups = -(-rows // 20_000)
        print(
            "| who | training rows held | rows kept from the file | row groups decoded | "
            "prepared bytes held | seconds |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        print(
            f"| 1 process (`prepare`) | {len(whole.train):,} | {rows:,} | {groups} | "
            f"{held_bytes(whole) / 1e6:.1f} MB | {whole_s:.2f} |"
        )
        for world in (2, 4):
            start = time.perf_counter()
            plan = plan_shards(config(world))
            plan_s = time.perf_counter() - start
            print(
                f"| N = {world}: rank 0 fits the plan (keeps no row) | 0 | "
                f"{plan.fit_rows:,} + the labels of all | {groups} | 0 | {plan_s:.2f} |"
            )
            start = time.perf_counter()
            data, read = load_shard(plan, world - 1, world)
            read_s = time.perf_counter() - start
            print(
                f"| N = {world}: one rank (`load_shard`) | {len(data.train):,} | "
                f"{len(read.rows):,} | {read.row_groups} | {held_bytes(data) / 1e6:.1f} MB | "
                f"{read_s:.2f} |"
            )
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 epochs")
    parser.add_argument("--only", choices=["throughput", "traffic", "parquet"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        f"ddp scaling: torch {torch.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; gloo on 127.0.0.1, "
        "one torch thread per process\n"
    )
    if args.only in (None, "throughput"):
        throughput(1 if args.quick else 3, 2 if args.quick else 4)
    if args.only in (None, "traffic"):
        traffic()
    if args.only in (None, "parquet"):
        parquet_reads()


if __name__ == "__main__":
    main()
