"""The training loop: all task losses minimised together, reported only through callbacks.

One :class:`Trainer` trains one model from one :class:`ExperimentConfig`. It holds no
global state, so several can run in one process (tests, sweeps). Same config + same seed
→ same numbers.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mtl.config import ConfigError, ExperimentConfig
from mtl.data.prepare import SPLITS, PreparedData, Split, prepare
from mtl.data.tasks import TaskSpec
from mtl.models.base import MultiTaskModel, check_model_size
from mtl.models.inputs import Build, model_builder
from mtl.train import batches
from mtl.train.batches import Rows
from mtl.train.callbacks import Callback, EpochEnd, MetricRow, RunEnd, RunStart, StepEnd
from mtl.train.diagnostics import Diagnostics
from mtl.train.losses import TaskLoss
from mtl.train.metrics import MetricValue, task_metrics
from mtl.train.schedule import PlateauSchedule, learning_rate
from mtl.train.stopping import EarlyStopping
from mtl.train.transfer import Freezer, param_groups, transfer_weights
from mtl.weighting import WEIGHTINGS
from mtl.weighting.base import WeightingStrategy

EVAL_BATCH = 2048


class DivergedError(RuntimeError):
    """A task loss became NaN or infinite."""

    def __init__(self, task: str, step: int, value: float) -> None:
        super().__init__(
            f"task {task!r} loss became {value} at step {step}; lower train.lr, enable train.grad_clip "
            "or check the task's targets for extreme values"
        )
        self.task = task


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    status: str  # finished | stopped | diverged
    summary: dict[str, Any]
    model: MultiTaskModel
    data: PreparedData


def select_device(preference: str) -> torch.device:
    """CUDA when asked or available (``auto``), otherwise CPU.

    Raises:
        ConfigError: ``cuda`` is asked for but this machine has no usable CUDA device.
    """
    if preference == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device is 'cuda' but no CUDA device is available here; use 'auto' or 'cpu'"
        )
    if preference == "cuda" or (preference == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def build_model(config: ExperimentConfig, data: PreparedData) -> MultiTaskModel:
    """The configured architecture with one head per task (its size checked first)."""
    check_size(config, data)
    return _builder(config, data)(config.model, data.input_shape, _heads(data))


def check_size(config: ExperimentConfig, data: PreparedData) -> int:
    """The model's parameter count; :class:`ConfigError` when it is too large to train."""
    try:
        return check_model_size(
            _builder(config, data), config.model, data.input_shape, _heads(data)
        )
    except ValueError as err:
        text = (
            "; with text inputs, also data.text_embedding, data.text_buckets, data.text_vocab_size"
            if data.text
            else ""
        )
        raise ConfigError(f"{err}{text}") from None


def preflight(
    config: ExperimentConfig, data: PreparedData, init_checkpoint: Path | None = None
) -> None:
    """Refuse, before a run is recorded, what would fail once training starts: a device
    that is not there, a model too large to allocate, layers of ``model.init_from`` that do
    not fit this model (:class:`ConfigError`, one line)."""
    select_device(config.train.device)
    check_size(config, data)
    if init_checkpoint is not None and config.model.init_from is not None:
        transfer_weights(
            build_model(config, data), init_checkpoint, config.model, config.model.init_from
        )


def _builder(config: ExperimentConfig, data: PreparedData) -> Build:
    """The architecture's build function, with text encoders in front for text columns."""
    return model_builder(config.model.sharing, config.data, data.text_layout)


def _heads(data: PreparedData) -> dict[str, int]:
    return {t.name: t.out_dim for t in data.tasks}


def build_strategy(config: ExperimentConfig, tasks: Sequence[TaskSpec]) -> WeightingStrategy:
    """The configured loss-weighting strategy."""
    return WEIGHTINGS.get(config.loss.weighting)(tasks, config.loss.options)


