"""Supervised tasks as :class:`recur.train.task.Task`: shuffled minibatches of in-memory examples.

An epoch is a permutation of the training examples drawn from a generator seeded with
``(seed, epoch)``, cut into global batches of ``batch_size`` (a last partial batch is dropped
unless it is the only one); with W processes, process r takes rows [r*B/W, (r+1)*B/W) of each
global batch. The cursor (epoch, batch) is all a resume needs to continue the same sequence.

What the examples mean is the :class:`Problem`'s: how a list of them becomes a batch, the batch's
loss, and the metrics of a whole split (every process evaluates the whole split, so all agree).

Example::

    task = ExampleTask({"train": train, "valid": valid}, problem, batch_size=32, seed=0)
    trainer = Trainer(task, model, OptimConfig(), LoopConfig(max_steps=500))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from recur.train.distributed import Dist


class Problem(Protocol):
    loss_unit: str  # how the loss is shown, e.g. "nats"
    loss_scale: float

    def collate(self, examples: Sequence[Any]) -> Any:
        """A batch (tensors) of a list of examples."""

    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]:
        """The batch's mean loss and the number of items it averages over."""

    def evaluate(self, model: nn.Module, examples: Sequence[Any]) -> dict[str, float]:
        """Metrics of a split (model in eval mode, no grad): at least "loss" and "count"."""


class ExampleTask:
    """Minibatches of ``splits["train"]``; evaluation of any other split by the problem."""

    def __init__(
        self,
        splits: dict[str, Sequence[Any]],
        problem: Problem,
        batch_size: int,
        seed: int = 0,
        dist: Dist | None = None,
    ):
        self.dist = dist or Dist()
        if batch_size % self.dist.world:
            raise ValueError(
                f"batch_size: expected a multiple of the number of processes ({self.dist.world}), "
                f"got {batch_size}"
            )
        if not splits.get("train"):
            raise ValueError("data: expected at least one training example, got none")
        self.splits, self.problem, self.seed = splits, problem, seed
        self.batch_size = min(batch_size, len(splits["train"]))
        self.batch_size -= self.batch_size % self.dist.world  # whole rows for every process
        if self.batch_size == 0:
            raise ValueError(
                f"data: expected at least one training example per process "
                f"({self.dist.world}), got {len(splits['train'])}"
            )
        self.loss_unit, self.loss_scale = problem.loss_unit, problem.loss_scale
        self.epoch, self.batch = 0, 0
        self._order = self._permutation(0)

    def _permutation(self, epoch: int) -> Tensor:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.splits["train"]), generator=generator)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.splits["train"]) // self.batch_size

    def train_batch(self) -> Any:
        if self.batch >= self.steps_per_epoch:
            self.epoch, self.batch = self.epoch + 1, 0
            self._order = self._permutation(self.epoch)
        start = self.batch * self.batch_size
        per = self.batch_size // self.dist.world
        rows = self._order[start + self.dist.rank * per : start + (self.dist.rank + 1) * per]
        self.batch += 1
        train = self.splits["train"]
        return self.problem.collate([train[int(i)] for i in rows])

    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]:
        return self.problem.loss(model, batch)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        if not self.splits.get(split):
            raise ValueError(
                f"data: expected a non-empty {split} split to evaluate, got {sorted(self.splits)}"
            )
        training = model.training
        model.eval()
        try:
            return self.problem.evaluate(model, self.splits[split])
        finally:
            model.train(training)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
        self._order = self._permutation(self.epoch)


def held_out_name(available, split: str | None = None) -> str:
    """The split a run reports on: ``split`` when it has one, else "test", else "valid"."""
    if split in available:
        return split
    return "test" if "test" in available else "valid"


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items (evaluation batches)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def split_off(items: Sequence[Any], fraction: float, seed: int) -> tuple[list, list]:
    """(rest, held_out): a seeded random ``fraction`` of ``items`` held out (at least one each)."""
    if len(items) < 2:
        raise ValueError(f"data: {len(items)} example(s); at least 2 are needed to hold one out")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(items), generator=generator).tolist()
    n_out = min(len(items) - 1, max(1, round(fraction * len(items))))
    held = sorted(order[:n_out])
    keep = sorted(order[n_out:])
    return [items[i] for i in keep], [items[i] for i in held]
