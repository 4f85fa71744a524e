"""Training: one loop for every task, with checkpoints, schedules, progress, plots and DDP."""

from recur.train.checkpoint import CheckpointError, atomic_write, load_tensors, save_tensors
from recur.train.config import LoopConfig, OptimConfig
from recur.train.distributed import Dist, init_from_env
from recur.train.lm_task import LanguageModelTask
from recur.train.run import RunDir
from recur.train.schedule import LRSchedule, make_optimizer
from recur.train.task import Task
from recur.train.trainer import Trainer, TrainingDiverged

__all__ = [
    "CheckpointError",
    "Dist",
    "LRSchedule",
    "LanguageModelTask",
    "LoopConfig",
    "OptimConfig",
    "RunDir",
    "Task",
    "Trainer",
    "TrainingDiverged",
    "atomic_write",
    "init_from_env",
    "load_tensors",
    "make_optimizer",
    "save_tensors",
]
