"""Text encoder speed: the ``mtl`` Trainer on the movie-reviews preset against a bare
PyTorch ``nn.EmbeddingBag`` loop, side by side, on the same batches.

- ``mtl``: :class:`mtl.train.trainer.Trainer` on the preset (text + movie_name; the ids
  travel as float columns of the batch and the text-input module turns them back into
  int64 for the bag, then the hard-sharing MLP and two heads), with a ``History``
  callback and its per-epoch metrics (training metrics, a validation pass, best-weights
  bookkeeping);
- ``bare+val``: a hand-written model (``nn.EmbeddingBag`` on int64 ids, the same one-hot
  features, the same layer sizes and, copied from the mtl model, the same initial weights),
  a plain loop (forward, masked BCE per task, backward, Adam step) over the same batches
  (``torch.randperm`` with the same generator seed), and at each epoch's end a forward
  pass over the validation rows;
- ``bare``: the same without validation, for reference;
- ``bare+val (mtl model)``: the ``bare+val`` loop driving the mtl model itself (float id
  columns split by the text-input module), which separates the text-input module's cost
  (``bare+val (mtl model)`` / ``bare+val``) from the Trainer's (``mtl`` / ``bare+val (mtl model)``).

Rounds alternate (mtl, bare+val, bare, …) in one process; the ratio is the median over
rounds of mtl / bare+val steps per second (paired). One torch thread; time is the
training thread's CPU time (``time.thread_time``), which a shared machine disturbs least.

    python benchmarks/text_encoder.py            # all 13,905 rows, 2 epochs, 5 rounds
    python benchmarks/text_encoder.py --quick    # 4,000 rows, 1 epoch, 3 rounds
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from mtl import presets  # noqa: E402
from mtl.config import ExperimentConfig  # noqa: E402
from mtl.data.prepare import PreparedData, prepare  # noqa: E402
from mtl.train.callbacks import History  # noqa: E402
from mtl.train.trainer import Trainer, build_model  # noqa: E402

TARGET_RATIO = 0.90


class BareModel(nn.Module):
    """EmbeddingBag(ids) ⊕ tabular → Linear + ReLU → one Linear head per task."""

    def __init__(self, tabular: int, embeddings: int, dim: int, hidden: int, tasks: int) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(embeddings, dim, mode="mean", padding_idx=0)
        self.trunk = nn.Sequential(nn.Linear(tabular + dim, hidden), nn.ReLU())
        self.heads = nn.ModuleList(nn.Linear(hidden, 1) for _ in range(tasks))

    def forward(self, tabular: Tensor, ids: Tensor) -> list[Tensor]:
        shared = self.trunk(torch.cat([tabular, self.bag(ids)], dim=1))  # (B, hidden)
        return [head(shared) for head in self.heads]  # (B, 1) each


def bare_model(config: ExperimentConfig, data: PreparedData) -> BareModel:
    """The hand-written model, with the mtl model's initial weights (same seed)."""
    torch.manual_seed(config.train.seed)
    reference = build_model(config, data)
    layout = data.text_layout
    assert layout is not None and len(layout.columns) == 1
    (hidden,) = config.model.hidden
    model = BareModel(
        layout.tabular,
        layout.columns[0].num_embeddings,
        config.data.text_embedding,
        hidden,
        len(data.tasks),
    )
    weights = [p.detach() for p in reference.parameters()]
    ours = list(model.parameters())
    assert [tuple(w.shape) for w in weights] == [tuple(p.shape) for p in ours]
    with torch.no_grad():
        for p, w in zip(ours, weights, strict=True):
            p.copy_(w)
    return model


def run_mtl(config: ExperimentConfig, data: PreparedData) -> dict[str, Any]:
    history = History()
    trainer = Trainer(config, data=data, callbacks=[history])
    t0 = time.thread_time()
    result = trainer.fit()
    seconds = time.thread_time() - t0
    assert result.status == "finished", result.status
    return {"steps": trainer.step, "seconds": seconds}


