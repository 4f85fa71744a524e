"""What the trainer needs from a task: batches, a loss, evaluation, and a resumable data cursor.

The training loop (:class:`recur.train.trainer.Trainer`) is the same for every task; a task
(language modelling here; classification, tagging, forecasting, translation later) plugs in by
implementing this protocol. Losses are means in nats; ``count`` says how many items (tokens,
sequences) a batch's mean is over, so that averages over batches and processes weigh each item once.
"""

from __future__ import annotations

from typing import Any, Protocol

from torch import Tensor, nn


class Task(Protocol):
    #: how the loss is shown (progress, plots): ``loss * loss_scale`` in ``loss_unit``
    loss_unit: str
    loss_scale: float
    #: batches in one pass over the training data (what ``LoopConfig.epochs`` counts)
    steps_per_epoch: int

    def train_batch(self) -> Any:
        """The next training batch of this process's shard (advances the cursor)."""

    def loss(self, model: nn.Module, batch: Any) -> tuple[Tensor, int]:
        """The batch's mean loss (a differentiable scalar) and the number of items it covers.

        ``model`` may be wrapped (DistributedDataParallel): call it, do not reach into it.
        """

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        """Metrics over all processes' shards of ``split`` ("valid", "test"); at least "loss"
        (mean nats per item) and "count"."""

    def state_dict(self) -> dict[str, Any]:
        """The data cursor (and any carried state), identical on every process after gathering."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
