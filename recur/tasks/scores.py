"""Classification scores from predicted and true class ids: accuracy, macro-F1, confusion."""

from __future__ import annotations

import torch
from torch import Tensor


def confusion_matrix(predicted: Tensor, true: Tensor, num_classes: int) -> Tensor:
    """(K, K) int64 counts: row = true class, column = predicted class."""
    index = true.long() * num_classes + predicted.long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def accuracy(confusion: Tensor) -> float:
    total = int(confusion.sum())
    return float(confusion.diag().sum()) / total if total else 0.0


def macro_f1(confusion: Tensor) -> float:
    """Mean over the classes present (in truth or prediction) of F1 = 2TP / (2TP + FP + FN)."""
    tp = confusion.diag().double()
    fp = confusion.sum(0).double() - tp
    fn = confusion.sum(1).double() - tp
    present = (tp + fp + fn) > 0
    if not present.any():
        return 0.0
    f1 = 2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])
    return float(f1.mean())