def run_bare(
    config: ExperimentConfig, data: PreparedData, validate: bool, mtl_model: bool = False
) -> dict[str, Any]:
    cfg = config.train
    if mtl_model:
        torch.manual_seed(cfg.seed)
        wrapped = build_model(config, data)
        task_names = [t.name for t in data.tasks]

        def forward(rows: Tensor, _: Tensor) -> list[Tensor]:
            out = wrapped(rows)  # the whole float row: tabular features, then text ids
            return [out[n] for n in task_names]

        model: Any = wrapped
        call = forward
    else:
        model = bare_model(config, data)
        call = model
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    layout = data.text_layout
    assert layout is not None
    names = [t.name for t in data.tasks]

    def tensors(split: Any) -> tuple[Tensor, Tensor, list[Tensor], list[Tensor]]:
        x = torch.from_numpy(split.x)
        tab, ids = x[:, : layout.tabular], x[:, layout.tabular :].long()  # ids once, up front
        if mtl_model:  # the mtl model reads one float batch (ids unused)
            tab, ids = x, torch.zeros(len(x), 0)
        ys = [torch.from_numpy(split.y[n]).float() for n in names]
        masks = [torch.from_numpy(split.mask[n]) for n in names]
        return tab, ids, ys, masks

    tab, ids, ys, masks = tensors(data.train)
    val = tensors(data.val)
    generator = torch.Generator().manual_seed(cfg.seed)
    steps, n = 0, len(tab)
    t0 = time.thread_time()
    for _ in range(cfg.epochs):
        model.train()
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, cfg.batch_size):
            index = order[start : start + cfg.batch_size]
            out = call(tab.index_select(0, index), ids.index_select(0, index))
            loss = sum(
                _masked_bce(o[:, 0], y.index_select(0, index), m.index_select(0, index))
                for o, y, m in zip(out, ys, masks, strict=True)
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
        if validate:
            model.eval()
            with torch.no_grad():
                out = call(val[0], val[1])
                val_loss = sum(
                    _masked_bce(o[:, 0], y, m) for o, y, m in zip(out, val[2], val[3], strict=True)
                )
            assert math.isfinite(float(val_loss))
    return {"steps": steps, "seconds": time.thread_time() - t0}


def _masked_bce(logits: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    rows = F.binary_cross_entropy_with_logits(logits, y, reduction="none")  # (B,)
    return (rows * mask).sum() / mask.sum().clamp(min=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 rows, 1 epoch, 3 rounds")
    args = parser.parse_args(argv)
    rows, epochs, rounds = (4_000, 1, 3) if args.quick else (None, 2, 5)
    torch.set_num_threads(1)
    overrides: dict[str, Any] = {"train.epochs": epochs, "train.device": "cpu"}
    if rows is not None:
        overrides["data.options.rows"] = rows
    config = presets.load("movie-reviews").with_overrides(overrides)
    data = prepare(config)
    n_params = sum(p.numel() for p in build_model(config, data).parameters())
    steps_per_epoch = math.ceil(len(data.train) / config.train.batch_size)
    print("text encoder: mtl Trainer on the movie-reviews preset vs a bare nn.EmbeddingBag loop")
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, one torch thread; "
        f"{rounds} alternating rounds; clock: thread CPU time"
    )
    print(
        f"{len(data.train) + len(data.val) + len(data.test):,} rows ({len(data.train):,} train), "
        f"text ids {data.text[0].width} + {data.text_layout.tabular if data.text_layout else 0} "
        f"tabular columns, vocabulary {len(data.text[0].vocab):,}, {config.data.text_encoder} "
        f"{config.data.text_embedding}-d, hard {config.model.hidden} ({n_params:,} parameters), "
        f"batch {config.train.batch_size}, {epochs} epoch(s) = {steps_per_epoch * epochs} steps"
    )
    run_bare(config.with_overrides({"train.epochs": 1}), data, validate=False)  # warm-up
    run_mtl(config.with_overrides({"train.epochs": 1}), data)
    runners = {
        "mtl": lambda: run_mtl(config, data),
        "bare+val": lambda: run_bare(config, data, validate=True),
        "bare": lambda: run_bare(config, data, validate=False),
        "bare+val (mtl model)": lambda: run_bare(config, data, validate=True, mtl_model=True),
    }
    rates: dict[str, list[float]] = {label: [] for label in runners}
    paired: list[float] = []
    for _ in range(rounds):
        for label, runner in runners.items():
            result = runner()
            rates[label].append(result["steps"] / result["seconds"])
        paired.append(rates["mtl"][-1] / rates["bare+val"][-1])
    print()
    print("| loop | median steps/s | min | max | runs |")
    print("|------|---------------:|----:|----:|-----:|")
    for label, values in rates.items():
        print(
            f"| {label} | {statistics.median(values):.1f} | {min(values):.1f} | "
            f"{max(values):.1f} | {len(values)} |"
        )
    ratio = statistics.median(paired)
    med = {label: statistics.median(values) for label, values in rates.items()}
    print(
        f"\ntext-input module: bare+val (mtl model) / bare+val = "
        f"{med['bare+val (mtl model)'] / med['bare+val']:.2f}; Trainer: mtl / bare+val (mtl model) = "
        f"{med['mtl'] / med['bare+val (mtl model)']:.2f}"
    )
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(
        f"\nratio mtl / bare+val = {ratio:.2f} (paired rounds: "
        f"{', '.join(f'{r:.2f}' for r in paired)}); target ≥ {TARGET_RATIO:.2f}: {verdict}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