class Trainer:
    """Trains a multi-task model.

    Args:
        config: the experiment.
        data: prepared data; prepared from ``config`` when not given.
        callbacks: receive the training events, in order.
        init_checkpoint: with ``model.init_from``, the source run's checkpoint (the run store
            resolves the id to it: :func:`mtl.runs.lineage.source_checkpoint`).
    """

    def __init__(
        self,
        config: ExperimentConfig,
        data: PreparedData | None = None,
        callbacks: Sequence[Callback] = (),
        init_checkpoint: Path | None = None,
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks)
        torch.manual_seed(config.train.seed)
        np.random.seed(config.train.seed)
        self.data = data if data is not None else prepare(config)
        self.tasks = self.data.tasks
        self.device = select_device(config.train.device)
        self.model = build_model(config, self.data)
        self.transferred = self._transfer(init_checkpoint)
        """The parameters copied from ``model.init_from`` (empty without it)."""
        self.model.to(self.device)
        self.freezer = Freezer(self.transferred, config.model.freeze_epochs)
        self.strategy = build_strategy(config, self.tasks)
        self.strategy.attach(self.model)
        every = config.train.diagnostics_every
        self.diagnostics = (
            None
            if every is None
            else Diagnostics(self.model, self.tasks, every, config.train.affinity, self.strategy)
        )
        self.loss_fns = [TaskLoss(t, config.loss.huber_delta, self.device) for t in self.tasks]
        self.optimizer = self._optimizer()
        self.step = 0
        self.epoch = 0
        cfg = config.train
        self.stopping = EarlyStopping(cfg.early_stopping)
        """Tracks the monitored value per epoch: its best epoch, and when to stop early."""
        self.plateau = (
            PlateauSchedule(cfg.plateau_patience, cfg.gamma) if cfg.schedule == "plateau" else None
        )
        self._best_state: dict[str, Any] | None = None
        """The best epoch's weights (kept only with early stopping, restored at the end)."""
        self._window = _Window(0)
        """This report window's losses and weights, not yet checked for finiteness."""
        self._t0 = time.perf_counter()
        self._stop_reason: str | None = None
        self._val_summary: dict[str, dict[str, Any]] | None = None
        """The last epoch's validation metrics (taken at step ``_val_step``), reused by the summary."""
        self._val_step = -1
        self._tensors = {name: self._to_device(self.data.split(name)) for name in SPLITS}
        # Hot-path shortcuts: a task whose training labels are all present and that has no
        # class weights uses one fused loss op; architectures without a penalty skip it.
        self._complete = [
            bool(self.data.train.mask[t.name].all()) and t.class_weights is None for t in self.tasks
        ]
        self._masked_tasks = torch.tensor(
            [t for t, complete in enumerate(self._complete) if not complete],
            dtype=torch.long,
            device=self.device,
        )
        """The tasks whose losses go through the label mask, in ``_batch_losses`` order."""
        self._all_active = torch.ones(len(self.tasks), device=self.device)
        """Every task on (the base of a step's active mask when some tasks are masked)."""
        # A penalty that is a constant here (hard sharing's zero, also behind text inputs) adds no
        # gradient at any step: skip computing it per step.
        self._has_penalty = bool(self.model.penalty().requires_grad)
        self._augment_rng = torch.Generator().manual_seed(config.train.seed + 1)

    # ---- control -------------------------------------------------------------------

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to end after the current step (status ``stopped``)."""
        self._stop_reason = reason

    # ---- set-up helpers ------------------------------------------------------------

    def _transfer(self, checkpoint: Path | None) -> list[torch.nn.Parameter]:
        source = self.config.model.init_from
        if source is None:
            return []
        if checkpoint is None:
            raise ConfigError(
                f"model.init_from {source!r} is a run of the store; train this config with "
                "`python -m mtl run` (or the dashboard) so the run can be found"
            )
        return transfer_weights(self.model, checkpoint, self.config.model, source)

    def _optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config.train
        params = param_groups(self.model, self.transferred, self.config.model.init_lr_factor)
        params[0]["params"] = [*params[0]["params"], *self.strategy.parameters()]  # type: ignore[misc]
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _to_device(self, split: Split) -> dict[str, Any]:
        def tensor(a: np.ndarray) -> torch.Tensor:
            return batches.to_device(a, self.device)

        return {
            "x": batches.inputs(split.x, self.device),  # a tensor, or images decoded per batch
            "y": {t.name: tensor(split.y[t.name]) for t in self.tasks},
            "mask": {t.name: tensor(split.mask[t.name].astype(np.float32)) for t in self.tasks},
        }

    def _emit(self, hook: str, event: Any) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)  # ``on_diagnostics`` is optional
            if method is not None:
                method(self, event)

    # ---- the loop ------------------------------------------------------------------

    def fit(self) -> TrainResult:
        """Train until the epochs run out, early stopping triggers or a stop is requested.

        A NaN or infinite loss ends the run with status ``diverged`` (naming the task);
        any other exception is reported to the callbacks as ``failed`` and re-raised.
        """
        cfg = self.config.train
        n_train = self._split_size("train")
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        self._t0 = time.perf_counter()
        self._emit(
            "on_run_start",
            RunStart(
                config=self.config.to_dict(),
                tasks=[t.to_dict() for t in self.tasks],
                n_parameters=sum(p.numel() for p in self.model.parameters()),
                steps_per_epoch=steps_per_epoch,
                epochs=cfg.epochs,
                rows={name: self._split_size(name) for name in SPLITS},
                warnings=list(self.data.warnings),
            ),
        )
        status, error = "finished", None
        try:
            self._loop(steps_per_epoch)
            if self._stop_reason is not None and self._stop_reason != "early stopping":
                status = "stopped"
        except DivergedError as err:
            status, error = "diverged", str(err)
        except KeyboardInterrupt:
            status, error = "stopped", "interrupted from the keyboard"
            try:  # the steps since the last check must not leave NaN weights in a checkpoint
                self._window.check(self.tasks)
            except DivergedError as err:
                status, error = "diverged", str(err)
        except BaseException as err:
            self._emit(
                "on_run_end",
                RunEnd(status="failed", summary={}, error=f"{type(err).__name__}: {err}"),
            )
            raise
        if self._best_state is not None and status != "diverged":
            self.model.load_state_dict(self._best_state)
            self._val_summary = None  # the last epoch's validation metrics are not these weights'
        summary = self.summary(status)
        self._emit("on_run_end", RunEnd(status=status, summary=summary, error=error))
        return TrainResult(status=status, summary=summary, model=self.model, data=self.data)

    def _loop(self, steps_per_epoch: int) -> None:
        cfg = self.config.train
        generator = torch.Generator().manual_seed(cfg.seed)
        train = self._tensors["train"]
        n_train = self._split_size("train")
        current_lr = math.nan
        last_start = max(t.start_epoch for t in self.tasks)
        permuted: dict[str, Any] | None = None  # refilled each epoch
        masked = [
            t.name for t, complete in zip(self.tasks, self._complete, strict=True) if not complete
        ]
        presliced = (
            type(self)._train_step is Trainer._train_step
            and type(self)._batch_losses is Trainer._batch_losses
            and isinstance(train["x"], torch.Tensor)
            and train["x"].nbytes <= batches.PERMUTE_BYTES
        )
        for epoch in range(cfg.epochs):
            self.epoch = epoch
            self.model.train()
            self.freezer.epoch_start(epoch)
            flags = [float(epoch >= t.start_epoch) for t in self.tasks]
            active = None if all(flags) else torch.tensor(flags, device=self.device)
            order = torch.randperm(n_train, generator=generator).to(self.device)
            # Rows permuted once per epoch, then each batch is a contiguous slice (no
            # index_select per step); lazy images, large inputs and subclasses that map the
            # indices (data-parallel shards) index each batch instead.
            epoch_split = train
            if presliced:
                permuted = batches.permuted(train, order, masked, permuted)
                epoch_split = permuted
            self._window = _Window(self.step)
            epoch_losses: list[torch.Tensor] = []
            outputs: list[dict[str, torch.Tensor]] = []
            for start in range(0, n_train, cfg.batch_size):
                scale = 1.0 if self.plateau is None else self.plateau.scale
                lr = learning_rate(cfg, self.step, steps_per_epoch, scale)
                if lr != current_lr:
                    for group in self.optimizer.param_groups:
                        group["lr"] = lr * group.get("lr_factor", 1.0)
                    current_lr = lr
                end = min(start + cfg.batch_size, n_train)
                if end - start == 1 and n_train > 1 and self.config.model.batch_norm:
                    continue  # batch norm cannot train on a single row
                index = slice(start, end) if presliced else order[start:end]
                try:
                    losses, weights, out = self._train_step(epoch_split, index, active)
                except DivergedError:
                    raise
                except Exception:
                    self._window.check(self.tasks)  # a non-finite loss before explains it
                    raise
                outputs.append(out)
                self._window.add(losses, weights)
                epoch_losses.append(losses)
                self.step += 1
                if self.step % cfg.log_every == 0:
                    self._emit("on_step", self._window.event(self, lr))
                    self._window = _Window(self.step)
                if self._stop_reason is not None:
                    self._window.check(self.tasks)
                    return
            # evaluation and epoch events
            check_finite(epoch_losses, self.step - len(epoch_losses), self.tasks)
            train_losses = (
                torch.stack(epoch_losses).mean(dim=0).tolist()
                if epoch_losses
                else [math.nan] * len(self.tasks)
            )
            self.strategy.epoch_end(
                epoch, dict(zip([t.name for t in self.tasks], train_losses, strict=True))
            )
            rows, monitor = self._epoch_rows(order, outputs, train_losses)
            stop = self.stopping.update(monitor)
            if self.stopping.improved and cfg.early_stopping is not None:
                self._best_state = copy.deepcopy(self.model.state_dict())  # restored at the end
            if self.plateau is not None:
                self.plateau.update(monitor)
            self._emit(
                "on_epoch_end",
                EpochEnd(
                    step=self.step,
                    epoch=epoch,
                    wall_time=self._elapsed(),
                    rows=rows,
                    monitor=monitor,
                    improved=self.stopping.improved,
                ),
            )
            if self._stop_reason is not None:
                return
            if stop and epoch >= last_start:  # not before every task has started
                self._stop_reason = "early stopping"
                return

    def _train_step(
        self, split: dict[str, Any], index: Rows, active: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """One optimisation step on the rows ``index`` of ``split`` (row indices, or a
        slice of an epoch's permuted split); the detached losses, weights and outputs."""
        cfg = self.config.train
        x = batches.take(split["x"], index)  # (B, *input_shape)
        if self.config.data.augment and x.dim() == 4:
            x = _shift(x, self._augment_rng)
        out = self.model(x)  # task → (B, out_dim)
        # Finiteness is checked once per report window (no host sync per step), before
        # anything reads the losses: a diagnostics pass, a step report, the epoch's end.
        loss_vec, present = self._batch_losses(out, split, index)  # (T,)
        step_active = active
        if present:  # a task without a label in this batch does not train on it (no host sync)
            labelled = (torch.stack([count for _, count in present]) > 0).to(self._all_active.dtype)
            if len(present) == len(self.tasks):  # every task masked: (M,) is (T,)
                step_active = labelled if active is None else active * labelled
            elif active is None:  # every task on: the masked ones' entries are their 0/1 flags
                step_active = self._all_active.index_copy(0, self._masked_tasks, labelled)
            else:
                rows = self._masked_tasks
                step_active = active.index_copy(0, rows, active[rows] * labelled)
        extra = self.model.penalty() if self._has_penalty else None
        if cfg.l1 > 0:
            # Starting the sum from a zero tensor keeps it a tensor (the default start is int 0).
            zero = torch.zeros((), device=self.device)
            l1 = cfg.l1 * sum((p.abs().sum() for p in self.model.parameters()), zero)
            extra = l1 if extra is None else extra + l1
        if self.diagnostics is not None and self.diagnostics.due(self.step + 1):
            self._window.check(self.tasks)
            check_finite([loss_vec], self.step, self.tasks)
            self._emit(
                "on_diagnostics",
                self.diagnostics.measure(
                    loss_vec,
                    x,
                    lambda outputs: self._batch_losses(outputs, split, index)[0],
                    lr=self.optimizer.param_groups[0]["lr"],
                    step=self.step + 1,
                    epoch=self.epoch,
                    wall_time=self._elapsed(),
                ),
            )
        self.optimizer.zero_grad(set_to_none=True)
        try:
            weights = self._backward(loss_vec, step_active, extra)
        except Exception:
            # e.g. a solver that refuses a NaN Gramian: report the divergence, not the symptom
            check_finite([loss_vec], self.step, self.tasks)
            raise
        if cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        return loss_vec.detach(), weights, {k: v.detach() for k, v in out.items()}

    def _backward(
        self, losses: torch.Tensor, active: torch.Tensor | None, extra: torch.Tensor | None
    ) -> torch.Tensor:
        """Fill the parameters' ``.grad`` for this step; the task weights (T,)."""
        return self.strategy.backward(losses, active, extra)

    def _split_size(self, split: str) -> int:
        """Rows in a split (of the whole split, when a process holds only its shard)."""
        return len(self.data.split(split))

    def _batch_losses(
        self, out: dict[str, torch.Tensor], split: dict[str, Any], index: Rows
    ) -> tuple[torch.Tensor, list[tuple[int, torch.Tensor]]]:
        """Task losses (T,) of outputs on the rows ``index``, and (task, labelled rows) of masked tasks."""
        losses, present = [], []
        for t, (spec, loss_fn) in enumerate(zip(self.tasks, self.loss_fns, strict=True)):
            y = batches.take(split["y"][spec.name], index)
            if self._complete[t]:
                losses.append(loss_fn.unmasked(out[spec.name], y))
                continue
            mask = batches.take(split["mask"][spec.name], index)
            loss, count = loss_fn(out[spec.name], y, mask)
            losses.append(loss)
            present.append((t, count))
        return torch.stack(losses), present

    # ---- evaluation ----------------------------------------------------------------

    @torch.no_grad()
    def predict(self, split: str) -> dict[str, np.ndarray]:
        """Raw model outputs per task on a split, in eval mode: task → (N, out_dim)."""
        self.model.eval()
        x = self._tensors[split]["x"]
        parts: dict[str, list[torch.Tensor]] = {t.name: [] for t in self.tasks}
        for part in batches.chunks(x, EVAL_BATCH):
            out = self.model(part)
            for name in parts:
                parts[name].append(out[name])
        return {
            name: _cat(chunks, t.out_dim)
            for (name, chunks), t in zip(parts.items(), self.tasks, strict=True)
        }

    @torch.no_grad()
    def _split_losses(self, split: str, outputs: dict[str, np.ndarray]) -> list[float]:
        tensors = self._tensors[split]
        result = []
        for spec, loss_fn in zip(self.tasks, self.loss_fns, strict=True):
            out = torch.from_numpy(outputs[spec.name]).to(self.device)
            loss, count = loss_fn(out, tensors["y"][spec.name], tensors["mask"][spec.name])
            result.append(float(loss) if int(count) > 0 else math.nan)
        return result

    def _epoch_rows(
        self, order: torch.Tensor, outputs: list[dict[str, torch.Tensor]], train_losses: list[float]
    ) -> tuple[list[MetricRow], float]:
        """Long-form rows for this epoch and the value early stopping monitors.

        Training metrics come from the outputs of the training steps themselves (as
        Keras reports them: free, but measured while the weights moved); validation
        metrics from a pass in eval mode.
        """
        wall = self._elapsed()
        rows: list[MetricRow] = []

        def row(
            task: str, split: str, metric: str, value: float | None, reason: str | None
        ) -> MetricRow:
            return (self.step, self.epoch, wall, task, split, metric, value, reason)

        train_out, train_y, train_mask = self._epoch_outputs(order, outputs)
        for t, spec in enumerate(self.tasks):
            rows.append(row(spec.name, "train", "loss", train_losses[t], None))
            for name, metric in task_metrics(
                spec, train_out[spec.name], train_y[spec.name], train_mask[spec.name]
            ).items():
                rows.append(row(spec.name, "train", name, metric.value, metric.reason))
        monitor_split = "val" if len(self.data.val) else "train"
        if len(self.data.val):
            val_out = self.predict("val")
            val_losses = self._split_losses("val", val_out)
            val_metrics = [
                task_metrics(
                    spec,
                    val_out[spec.name],
                    self.data.val.y[spec.name],
                    self.data.val.mask[spec.name],
                )
                for spec in self.tasks
            ]
            self._val_summary, self._val_step = (
                _split_summary(self.tasks, val_losses, val_metrics),
                self.step,
            )
            for t, spec in enumerate(self.tasks):
                reason = None if not math.isnan(val_losses[t]) else "no labelled rows in this split"
                rows.append(
                    row(spec.name, "val", "loss", None if reason else val_losses[t], reason)
                )
                for name, metric in val_metrics[t].items():
                    rows.append(row(spec.name, "val", name, metric.value, metric.reason))
        losses = val_losses if monitor_split == "val" else train_losses
        monitor = float(np.nansum(losses))
        return rows, monitor

    def _epoch_outputs(
        self, order: torch.Tensor, outputs: list[dict[str, torch.Tensor]]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """This epoch's training outputs with their labels and masks, per task, in batch order."""
        seen = sum(len(next(iter(o.values()))) for o in outputs)
        perm = order.cpu().numpy()[
            :seen
        ]  # a skipped one-row last batch (batch norm) has no outputs
        train = self.data.train
        names = [t.name for t in self.tasks]
        out = {name: torch.cat([o[name] for o in outputs]).cpu().numpy() for name in names}
        return out, {n: train.y[n][perm] for n in names}, {n: train.mask[n][perm] for n in names}

    def evaluate(self, split: str) -> dict[str, dict[str, Any]]:
        """Per-task loss and metrics on a split: task → {metric: value or None}."""
        outputs = self.predict(split)
        data = self.data.split(split)
        losses = self._split_losses(split, outputs) if len(data) else [math.nan] * len(self.tasks)
        metrics = [
            task_metrics(spec, outputs[spec.name], data.y[spec.name], data.mask[spec.name])
            for spec in self.tasks
        ]
        return _split_summary(self.tasks, losses, metrics)

    def summary(self, status: str) -> dict[str, Any]:
        """The final summary: per-task validation and test metrics, best epoch, duration."""
        summary: dict[str, Any] = {
            "name": self.config.name,
            "status": status,
            "epochs": self.epoch + 1,
            "steps": self.step,
            "best_epoch": self.stopping.best_epoch if self.stopping.best_epoch >= 0 else None,
            "duration_s": round(self._elapsed(), 3),
        }
        if status != "diverged":
            # Training-split metrics are in the epoch rows; the summary holds held-out splits.
            for split in ("val", "test"):
                if len(self.data.split(split)):
                    # The last epoch's validation metrics, unless a step ran since (a stop mid-epoch)
                    # or the best weights were restored.
                    fresh = (
                        split == "val"
                        and self._val_summary is not None
                        and self._val_step == self.step
                    )
                    summary[split] = self._val_summary if fresh else self.evaluate(split)
        return summary

    def _elapsed(self) -> float:
        return time.perf_counter() - self._t0


def _split_summary(
    tasks: Sequence[TaskSpec], losses: list[float], metrics: Sequence[dict[str, MetricValue]]
) -> dict[str, dict[str, Any]]:
    """Per-task loss and metric values of one split, as the summary holds them: task → {metric: value}."""
    result: dict[str, dict[str, Any]] = {}
    for spec, loss, values_of in zip(tasks, losses, metrics, strict=True):
        values: dict[str, Any] = {"loss": None if math.isnan(loss) else loss}
        values.update({name: m.value for name, m in values_of.items()})
        undefined = {name: m.reason for name, m in values_of.items() if m.value is None}
        if undefined:
            values["undefined"] = undefined
        result[spec.name] = values
    return result


def check_finite(
    losses: Sequence[torch.Tensor], first_step: int, tasks: Sequence[TaskSpec]
) -> None:
    """Raise :class:`DivergedError` naming the task and step of the first NaN or infinite loss.

    One host synchronisation for all of them.

    Args:
        losses: loss vectors (T,) of consecutive steps.
        first_step: the 0-based index of the step of ``losses[0]``.
        tasks: the tasks, in the order of the loss vectors.
    """
    if not losses:
        return
    stacked = torch.stack([loss.detach() for loss in losses])  # (steps, T)
    bad = ~torch.isfinite(stacked)
    if bool(bad.any()):
        row, column = (int(i) for i in bad.nonzero()[0])
        raise DivergedError(tasks[column].name, first_step + row, float(stacked[row, column]))


class _Window:
    """The losses and weights of consecutive steps since ``first_step``; reduced only when read.

    Args:
        first_step: the 0-based index of the first step added.
    """

    def __init__(self, first_step: int) -> None:
        self.first_step = first_step
        self.losses: list[torch.Tensor] = []
        self.weights: list[torch.Tensor] = []

    def add(self, losses: torch.Tensor, weights: torch.Tensor) -> None:
        self.losses.append(losses)
        self.weights.append(weights)

    def check(self, tasks: Sequence[TaskSpec]) -> None:
        """Raise :class:`DivergedError` for the first NaN or infinite loss in the window."""
        check_finite(self.losses, self.first_step, tasks)

    def event(self, trainer: Trainer, lr: float) -> StepEnd:
        self.check(trainer.tasks)  # before anything is reported
        names = [t.name for t in trainer.tasks]
        losses = torch.stack(self.losses).mean(dim=0).tolist()  # (T,)
        weights = torch.stack(self.weights).mean(dim=0).tolist()  # (T,)
        return StepEnd(
            step=trainer.step,
            epoch=trainer.epoch,
            wall_time=trainer._elapsed(),
            losses=dict(zip(names, losses, strict=True)),
            weights=dict(zip(names, weights, strict=True)),
            lr=lr,
        )


def _shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shift of a whole image batch by up to one pixel, zero-filled: (B, C, H, W)."""
    dy, dx = (int(v) for v in torch.randint(-1, 2, (2,), generator=generator))
    shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if dy:
        shifted[:, :, 0 if dy > 0 else -1, :] = 0
    if dx:
        shifted[:, :, :, 0 if dx > 0 else -1] = 0
    return shifted


def _cat(chunks: list[torch.Tensor], width: int) -> np.ndarray:
    if not chunks:
        return np.zeros((0, width), dtype=np.float32)
    return torch.cat(chunks).cpu().numpy()
