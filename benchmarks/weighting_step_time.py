"""Per-step time of every weighting strategy, relative to a plain weighted backward, side by side.

For T = 2, 4, 8 regression tasks on one hard-sharing MLP (a shared trunk of ~100k
parameters: 64 → 256 → 256 → 64, ReLU; one Linear head per task) with batch 128, one
training step is: forward, the T MSE losses, ``zero_grad``, the strategy's ``backward``,
an Adam step. ``plain`` is the same step with ``torch.dot(ones, losses).backward()``.

Where torchjd offers the same method, its own direct call is timed beside ours on the
same model: for aggregators ``torchjd.autojac.mtl_backward`` + ``jac_to_grad`` (marked
``torchjd:``), for loss-level methods its scalarizer (``UW``, ``DWA``, ``GeometricMean``,
``Random``) and a plain backward of the scalar.

``floor`` is the least any exact gradient-level method costs here: the T per-task
backward passes through the shared trunk (``task_jacobian``) and an Adam step on their
mean, with no aggregation at all. ``floor-by-hand`` is the same arithmetic written out
without autograd: one forward, then per task only the matrix products an exact Jacobian
needs (three weight gradients, two input gradients, ReLU masks from the forward), written
into one preallocated (T, P) buffer, the Gramian, and Adam on the mean. It is the fewest
operations an exact method has on this model, with none of a framework's bookkeeping.

Every entry keeps its own model, optimizer and strategy. In one process, each round goes
over all entries, timing for each a block of plain steps and then a block of its own
(``--steps`` steps after two warm-up steps; torchjd's Nash-MTL, about 100× slower, a
sixth of them): each entry is divided by the plain block timed just before it, so drifts
of a shared machine's load cancel. The table shows the median per-step time and the
median of these paired ratios over rounds. One torch thread. Time is the thread's CPU
time by default (``time.thread_time``: what the step computes, not the time it waits for
a core on a loaded machine); ``--clock wall`` uses ``time.perf_counter``.

    python benchmarks/weighting_step_time.py            # 15 rounds × 20 steps
    python benchmarks/weighting_step_time.py --quick    # 3 rounds × 10 steps
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mtl.config import ModelConfig  # noqa: E402
from mtl.data.tasks import TaskSpec  # noqa: E402
from mtl.models import ARCHITECTURES  # noqa: E402
from mtl.weighting import WEIGHTINGS  # noqa: E402
from mtl.weighting.gradient import task_jacobian, write_flat_grad  # noqa: E402
from mtl.weighting.options import level  # noqa: E402

FEATURES = 64
HIDDEN = [256, 256, 64]
BATCH = 128
TARGETS = {"loss": {2: 1.05, 4: 1.05, 8: 1.05}, "gradient": {4: 2.0, 8: 3.0}}
"""Target ratio to plain per level and T; GradNorm (a loss-level method that needs one
gradient norm per task) has none, Nash-MTL has its own (:data:`NASH_TARGETS`)."""
NASH_TARGETS = {4: 3.0}
CLOCKS: dict[str, Callable[[], float]] = {"thread": time.thread_time, "wall": time.perf_counter}


def make_model(n_tasks: int, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    build = ARCHITECTURES.get("hard")
    return build(
        ModelConfig(sharing="hard", hidden=HIDDEN),
        (FEATURES,),
        {f"t{i}": 1 for i in range(n_tasks)},
    )


def task_specs(n_tasks: int) -> list[TaskSpec]:
    return [
        TaskSpec(
            name=f"t{i}",
            kind="regression",
            targets=[f"t{i}"],
            out_dim=1,
            loss="mse",
            weight=1.0,
            start_epoch=0,
        )
        for i in range(n_tasks)
    ]


class Entry:
    """One timed training step: a model, an optimizer and a way to backpropagate."""

    def __init__(
        self, label: str, kind: str, n_tasks: int, x: torch.Tensor, y: torch.Tensor
    ) -> None:
        self.label, self.kind, self.n_tasks = label, kind, n_tasks
        self.model = make_model(n_tasks)
        self.x, self.y = x, y
        self.extra_params: list[torch.nn.Parameter] = []
        self.backward: Callable[[torch.Tensor, torch.Tensor, list[torch.Tensor]], Any] = (
            lambda losses, z, parts: None
        )
        self.times: list[float] = []
        self.ratios: list[float] = []

    def finish(self) -> None:
        params = list(self.model.parameters()) + self.extra_params
        self.optimizer = torch.optim.Adam(params, lr=1e-3)

    def step(self) -> None:
        z = self.model.trunk(self.x)  # (B, 64)
        outs = [tower(z) for tower in self.model.towers]  # T × (B, 1)
        parts = [F.mse_loss(o.squeeze(1), self.y[:, t]) for t, o in enumerate(outs)]
        losses = torch.stack(parts)  # (T,)
        self.optimizer.zero_grad(set_to_none=True)
        self.backward(losses, z, parts)
        self.optimizer.step()


def plain_entry(n_tasks: int, x: torch.Tensor, y: torch.Tensor) -> Entry:
    entry = Entry("plain", "plain", n_tasks, x, y)
    ones = torch.ones(n_tasks)
    entry.backward = lambda losses, z, parts: torch.dot(ones, losses).backward()
    entry.finish()
    return entry


def ours_entry(name: str, n_tasks: int, x: torch.Tensor, y: torch.Tensor) -> Entry:
    entry = Entry(name, level(name), n_tasks, x, y)
    strategy = WEIGHTINGS.get(name)(task_specs(n_tasks), {})
    strategy.attach(entry.model)
    entry.extra_params = strategy.parameters()
    entry.backward = lambda losses, z, parts: strategy.backward(losses, None, None)
    entry.finish()
    return entry


def floor_entry(n_tasks: int, x: torch.Tensor, y: torch.Tensor) -> Entry:
    """T backward passes (the Jacobian on the shared parameters) and nothing else."""
    entry = Entry("floor", "floor", n_tasks, x, y)
    shared = list(entry.model.trunk.parameters())
    heads = [list(tower.parameters()) for tower in entry.model.towers]
    buffer = torch.empty(n_tasks, sum(p.numel() for p in shared))

    def backward(losses: torch.Tensor, z: torch.Tensor, parts: list[torch.Tensor]) -> None:
        jacobian = task_jacobian(losses, shared, out=buffer, task_params=heads)  # (T, P)
        write_flat_grad(shared, jacobian.mean(dim=0))

    entry.backward = backward
    entry.finish()
    return entry


class HandFloorEntry(Entry):
    """An exact Jacobian step with no autograd: the arithmetic floor of exact methods here."""

    def __init__(self, n_tasks: int, x: torch.Tensor, y: torch.Tensor) -> None:
        super().__init__("floor-by-hand", "floor", n_tasks, x, y)
        self.linears = [block[0] for block in self.model.trunk]
        self.heads = [tower.head[0][0] for tower in self.model.towers]
        self.shared = [p for lin in self.linears for p in (lin.weight, lin.bias)]
        self.jacobian = torch.empty(n_tasks, sum(p.numel() for p in self.shared))
        self.views = [self._row_views(self.jacobian[t]) for t in range(n_tasks)]
        self.mean = torch.empty(self.jacobian.shape[1])
        for p in self.model.parameters():
            p.grad = torch.zeros_like(p)
        for p, view in zip(self.shared, self._row_views(self.mean), strict=True):
            p.grad = view  # the shared gradients live in the mean buffer
        self.finish()

    def _row_views(self, row: torch.Tensor) -> list[torch.Tensor]:
        views, offset = [], 0
        for p in self.shared:
            views.append(row[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
        return views

    @torch.no_grad()
    def step(self) -> None:
        acts, masks = [self.x], []
        for lin in self.linears:
            pre = torch.addmm(lin.bias, acts[-1], lin.weight.t())
            masks.append(pre > 0)
            acts.append(pre.clamp_(min=0))
        head_w = torch.cat([h.weight for h in self.heads])  # (T, 64)
        head_b = torch.cat([h.bias for h in self.heads])
        residual = (torch.addmm(head_b, acts[-1], head_w.t()) - self.y) * (2.0 / BATCH)  # (B, T)
        for t, head in enumerate(self.heads):
            torch.mv(acts[-1].t(), residual[:, t], out=head.weight.grad[0])
            head.bias.grad.copy_(residual[:, t].sum(0, keepdim=True))
            delta = torch.outer(residual[:, t], head_w[t]).mul_(masks[-1])
            for layer in reversed(range(len(self.linears))):
                torch.mm(delta.t(), acts[layer], out=self.views[t][2 * layer])
                torch.sum(delta, 0, out=self.views[t][2 * layer + 1])
                if layer:
                    delta = torch.mm(delta, self.linears[layer].weight).mul_(masks[layer - 1])
        self.jacobian @ self.jacobian.t()  # the Gramian every aggregator reads
        torch.mean(self.jacobian, 0, out=self.mean)
        self.optimizer.step()


def torchjd_entries(n_tasks: int, x: torch.Tensor, y: torch.Tensor) -> list[Entry]:
    """torchjd's own implementation of the methods it shares with us."""
    from torchjd import aggregation as agg
    from torchjd import scalarization as sc
    from torchjd.autojac import jac_to_grad, mtl_backward

    aggregators: dict[str, Callable[[], Any]] = {
        "pcgrad": agg.PCGrad,
        "mgda": agg.MGDA,
        "cagrad": lambda: agg.CAGrad(c=0.4),
        "imtl": agg.IMTLG,
        "upgrad": agg.UPGrad,
        "aligned-mtl": agg.AlignedMTL,
        "nash-mtl": lambda: agg.NashMTL(n_tasks=n_tasks),
    }
    entries = []
    for name, make in aggregators.items():
        entry = Entry(f"torchjd:{name}", "gradient", n_tasks, x, y)
        aggregator = make()
        shared = list(entry.model.trunk.parameters())
        heads = [list(tower.parameters()) for tower in entry.model.towers]

        def backward(
            losses: torch.Tensor,
            z: torch.Tensor,
            parts: list[torch.Tensor],
            aggregator: Any = aggregator,
            shared: list = shared,
            heads: list = heads,
        ) -> None:
            mtl_backward(parts, features=z, shared_params=shared, tasks_params=heads)
            jac_to_grad(shared, aggregator)

        entry.backward = backward
        entry.finish()
        entries.append(entry)
    scalarizers: dict[str, Callable[[], Any]] = {
        "uncertainty": lambda: sc.UW(n_tasks),
        "dwa": sc.DWA,
        "gls": sc.GeometricMean,
        "rlw": sc.Random,
    }
    for name, make in scalarizers.items():
        entry = Entry(f"torchjd:{name}", "loss", n_tasks, x, y)
        scalarizer = make()
        entry.extra_params = list(scalarizer.parameters())
        entry.backward = lambda losses, z, parts, scalarizer=scalarizer: scalarizer(
            losses
        ).backward()
        entry.finish()
        entries.append(entry)
    return entries


