"""Language modelling as a :class:`recur.train.task.Task`: truncated BPTT over contiguous rows.

Each split is cut into ``batch_size`` contiguous rows (Zaremba et al. 2014) read side by side in
windows of ``bptt`` tokens; the hidden state is carried from one window to the next, detached so
that gradients stop at the window's start, and reset to zero at each epoch. With W processes,
process r reads rows [r*N/W, (r+1)*N/W) of the same batch, so the W shards together are exactly
the single-process batch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from recur.data.text import batchify, num_windows, windows
from recur.state import detach_state
from recur.train.distributed import Dist
from recur.train.metrics import LOG2E, bits, perplexity


class LanguageModelTask:
    """Next-token prediction on token-id splits ("train", "valid", optionally "test").

    Arguments:
        splits: 1-D int64 ids per split name.
        batch_size: rows of the global batch, a multiple of the number of processes.
        bptt: tokens per truncated-BPTT window.
        level: "char" (metrics in bits per character, "bpc") or "word" ("bits_per_word").
        dist: this process's place among the data-parallel processes.
    """

    loss_scale = LOG2E

    def __init__(
        self,
        splits: dict[str, Tensor],
        batch_size: int,
        bptt: int,
        level: str,
        dist: Dist | None = None,
    ):
        dist = dist or Dist()
        if batch_size % dist.world:
            raise ValueError(
                f"batch_size: expected a multiple of the number of processes ({dist.world}), "
                f"got {batch_size}"
            )
        need = batch_size * (bptt + 1)
        if splits["train"].numel() < need:
            raise ValueError(
                f"data: the training split has {splits['train'].numel()} tokens, fewer than one "
                f"batch (batch_size {batch_size} x (bptt {bptt} + 1) = {need}); use a longer text "
                "or a smaller --batch-size / --bptt"
            )
        self.batch_size, self.bptt, self.dist = batch_size, bptt, dist
        self.bits_key = "bpc" if level == "char" else "bits_per_word"
        self.loss_unit = "bpc" if level == "char" else "bits/word"
        self.splits = splits
        self.train_rows = self._shard(splits["train"])
        self.check_split("valid")
        self.epoch, self.window, self.carry = 0, 0, None

    def _shard(self, ids: Tensor) -> Tensor:
        rows = batchify(ids, self.batch_size)
        per = self.batch_size // self.dist.world
        return rows[self.dist.rank * per : (self.dist.rank + 1) * per]

    def check_split(self, split: str) -> None:
        """Raise ValueError unless ``split`` has at least two tokens per row of the batch."""
        n = self.splits[split].numel() if split in self.splits else 0
        if n < 2 * self.batch_size:
            raise ValueError(
                f"data: the {split} split has {n} tokens, fewer than 2 per row of the batch "
                f"(batch_size {self.batch_size}); use a longer text or a larger {split} fraction"
            )

    # ------------------------------------------------------------------ training
    @property
    def steps_per_epoch(self) -> int:
        """Windows in one pass over this process's rows of the training split."""
        return num_windows(self.train_rows, self.bptt)

    def train_batch(self) -> tuple[Tensor, Tensor]:
        if self.window >= self.steps_per_epoch:
            self.epoch, self.window, self.carry = self.epoch + 1, 0, None
        pos = self.window * self.bptt
        chunk = self.train_rows[:, pos : pos + self.bptt + 1]
        self.window += 1
        return chunk[:, :-1], chunk[:, 1:]

    def loss(self, model: nn.Module, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, int]:
        inputs, targets = batch
        logits, state = model(inputs, self.carry)
        self.carry = detach_state(state)  # truncated BPTT: keep the values, cut the graph
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        return loss, targets.numel()

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        self.check_split(split)
        total, count = stream_loss(model, self._shard(self.splits[split]), self.bptt)
        total, count = self.dist.sum([total, count])
        return self.metrics(total / count, int(count))

    def metrics(self, loss: float, count: int) -> dict[str, float]:
        return {
            "loss": loss,
            self.bits_key: bits(loss),
            "perplexity": perplexity(loss),
            "count": count,
        }

    # ------------------------------------------------------------------ resume
    def state_dict(self) -> dict[str, Any]:
        carry = self.carry
        if carry is not None:  # every process's rows, so that the saved state is whole
            carry = (
                self.dist.gather(carry, dim=1)
                if isinstance(carry, Tensor)
                else tuple(self.dist.gather(s, dim=1) for s in carry)
            )
        return {"epoch": self.epoch, "window": self.window, "carry": carry}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        per = self.batch_size // self.dist.world
        rows = slice(self.dist.rank * per, (self.dist.rank + 1) * per)
        carry = state["carry"]
        if carry is not None:
            carry = (
                carry[:, rows] if isinstance(carry, Tensor) else tuple(s[:, rows] for s in carry)
            )
        self.epoch, self.window, self.carry = state["epoch"], state["window"], carry


@torch.no_grad()
def stream_loss(model: nn.Module, rows: Tensor, bptt: int) -> tuple[float, int]:
    """Summed cross-entropy (nats) and token count of ``rows`` (N, L) read window by window,
    the state carried across windows; the model is in eval mode meanwhile."""
    training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for inputs, targets in windows(rows, bptt):
            logits, state = model(inputs, state)
            flat = logits.reshape(-1, logits.shape[-1])
            total += float(F.cross_entropy(flat, targets.reshape(-1), reduction="sum"))
            count += targets.numel()
    finally:
        model.train(training)
    return total, count
