"""torch.export and ONNX export of modules that contain recur layers, with a dynamic time loop.

Every :class:`~recur.layers.base.RecurrentLayer` in the module runs the scan engine
(:mod:`recur.engine.scan`) while it is traced: its time loop becomes one ``higher_order.scan``
node per layer and direction, with the input's length, instead of a fused ``autograd.Function``
(opaque to tracers) or one copy of the step per example step. The ONNX exporter
(``torch.onnx.export(..., dynamo=True)``, torch.export then onnxscript) lowers each scan node to
an ONNX ``Scan`` whose body is the cell's step equations, so one file serves every batch size and
sequence length.

Why this path: the TorchScript exporter (``dynamo=False``) is deprecated and needs the loop
rewritten for ``torch.jit.script``; torch.export's ``scan`` operator traces the cells' own
:meth:`~recur.cells.base.Cell.step` unchanged, and torch 2.13's ONNX exporter lowers it
(``torch/onnx/_internal/exporter/_torchlib/ops/hop.py``). ONNX's own LSTM/GRU/RNN operators are
not used: they cover only torch's three plain cells, while the decomposed step equations in a
``Scan`` serve every cell through one path; the price is onnxruntime speed, as each step runs
as separate small operators rather than one fused kernel.

Dynamic dimensions, unless ``dynamic_shapes`` is given (torch.export's format, used as is):
    sequence (first input)  a RecurrentLayer: (L, N, H_in), or (N, L, H_in) with batch_first;
                            any other module: batch first, (N, L, ...) (recur's models)
    later inputs            1-D of size N: dim 0 is the batch (lengths); 3-D with dim 1 of
                            size N: dim 1 is the batch (a state (num_layers*D, N, S)); else static
The example must have N >= 2 and L >= 2 on the dynamic dimensions: torch.export specialises a
dimension of size 1 to the constant 1 (a ValueError says so).

Limits:
    - PackedSequence inputs cannot be traced (their batch sizes are data) and are a ValueError;
      pass the padded tensor and ``lengths``, which export as ordinary inputs.
    - Value checks of eager calls (token ids in range, lengths in 1..L) are skipped in the
      traced graph: an exported model trusts its inputs.
    - Python loops outside the layers (e.g. step-by-step decoding in generation) are traced as
      they run on the example, i.e. unrolled; export the per-step module instead.
    - The module is traced in eval mode (dropout off) and restored to its mode afterwards, with
      torch.export's default non-strict tracing.
    - float32 agreement with PyTorch is about 1e-7 (1e-6 for LayerNormLSTM, whose normalisation
      amplifies rounding over long sequences in eager PyTorch and ONNX alike).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from recur.layers.base import RecurrentLayer


@contextlib.contextmanager
def scan_engine(module: nn.Module) -> Iterator[nn.Module]:
    """Run every RecurrentLayer in ``module`` on ``impl="scan"`` inside the block, then restore.

    Example::

        with recur.export.scan_engine(model):
            program = torch.export.export(model, (x,), dynamic_shapes=...)
    """
    layers = [m for m in module.modules() if isinstance(m, RecurrentLayer)]
    saved = [layer.impl for layer in layers]
    try:
        for layer in layers:
            layer.impl = "scan"
        yield module
    finally:
        for layer, impl in zip(layers, saved):
            layer.impl = impl


@contextlib.contextmanager
def _traceable(module: nn.Module) -> Iterator[None]:
    """Eval mode and the scan engine for the duration of a trace."""
    training = module.training
    module.eval()
    try:
        with scan_engine(module):
            yield
    finally:
        module.train(training)


def torch_export(
    model: nn.Module,
    example_inputs,
    *,
    dynamic_batch: bool = True,
    dynamic_length: bool = True,
    dynamic_shapes=None,
) -> torch.export.ExportedProgram:
    """``torch.export.export`` of ``model`` with its recur layers' time loops as scan operators.

    Arguments:
        model: an nn.Module containing recur layers (a layer itself, or e.g. SequenceClassifier).
        example_inputs: a Tensor or a tuple of the forward's positional arguments (Tensors, or
            tuples of Tensors for a state).
        dynamic_batch, dynamic_length: mark N and L dynamic (see the module docstring).
        dynamic_shapes: torch.export's own specification instead of the two flags.
    Returns:
        the ExportedProgram; ``program.module()(*inputs)`` runs it at any N and L.

    Example::

        program = recur.export.torch_export(recur.GRU(8, 16, bidirectional=True), x)
        output, h = program.module()(torch.randn(40, 3, 8))
    """
    _check_model(model)
    args = _check_example(example_inputs)
    shapes = _dynamic_shapes(model, args, dynamic_batch, dynamic_length, dynamic_shapes)
    with _traceable(model), torch.no_grad():
        return torch.export.export(model, args, dynamic_shapes=shapes)


def onnx(
    model: nn.Module,
    example_inputs,
    path,
    *,
    dynamic_batch: bool = True,
    dynamic_length: bool = True,
    opset: int | None = None,
    dynamic_shapes=None,
):
    """Write ``model`` to the ONNX file ``path``; each recur time loop becomes an ONNX ``Scan``.

    Arguments: as :func:`torch_export`, plus ``path`` (its directory must exist) and ``opset``
    (the ONNX opset version, >= 18; None: the exporter's default). A RecurrentLayer's outputs are
    named "output" and its state names ("h", "c"); other modules keep the exporter's names.
    Returns the ``torch.onnx.ONNXProgram``. Needs the ``onnxscript`` package
    (``pip install 'recur[export]'``).

    Example::

        recur.export.onnx(model, ids, "model.onnx")
        session = onnxruntime.InferenceSession("model.onnx")
        logits = session.run(None, {"inputs": ids.numpy()})[0]
    """
    _check_model(model)
    args = _check_example(example_inputs)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f"path: expected a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ValueError(f"path: directory {directory!r} does not exist (given {path!r})")
    if os.path.isdir(path):
        raise ValueError(f"path: expected a file name, got the directory {path!r}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 18):
        raise ValueError(f"opset: expected None or an int >= 18, got {opset!r}")
    try:
        import onnxscript  # noqa: F401  (torch.onnx's dynamo exporter builds on it)
    except ImportError as error:
        raise ImportError(
            "recur.export.onnx needs the onnxscript and onnx packages: pip install 'recur[export]'"
        ) from error
    shapes = _dynamic_shapes(model, args, dynamic_batch, dynamic_length, dynamic_shapes)
    names = None
    if isinstance(model, RecurrentLayer):
        names = ["output", *model.cells[0].state_names]
    with _traceable(model), torch.no_grad(), warnings.catch_warnings():
        # Notices from inside torch's exporter with nothing for the caller to act on: a pytree
        # deprecation, and a note that one Dim used by two inputs keeps one name.
        warnings.filterwarnings("ignore", message=".*LeafSpec.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message="# The axis name: .* will not be used")
        return torch.onnx.export(
            model,
            args,
            path,
            dynamo=True,
            dynamic_shapes=shapes,
            opset_version=opset,
            output_names=names,
            verbose=False,
        )


# ---------------------------------------------------------------------------- checks and shapes
def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: expected a torch.nn.Module, got {type(model).__name__}")


def _check_example(example_inputs) -> tuple:
    """The example as a tuple of positional arguments: Tensors or tuples of Tensors."""
    single = not isinstance(example_inputs, tuple) or isinstance(example_inputs, PackedSequence)
    args = (example_inputs,) if single else example_inputs
    if not args:
        raise ValueError("example_inputs: expected at least one Tensor, got an empty tuple")
    for index, arg in enumerate(args):
        label = f"example_inputs[{index}]"
        if isinstance(arg, PackedSequence):
            raise ValueError(
                f"{label}: a PackedSequence cannot be exported (its batch sizes are data); "
                "pass the padded Tensor and its lengths as inputs instead"
            )
        leaves = arg if isinstance(arg, tuple) else (arg,)
        for leaf in leaves:
            if not isinstance(leaf, Tensor):
                raise ValueError(
                    f"{label}: expected a Tensor or a tuple of Tensors, got {type(leaf).__name__}"
                )
    if not isinstance(args[0], Tensor) or args[0].dim() < 2:
        got = f"shape {tuple(args[0].shape)}" if isinstance(args[0], Tensor) else "a tuple"
        raise ValueError(
            f"example_inputs[0]: expected the sequence Tensor (at least 2-D) first, got {got}"
        )
    return args


def _dynamic_shapes(model, args: tuple, dynamic_batch, dynamic_length, given):
    """torch.export's dynamic_shapes for ``args`` (see the module docstring)."""
    if given is not None:
        return given
    x = args[0]
    if isinstance(model, RecurrentLayer):
        if x.dim() == 2:  # unbatched (L, H_in)
            batch_dim, time_dim = None, 0
        else:
            batch_dim, time_dim = (0, 1) if model.batch_first else (1, 0)
    else:
        batch_dim, time_dim = 0, 1
    batch = torch.export.Dim("batch") if dynamic_batch and batch_dim is not None else None
    length = torch.export.Dim("length") if dynamic_length else None
    for dim, symbol, name in ((batch_dim, batch, "batch"), (time_dim, length, "length")):
        if symbol is not None and x.shape[dim] < 2:
            raise ValueError(
                f"example_inputs[0]: a dynamic {name} needs an example of at least 2 on dim {dim} "
                f"(torch.export fixes a size-1 dimension to 1), got shape {tuple(x.shape)}; "
                f"or pass dynamic_{name}=False"
            )
    first = {d: s for d, s in ((batch_dim, batch), (time_dim, length)) if s is not None}
    size = None if batch_dim is None else x.shape[batch_dim]

    def rest(t: Tensor):
        if batch is None:
            return None
        if t.dim() == 1 and t.shape[0] == size:
            return {0: batch}
        if t.dim() == 3 and t.shape[1] == size:
            return {1: batch}
        return None

    shapes = [first or None]
    for arg in args[1:]:
        shapes.append(tuple(rest(t) for t in arg) if isinstance(arg, tuple) else rest(arg))
    return tuple(shapes)
