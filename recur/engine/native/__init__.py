"""The native engine: every cell's time loop and hand-derived BPTT in C++ against ATen.

Layered as kernel -> binding -> engine: ``csrc/`` holds the C++ (one file per cell family,
registered as ``torch.ops.recur_native``), :mod:`.build` compiles and loads it on first use,
:mod:`.kernels` maps cell classes to kernels, :mod:`.function` is the engine function with its
``autograd.Function``, and :mod:`.compiled` wraps the kernels as custom operators that
torch.compile traces.
"""

from recur.engine.native.build import load, status
from recur.engine.native.function import run_native, unsupported
from recur.engine.native.kernels import KERNELS, kernel_for

__all__ = ["KERNELS", "kernel_for", "load", "run_native", "status", "unsupported"]
