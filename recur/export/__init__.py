"""Export of models with recur layers: torch.export and ONNX, with a dynamic time loop.

See :mod:`recur.export.exporters` for the path taken and its limits.

Example::

    model = recur.LSTM(8, 16, num_layers=2, bidirectional=True)
    recur.export.onnx(model, torch.randn(5, 3, 8), "lstm.onnx")     # any (L, N) afterwards
    program = recur.export.torch_export(model, torch.randn(5, 3, 8))
    output, (h, c) = program.module()(torch.randn(40, 7, 8))
"""

from recur.export.exporters import onnx, scan_engine, torch_export

__all__ = ["onnx", "scan_engine", "torch_export"]
