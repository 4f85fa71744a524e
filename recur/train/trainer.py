"""The training loop every task shares: budget, schedule, clipping, evaluation, checkpoints, DDP.

One step: learning rate from the schedule -> the task's next batch and mean loss -> backward
(DistributedDataParallel averages gradients across processes) -> clip by value, then by global
norm -> optimiser step. Every ``log_every`` steps a record goes to metrics.jsonl; every
``eval_every`` steps the task evaluates on "valid", the plateau schedule and early stopping look
at the result, and a checkpoint is written. ``loop.epochs`` becomes a step budget (epochs x the
task's steps per epoch). Training stops when the step or time budget is spent
(whichever first) or on early stopping, with a last log record, evaluation and checkpoint; or on
Ctrl-C, after the current step, with a checkpoint only (a resume then continues exactly).

Resuming restores weights, optimiser, RNG, the task's data cursor and these counters, so that a
resumed run reproduces the losses of an uninterrupted one with the same seed.

Example::

    trainer = Trainer(task, model, OptimConfig(lr=1e-3), LoopConfig(max_steps=1000), run=run)
    summary = trainer.fit()   # {"steps", "valid": {...}, "tokens_per_s", "stopped": "max_steps"...}
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from recur.train.checkpoint import flatten, load_tensors, save_tensors, unflatten
from recur.train.config import LoopConfig, OptimConfig
from recur.train.distributed import Dist
from recur.train.plots import plot_losses
from recur.train.progress import Reporter, format_eta, format_rate
from recur.train.run import CHECKPOINT, MODEL, PLOT, RunDir, finite_or_none
from recur.train.schedule import LRSchedule, make_optimizer, set_lr
from recur.train.task import Task

CHECKPOINT_FORMAT = "recur.checkpoint.v1"


class TrainingDiverged(RuntimeError):
    """The training loss became inf or nan; the last checkpoint is left as it was."""


class Trainer:
    """Trains ``model`` on ``task``; only the process with ``dist.main`` writes ``run``.

    Arguments:
        task: batches, loss and evaluation (:class:`recur.train.task.Task`).
        model: the bare module (wrapped in DistributedDataParallel here when ``dist.world > 1``).
        optim, loop: validated configuration sections.
        run: the run directory to write (None: write nothing).
        reporter: progress display (default: silent).
        dist: this process's place among data-parallel processes (default: alone).
        metadata: strings stored in both safetensors files (e.g. the model's arguments).
    """

    def __init__(
        self,
        task: Task,
        model: nn.Module,
        optim: OptimConfig,
        loop: LoopConfig,
        *,
        run: RunDir | None = None,
        reporter: Reporter | None = None,
        dist: Dist | None = None,
        metadata: dict[str, str] | None = None,
    ):
        if loop.epochs is not None:  # a step budget, so that schedules know the horizon
            steps = loop.epochs * task.steps_per_epoch
            loop = loop.model_copy(update={"max_steps": min(loop.max_steps or steps, steps)})
        self.task, self.model, self.loop, self.optim_config = task, model, loop, optim
        self.dist = dist or Dist()
        self.run = run if self.dist.main else None
        self.reporter = reporter or Reporter()
        self.metadata = dict(metadata or {})
        self.net = DistributedDataParallel(model) if self.dist.world > 1 else model
        self.optimizer = make_optimizer(model, optim)
        self.schedule = LRSchedule(optim)
        self.params = [p for p in model.parameters() if p.requires_grad]
        # counters (all saved in checkpoints)
        self.step = 0
        self.elapsed = 0.0  # wall seconds of training so far, evaluations included
        self.train_time = 0.0  # seconds inside training steps
        self.tokens = 0  # items trained on, all processes
        self.bad_evals = 0
        self.best = math.inf
        self.evaluated_step = -1
        self.last_valid: dict[str, float] = {}
        self.best_valid: dict[str, float] = {}
        # the weights of the best evaluation (CPU copies), kept when loop.keep_best
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.best_step = 0
        # loss sum, items, grad-norm sum, steps, steps whose norm was clipped, since the last log
        self.interval = [0.0, 0, 0.0, 0, 0]
        self.stop_requested = False

    # ------------------------------------------------------------------ the loop
    def fit(self) -> dict:
        """Train until the budget is spent, early stopping or Ctrl-C.

        Returns a summary: steps, elapsed (s), tokens, tokens_per_s (of the training steps), the
        "valid" metrics of the model returned, best_valid_loss, best_step and why it "stopped":
        "max_steps", "max_time", "early stopping" or "interrupted". With ``loop.keep_best`` (the
        default) the model ends with the weights of its best evaluation, as model.safetensors
        holds them (Keras's restore_best_weights); otherwise with the last ones.
        """
        self.net.train()
        previous_handler = self._catch_interrupt()
        self.reporter.start(self._budget_spent(self.elapsed))
        started = time.perf_counter() - self.elapsed
        self._interval_start, self._interval_time = time.perf_counter(), 0.0
        stopped = "max_steps"
        try:
            while True:
                self.elapsed = time.perf_counter() - started
                spent, interrupt = self.dist.max(
                    [self._budget_spent(self.elapsed), float(self.stop_requested)]
                )
                if interrupt:
                    stopped = "interrupted"
                    break
                if spent >= 1:
                    max_steps = self.loop.max_steps
                    stopped = "max_steps" if max_steps and self.step >= max_steps else "max_time"
                    break
                self._train_step(spent)
                if self.step % self.loop.log_every == 0:
                    self._log(spent)
                if self.step % self.loop.eval_every == 0 and self._evaluate(started):
                    stopped = "early stopping"
                    break
            if stopped == "interrupted":  # keep the cadence of logs and evaluations intact
                self.save_checkpoint()
            else:
                if self.interval[3]:
                    self._log(self._budget_spent(time.perf_counter() - started))
                if self.evaluated_step != self.step:
                    self._evaluate(started)
        finally:
            self.reporter.close()
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        if self.run is not None:
            plot_losses(
                self.run.read_metrics(), self.run / PLOT, self.task.loss_unit, self.task.loss_scale
            )
        best = self.best_weights is not None and stopped != "interrupted"
        if best:
            self.model.load_state_dict(self.best_weights)
        return {
            "steps": self.step,
            "elapsed": self.elapsed,
            "tokens": self.tokens,
            "tokens_per_s": self.tokens / self.train_time if self.train_time else 0.0,
            "valid": self.best_valid if best else self.last_valid,
            "best_valid_loss": self.best,
            "best_step": self.best_step,
            "stopped": stopped,
        }

    def _budget_spent(self, elapsed: float) -> float:
        """Fraction of the budget spent: the larger of the step and the time fractions."""
        fractions = [0.0]
        if self.loop.max_steps is not None:
            fractions.append(self.step / self.loop.max_steps)
        if self.loop.max_time is not None:
            fractions.append(elapsed / self.loop.max_time)
        return max(fractions)

    def _train_step(self, spent: float) -> None:
        begin = time.perf_counter()
        # The cosine horizon is the step budget when there is one, so that the same seed gives
        # the same losses whatever the machine's speed; otherwise the time budget.
        progress = self.step / self.loop.max_steps if self.loop.max_steps else spent
        set_lr(self.optimizer, self.schedule.lr(self.step, progress))
        batch = self.task.train_batch()
        loss, count = self.task.loss(self.net, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.optim_config.clip_value is not None:
            nn.utils.clip_grad_value_(self.params, self.optim_config.clip_value)
        if self.optim_config.clip_norm is not None:
            norm = nn.utils.clip_grad_norm_(self.params, self.optim_config.clip_norm)
        else:
            norm = nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None])
        self.optimizer.step()
        self.step += 1
        value = loss.item()
        self.interval[0] += value * count
        self.interval[1] += count
        norm = float(norm)
        self.interval[2] += norm
        self.interval[3] += 1
        clip = self.optim_config.clip_norm
        self.interval[4] += int(clip is not None and norm > clip)
        self.train_time += time.perf_counter() - begin

    def _log(self, spent: float) -> None:
        loss_sum, count = self.dist.sum(self.interval[:2])
        steps = self.interval[3]
        loss = loss_sum / count
        now = time.perf_counter()
        rate = count / max(now - self._interval_start, 1e-9)
        self.tokens += int(count)
        record = {
            "step": self.step,
            "loss": finite_or_none(loss),
            "lr": self.optimizer.param_groups[0]["lr"],
            "grad_norm": finite_or_none(self.interval[2] / steps),  # before clipping
            "clip_rate": self.interval[4] / steps,  # share of the steps whose norm was clipped
            "tokens_per_s": rate,
            "elapsed": self.elapsed,
        }
        self.interval = [0.0, 0, 0.0, 0, 0]
        self._interval_start = now
        if self.run is not None:
            self.run.append_metrics(record)
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"training: the loss became {loss} at step {self.step}; lower --lr or set "
                "--clip-norm (the last checkpoint is unchanged)"
            )
        scale, unit = self.task.loss_scale, self.task.loss_unit
        eta = self.elapsed * (1 - spent) / spent if spent > 0 else math.inf
        status = (
            f"step {self.step} | loss {loss * scale:.3f} {unit} | {format_rate(rate)} tok/s"
            + (f" | ETA {format_eta(eta)}" if math.isfinite(eta) else "")
        )
        self.reporter.update(spent, status)

    def _evaluate(self, started: float) -> bool:
        """Evaluate on "valid", checkpoint, and say whether early stopping ends training."""
        metrics = self.task.evaluate(self.model, "valid")
        self.net.train()
        self.evaluated_step, self.last_valid = self.step, metrics
        self.schedule.observe(metrics["loss"])
        improved = metrics["loss"] < self.best
        self.best = min(self.best, metrics["loss"])
        if improved:
            self.best_valid, self.best_step = metrics, self.step
            if self.loop.keep_best:
                self.best_weights = {
                    k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()
                }
        self.bad_evals = 0 if improved else self.bad_evals + 1
        self.elapsed = time.perf_counter() - started
        if self.run is not None:
            self.run.append_metrics(
                {"step": self.step, **{f"valid_{k}": finite_or_none(v) for k, v in metrics.items()}}
            )
        self.save_checkpoint()
        scale, unit = self.task.loss_scale, self.task.loss_unit
        self.reporter.message(
            f"step {self.step:>6} | valid {metrics['loss'] * scale:.3f} {unit}"
            f" (best {self.best * scale:.3f}) | {self.elapsed:.0f} s"
        )
        self._interval_start = time.perf_counter()  # tokens/s measures training, not evaluation
        patience = self.loop.early_stopping
        return patience is not None and self.bad_evals >= patience

    def _catch_interrupt(self):
        """Ctrl-C asks the loop to stop after the current step (and write a checkpoint)."""
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            self.stop_requested = True

        return signal.signal(signal.SIGINT, request_stop)

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> tuple[dict, dict]:
        """(tensors, skeleton) of everything a resume needs; collective under DDP."""
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        counters = {
            "step": self.step,
            "elapsed": self.elapsed,
            "train_time": self.train_time,
            "tokens": self.tokens,
            "bad_evals": self.bad_evals,
            "best": self.best,
            "evaluated_step": self.evaluated_step,
            "last_valid": self.last_valid,
            "best_valid": self.best_valid,
            "best_step": self.best_step,
            # the partial log interval of all processes, restored on the main one
            "interval": [*self.dist.sum(self.interval[:2]), *self.interval[2:]],
            "schedule": self.schedule.state_dict(),
            "world": self.dist.world,
            "metrics_size": self.run.metrics_size() if self.run is not None else 0,
        }
        skeleton = {
            "optimizer": flatten(self.optimizer.state_dict(), "optimizer", tensors),
            "task": flatten(self.task.state_dict(), "task", tensors),
            "counters": flatten(counters, "counters", tensors),
        }
        tensors["rng"] = self.dist.gather(torch.get_rng_state().unsqueeze(0), dim=0)
        if self.best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
        return tensors, skeleton

    def save_checkpoint(self) -> None:
        """Write checkpoint.safetensors, then model.safetensors (the main process only)."""
        tensors, skeleton = self.state()
        if self.run is None:
            return
        meta = {**self.metadata, "step": str(self.step)}
        save_tensors(
            self.run / CHECKPOINT,
            tensors,
            {**meta, "format": CHECKPOINT_FORMAT, "state": json.dumps(skeleton)},
        )
        # model.safetensors: the best evaluation's weights (keep_best), else the current ones
        prefix = "best." if self.best_weights is not None else "model."
        weights = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
        if prefix == "best.":
            meta["step"] = str(self.best_step)
        save_tensors(self.run / MODEL, weights, {**meta, "format": "recur.model"})

    def load_checkpoint(self, path: str | Path, expect: dict[str, str] | None = None) -> None:
        """Restore the state written by :meth:`save_checkpoint`.

        Raises CheckpointError (a ValueError) for a corrupted file, and ValueError when it was
        written by a different number of processes or its metadata differs from ``expect``;
        nothing is restored then.
        """
        tensors, metadata = load_tensors(path)
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint: {path} is not a recur training checkpoint")
        for key, value in (expect or {}).items():
            if metadata.get(key) != value:
                raise ValueError(
                    f"resume: {key} differs from the run's ({metadata.get(key)} in {path}, "
                    f"{value} now)"
                )
        skeleton = json.loads(metadata["state"])
        counters = unflatten(skeleton["counters"], tensors)
        if counters["world"] != self.dist.world:
            raise ValueError(
                f"resume: the run was trained by {counters['world']} process(es); resume it with "
                f"the same number, not {self.dist.world}"
            )
        weights = {
            k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")
        }
        self.model.load_state_dict(weights)
        self.optimizer.load_state_dict(unflatten(skeleton["optimizer"], tensors))
        self.task.load_state_dict(unflatten(skeleton["task"], tensors))
        torch.set_rng_state(tensors["rng"][self.dist.rank].clone())
        self.schedule.load_state_dict(counters.pop("schedule"))
        self.step, self.elapsed = counters["step"], counters["elapsed"]
        self.train_time, self.tokens = counters["train_time"], counters["tokens"]
        self.bad_evals, self.best = counters["bad_evals"], counters["best"]
        self.evaluated_step, self.last_valid = counters["evaluated_step"], counters["last_valid"]
        self.best_valid = counters.get("best_valid", {})
        self.best_step = counters.get("best_step", 0)
        best = {k.removeprefix("best."): v for k, v in tensors.items() if k.startswith("best.")}
        self.best_weights = best or None
        loss_sum, count, norm_sum, steps, clipped = counters["interval"]
        if not self.dist.main:
            loss_sum, count = 0.0, 0
        self.interval = [loss_sum, int(count), norm_sum, steps, clipped]
        if self.run is not None:
            self.run.truncate_metrics(counters["metrics_size"])
