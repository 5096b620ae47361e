"""Trainer overhead: the ``mtl`` Trainer against a bare PyTorch loop, side by side.

Both train the same model (built by ``mtl.train.trainer.build_model`` from the same seed)
on the same batches (``torch.randperm`` with the same generator seed) with the same
optimizer and the same loss (the sum of the per-task MSE losses):

- ``mtl``: :class:`mtl.train.trainer.Trainer` with callbacks on (a ``History`` plus the
  real :class:`mtl.runs.recorder.StoreRecorder` writing to a SQLite run store in a
  temporary folder) and its per-epoch metrics on
  (training metrics from the step outputs, a validation pass with metrics, best-weights
  bookkeeping);
- ``bare+val``: a plain loop written here: forward, loss, backward, step, and at each
  epoch's end the minimal validation (forward + loss on the validation rows). No metrics,
  no callbacks, no store. The target ratio is mtl / bare+val: what the framework costs
  over the same job written by hand.
- ``bare``: the same without validation, printed for reference.

Repetitions alternate (mtl, bare+val, bare, mtl, …) in one process so that drift of the
machine hits all alike; the ratio is the median over rounds of mtl / bare+val within the
round (paired). Both use one torch thread. Time is the training thread's CPU time by
default (``time.thread_time``), which a shared, loaded machine disturbs far less than wall
time; like wall time on an idle two-core machine, it does not charge the store writer's
own thread. ``--clock process`` charges it (``time.process_time``, every thread of the
process); ``--clock wall`` is ``time.perf_counter``.

    python benchmarks/trainer_overhead.py            # 20,000 rows, 5 epochs, 7 rounds
    python benchmarks/trainer_overhead.py --quick    # 4,000 rows, 2 epochs, 3 rounds
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mtl.config import ExperimentConfig  # noqa: E402
from mtl.data.prepare import PreparedData, prepare  # noqa: E402
from mtl.runs.recorder import StoreRecorder  # noqa: E402
from mtl.runs.store import RunStore  # noqa: E402
from mtl.train.callbacks import History  # noqa: E402
from mtl.train.trainer import Trainer, build_model  # noqa: E402

TARGET_RATIO = 0.90
CLOCKS: dict[str, Callable[[], float]] = {
    "thread": time.thread_time,
    "process": time.process_time,
    "wall": time.perf_counter,
}


def make_config(
    samples: int,
    epochs: int,
    seed: int = 0,
    features: int = 128,
    hidden: tuple[int, ...] = (256, 256),
) -> ExperimentConfig:
    """The workload: two synthetic regression tasks through a hard-sharing MLP."""
    return ExperimentConfig.from_dict(
        {
            "name": "trainer-overhead",
            "data": {
                "dataset": "synthetic",
                "options": {
                    "p": 0.5,
                    "n_tasks": 2,
                    "samples": samples,
                    "features": features,
                    "seed": seed,
                },
            },
            "tasks": [
                {"name": "y1", "target": "y1", "kind": "regression"},
                {"name": "y2", "target": "y2", "kind": "regression"},
            ],
            "model": {"sharing": "hard", "hidden": list(hidden)},
            "loss": {"weighting": "equal"},
            "train": {
                "epochs": epochs,
                "batch_size": 128,
                "lr": 1e-3,
                "optimizer": "adam",
                "seed": seed,
                "log_every": 10,
                "device": "cpu",
            },
        }
    )


def run_mtl(
    config: ExperimentConfig,
    data: PreparedData,
    store: RunStore,
    clock: Callable[[], float] = time.thread_time,
) -> dict[str, Any]:
    """One training run through the Trainer with the real run-store writer; timed around ``fit()``."""
    run_id = store.create_run(config.name, config.to_dict(), status="running")
    history, recorder = History(), StoreRecorder(store, run_id)
    trainer = Trainer(config, data=data, callbacks=[history, recorder])
    t0 = clock()
    result = trainer.fit()
    seconds = clock() - t0
    assert result.status == "finished", result.status
    assert history.end is not None and len(history.epochs) == config.train.epochs
    assert len(store.metrics(run_id)) > 0 and store.get_run(run_id)["status"] == "finished"
    return {
        "steps": trainer.step,
        "seconds": seconds,
        "params": [p.detach().clone() for p in trainer.model.parameters()],
        "events": len(history.steps) + len(history.epochs),
    }


def run_bare(
    config: ExperimentConfig,
    data: PreparedData,
    validate: bool = False,
    clock: Callable[[], float] = time.thread_time,
) -> dict[str, Any]:
    """The same training as a plain PyTorch loop; timed around the loop only.

    With ``validate``, each epoch ends with the minimal validation any hand-written loop
    has: a forward pass over the validation rows and their loss under ``no_grad``.
    """
    cfg = config.train
    torch.manual_seed(cfg.seed)  # as Trainer.__init__ does before building the model
    model = build_model(config, data)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    names = [t.name for t in data.tasks]
    x = torch.from_numpy(data.train.x)
    ys = [torch.from_numpy(data.train.y[name]) for name in names]
    n = len(x)
    x_val = torch.from_numpy(data.val.x)
    ys_val = [torch.from_numpy(data.val.y[name]) for name in names]
    generator = torch.Generator().manual_seed(cfg.seed)
    steps = 0
    t0 = clock()
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, cfg.batch_size):
            index = order[start : start + cfg.batch_size]
            out = model(x.index_select(0, index))
            loss = sum(
                F.mse_loss(out[name], y.index_select(0, index))
                for name, y in zip(names, ys, strict=True)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        if validate:
            model.eval()
            with torch.no_grad():
                out = model(x_val)
                val_loss = sum(
                    F.mse_loss(out[name], y) for name, y in zip(names, ys_val, strict=True)
                )
            assert math.isfinite(float(val_loss))
    seconds = clock() - t0
    return {
        "steps": steps,
        "seconds": seconds,
        "params": [p.detach().clone() for p in model.parameters()],
    }


WORKLOADS = {
    # name: (features, hidden) — "reference" is the ~100k-parameter shared MLP of the
    # weighting benchmark; "small" (~25k parameters) shows the fixed per-step cost.
    "reference": (128, (256, 256)),
    "small": (64, (128, 128)),
}


def measure(
    name: str,
    samples: int,
    epochs: int,
    rounds: int,
    store: RunStore,
    clock: Callable[[], float] = time.thread_time,
) -> float:
    """Alternate mtl and bare runs of one workload; print its table; return the ratio."""
    features, hidden = WORKLOADS[name]
    config = make_config(samples, epochs, features=features, hidden=hidden)
    data = prepare(config)
    n_params = sum(p.numel() for p in build_model(config, data).parameters())
    steps_per_epoch = math.ceil(len(data.train) / config.train.batch_size)
    print(
        f"\n## {name}: synthetic, {samples:,} rows ({len(data.train):,} train), {features} features, "
        f"2 regression tasks, hard {list(hidden)} ({n_params:,} parameters), batch 128, "
        f"{epochs} epochs = {steps_per_epoch * epochs} steps, log_every 10"
    )
    warm = make_config(samples, 1, features=features, hidden=hidden)
    run_bare(warm, data)  # warm-up: allocator, kernels, imports
    run_mtl(warm, data, store)

    runners = {
        "mtl": lambda: run_mtl(config, data, store, clock),
        "bare+val": lambda: run_bare(config, data, validate=True, clock=clock),
        "bare": lambda: run_bare(config, data, clock=clock),
    }
    rates: dict[str, list[float]] = {label: [] for label in runners}
    paired: list[float] = []
    last: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        for label, runner in runners.items():
            result = runner()
            rates[label].append(result["steps"] / result["seconds"])
            last[label] = result
        paired.append(rates["mtl"][-1] / rates["bare+val"][-1])
    assert last["mtl"]["steps"] == last["bare"]["steps"], (
        last["mtl"]["steps"],
        last["bare"]["steps"],
    )
    drift = max(
        float((a - b).abs().max())
        for a, b in zip(last["mtl"]["params"], last["bare"]["params"], strict=True)
    )
    med = {label: statistics.median(values) for label, values in rates.items()}
    ratio = statistics.median(paired)
    print()
    print("| loop | median steps/s | min | max | runs |")
    print("|------|---------------:|----:|----:|-----:|")
    for label in runners:
        values = rates[label]
        print(
            f"| {label} | {med[label]:.1f} | {min(values):.1f} | {max(values):.1f} | {len(values)} |"
        )
    print()
    print(
        f"callback events per mtl run: {last['mtl']['events']}; "
        f"same training check: max |Δ parameter| mtl vs bare = {drift:.2e}"
    )
    print(
        f"ratio mtl / bare+val = {ratio:.2f} (median of paired rounds: "
        f"{', '.join(f'{r:.2f}' for r in paired)}); mtl / bare (no validation at all) = "
        f"{med['mtl'] / med['bare']:.2f}"
    )
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 rows, 2 epochs, 3 rounds")
    parser.add_argument(
        "--rounds", type=int, default=None, help="alternating rounds (default 7, quick 3)"
    )
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="thread",
        help="thread: the training thread's CPU time (default, robust to a loaded machine); "
        "process: every thread's CPU time (charges the store writer); wall: perf_counter",
    )
    args = parser.parse_args(argv)
    samples, epochs, rounds = (4_000, 2, 3) if args.quick else (20_000, 5, 7)
    rounds = args.rounds or rounds

    torch.set_num_threads(1)
    print(
        "trainer overhead: mtl Trainer (History + real SQLite store writer + per-epoch metrics) "
        "vs bare PyTorch loop"
    )
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, "
        f"torch.set_num_threads(1) for both; {rounds} alternating rounds (mtl then bare); "
        f"clock: {args.clock}"
    )
    print(
        "timed: mtl = Trainer.fit() (steps, store writes, per-epoch train/val metrics, final val/test "
        "summary); bare = the step loop only"
    )
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        ratios = {
            name: measure(name, samples, epochs, rounds, store, CLOCKS[args.clock])
            for name in WORKLOADS
        }
    for name, ratio in ratios.items():
        verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
        print(
            f"\n{name}: ratio mtl / bare+val = {ratio:.3f} (target ≥ {TARGET_RATIO:.2f}): {verdict}",
            end="",
        )
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
