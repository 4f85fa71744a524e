"""Data-parallel context: which process this is, and the few collectives the trainer needs.

Launched by ``torchrun --nproc-per-node W -m recur train ...``, each process reads RANK and
WORLD_SIZE from its environment and joins a gloo process group (training runs on the CPU; a GPU
device and its nccl backend are not wired in yet). A plain ``recur train`` is the world of one,
where every collective is the identity.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass(frozen=True)
class Dist:
    """This process's rank among ``world`` processes; rank 0 alone writes files."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all processes (float64)."""
        if self.world == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def max(self, values: list[float]) -> list[float]:
        """Element-wise maximum of ``values`` over all processes (float64)."""
        if self.world == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return tensor.tolist()

    def gather(self, tensor: Tensor, dim: int = 0) -> Tensor:
        """Every process's ``tensor`` (equal shapes) concatenated along ``dim`` in rank order."""
        if self.world == 1:
            return tensor
        parts = [torch.empty_like(tensor) for _ in range(self.world)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=dim)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


def init_from_env() -> Dist:
    """Join the process group described by torchrun's environment, or the world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return Dist(rank=dist.get_rank(), world=dist.get_world_size())


def shutdown(context: Dist) -> None:
    if context.world > 1 and dist.is_initialized():
        # Free what may still hold the group (a trainer's DistributedDataParallel kept alive by
        # a reference cycle) while the group exists. Without it, about one two-process run in 16
        # aborted at exit with "terminate called without an active exception" (a C++ thread
        # destroyed still running); with it, none of 24.
        gc.collect()
        dist.destroy_process_group()