def time_block(entry: Entry, count: int, clock: Callable[[], float]) -> float:
    """Seconds per step over ``count`` steps, after two warm-up steps."""
    for _ in range(2):
        entry.step()
    start = clock()
    for _ in range(count):
        entry.step()
    return (clock() - start) / count


def run(
    n_tasks: int, rounds: int, steps: int, clock: Callable[[], float] = time.thread_time
) -> list[Entry]:
    """Each round: for every entry, a block of plain steps then a block of the entry's steps.

    Each entry's time is divided by the plain block timed just before it, so slow drifts of
    the machine's load cancel; the table reports medians over rounds.
    """
    torch.manual_seed(1)
    x = torch.randn(BATCH, FEATURES)
    y = torch.randn(BATCH, n_tasks) * torch.logspace(0, 2, n_tasks)  # tasks on different scales
    plain = plain_entry(n_tasks, x, y)
    entries = [plain]
    entries += [ours_entry(name, n_tasks, x, y) for name in WEIGHTINGS.names()]
    entries.append(floor_entry(n_tasks, x, y))
    entries.append(HandFloorEntry(n_tasks, x, y))
    entries += torchjd_entries(n_tasks, x, y)
    for _ in range(rounds):
        for entry in entries:
            count = (
                steps if entry.label != "torchjd:nash-mtl" else max(3, steps // 6)
            )  # ~100× slower
            reference = time_block(plain, steps, clock)
            seconds = reference if entry is plain else time_block(entry, count, clock)
            entry.times.append(seconds)
            entry.ratios.append(seconds / reference)
    return entries


def target_of(label: str, kind: str, n_tasks: int) -> float | None:
    """The target ratio of one of our entries at T tasks (``None``: no target)."""
    if label.startswith("torchjd:") or label == "gradnorm":
        return None
    if label == "nash-mtl":
        return NASH_TARGETS.get(n_tasks)
    return TARGETS.get(kind, {}).get(n_tasks)


def table(results: dict[int, list[Entry]]) -> str:
    """Per T: the median ms per step and the median of the paired ratios to plain."""
    counts = sorted(results)
    labels = [e.label for e in results[counts[0]]]
    head = "| strategy | level | " + " | ".join(f"T={t} ms | T={t} ×plain" for t in counts) + " |"
    lines = [head, "|---|---|" + "---:|---:|" * len(counts)]
    for label in labels:
        kind = next(e.kind for e in results[counts[0]] if e.label == label)
        cells = []
        for t in counts:
            entry = next(e for e in results[t] if e.label == label)
            ms = statistics.median(entry.times) * 1e3
            ratio = statistics.median(entry.ratios)
            target = target_of(label, kind, t)
            flag = "" if target is None or ratio <= target else " ✗"
            cells.append(f"{ms:.2f} | {ratio:.2f}{flag}")
        lines.append(f"| {label} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds × 10 steps")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--tasks", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="thread",
        help="thread: the thread's CPU time (default, robust to a loaded machine); wall: perf_counter",
    )
    args = parser.parse_args(argv)
    rounds, steps = (3, 10) if args.quick else (args.rounds, args.steps)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # cvxpy's "not DPP" warning in torchjd's Nash-MTL and CAGrad
    n_params = sum(p.numel() for p in make_model(2).trunk.parameters())
    print(
        "weighting step time: each strategy's training step vs a plain weighted backward (same model, same batch)"
    )
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, torch.set_num_threads(1); "
        f"{rounds} alternating rounds × {steps} steps, median per-step time; clock: {args.clock} "
        f"({'CPU time' if args.clock == 'thread' else 'wall time'})"
    )
    print(
        f"hard-sharing MLP {FEATURES} → {' → '.join(map(str, HIDDEN))} ({n_params:,} shared parameters), "
        f"one Linear head per task, batch {BATCH}, MSE losses, Adam"
    )
    print(
        "ms = median per-step time; ×plain = median over rounds of (entry block / plain block timed just before)"
    )
    print(
        "targets: loss level ≤ 1.05× plain; gradient level (not GradNorm) ≤ 2.0× at T = 4, ≤ 3.0× at T = 8; "
        "Nash-MTL ≤ 3.0× at T = 4 (✗ = over target); floor = T backward passes, no aggregation; "
        "floor-by-hand = the same products without autograd\n"
    )
    results = {}
    for n_tasks in args.tasks:
        results[n_tasks] = run(n_tasks, rounds, steps, CLOCKS[args.clock])
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
