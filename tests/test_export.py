"""recur.export: ONNX files and torch.export programs equal eager PyTorch at other shapes.

Every export uses one (batch, length) example and is then run at different ones: equality there
shows the time loop is a real ONNX Scan / scan operator and not unrolled to the example's length.
Layers are exported in bundles (one file holding several layers) to keep the exporter's fixed
cost per file down.
"""

import os

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import recur
import recur.export
from recur.cells.clockwork import ClockworkCell
from recur.models import LanguageModel, SequenceClassifier

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

ATOL = 1e-5
EXAMPLE = (3, 5)  # (batch, length) of every export's example
OTHER_SHAPES = [(2, 11), (6, 1)]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Bundle(nn.Module):
    """Several batch-first layers reading the same (N, L, 4) input; every output and state."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x):
        results = []
        for layer in self.layers:
            output, state = layer(x)
            results += [output, *(state if isinstance(state, tuple) else (state,))]
        return tuple(results)


def bundle_rnn_gru():
    return Bundle(
        [
            recur.ElmanRNN(4, 6, num_layers=2, batch_first=True),
            recur.ElmanRNN(4, 6, nonlinearity="relu", batch_first=True),
            recur.GRU(4, 6, bidirectional=True, batch_first=True),
            recur.GRU(4, 6, reset_after=False, batch_first=True),
            recur.ClockworkRNN(4, 6, periods=(1, 2, 4), bidirectional=True, batch_first=True),
        ]
    )


def bundle_lstm_family():
    return Bundle(
        [
            recur.LSTM(4, 6, proj_size=3, bidirectional=True, batch_first=True),
            recur.PeepholeLSTM(4, 6, batch_first=True),
            recur.CIFGLSTM(4, 6, num_layers=2, batch_first=True),
            recur.LayerNormLSTM(4, 6, bidirectional=True, batch_first=True),
        ]
    )


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def max_difference(onnx_outputs, torch_outputs) -> float:
    assert len(onnx_outputs) == len(torch_outputs)
    return max(float(abs(a - b.numpy()).max()) for a, b in zip(onnx_outputs, torch_outputs))


def flat(outputs):
    """A forward's result as a flat tuple of tensors: (output, state) or (output, (h, c))."""
    if isinstance(outputs, torch.Tensor):
        return (outputs,)
    return tuple(t for o in outputs for t in flat(o))


@pytest.mark.parametrize("make", [bundle_rnn_gru, bundle_lstm_family])
def test_every_cell_exports_to_an_onnx_scan_equal_to_torch(make, tmp_path):
    torch.manual_seed(0)
    model = make()
    path = tmp_path / "bundle.onnx"
    recur.export.onnx(model, torch.randn(*EXAMPLE, 4), path)

    scans = sum(layer.num_layers * layer.num_directions for layer in model.layers)
    graph = onnx.load(str(path)).graph
    assert [node.op_type for node in graph.node].count("Scan") == scans
    run = session(path)
    for batch, length in OTHER_SHAPES:
        x = torch.randn(batch, length, 4)
        with torch.no_grad():
            expected = model(x)
        assert max_difference(run.run(None, {"x": x.numpy()}), expected) <= ATOL


def test_time_major_layer_with_initial_state_names_its_inputs_and_outputs(tmp_path):
    torch.manual_seed(0)
    lstm = recur.LSTM(4, 6)
    batch, length = EXAMPLE
    state = (torch.randn(1, batch, 6), torch.randn(1, batch, 6))
    path = tmp_path / "lstm.onnx"
    recur.export.onnx(lstm, (torch.randn(length, batch, 4), state), path)

    run = session(path)
    assert [i.name for i in run.get_inputs()] == ["input", "state_0", "state_1"]
    assert [o.name for o in run.get_outputs()] == ["output", "h", "c"]
    assert run.get_inputs()[0].shape == ["length", "batch", 4]
    for batch, length in OTHER_SHAPES:
        x = torch.randn(length, batch, 4)
        h0, c0 = torch.randn(1, batch, 6), torch.randn(1, batch, 6)
        with torch.no_grad():
            expected = flat(lstm(x, (h0, c0)))
        got = run.run(None, {"input": x.numpy(), "state_0": h0.numpy(), "state_1": c0.numpy()})
        assert max_difference(got, expected) <= ATOL


def test_classifier_with_embedding_and_lengths_exports_end_to_end(tmp_path):
    torch.manual_seed(0)
    model = SequenceClassifier(
        3, vocab_size=20, embedding_dim=5, cell="gru", hidden_size=6, bidirectional=True
    )
    ids, lengths = torch.randint(0, 20, EXAMPLE), torch.tensor([5, 2, 4])
    path = tmp_path / "classifier.onnx"
    recur.export.onnx(model, (ids, lengths), path)

    run = session(path)
    assert model.training, "export restores the module's mode"
    model.eval()
    for batch, length in OTHER_SHAPES:
        ids = torch.randint(0, 20, (batch, length))
        lengths = torch.randint(1, length + 1, (batch,))
        with torch.no_grad():
            expected = (model(ids, lengths),)
        got = run.run(None, {"inputs": ids.numpy(), "lengths": lengths.numpy()})
        assert max_difference(got, expected) <= ATOL


def test_torch_export_of_a_language_model_with_state_equals_eager():
    torch.manual_seed(0)
    model = LanguageModel(20, cell="lstm", hidden_size=6, num_layers=2).eval()
    batch, length = EXAMPLE
    state = (torch.randn(2, batch, 6), torch.randn(2, batch, 6))
    program = recur.export.torch_export(model, (torch.randint(0, 20, EXAMPLE), state))

    targets = [node.target for node in program.graph.nodes]
    assert targets.count(torch.ops.higher_order.scan) == 2
    for batch, length in OTHER_SHAPES:
        ids = torch.randint(0, 20, (batch, length))
        state = (torch.randn(2, batch, 6), torch.randn(2, batch, 6))
        with torch.no_grad():
            expected, got = flat(model(ids, state)), flat(program.module()(ids, state))
        for e, g in zip(expected, got):
            torch.testing.assert_close(g, e, atol=ATOL, rtol=0)


def test_scan_engine_switches_layers_and_restores_them():
    model = Bundle([recur.GRU(4, 6, impl="reference"), recur.LSTM(4, 6)])
    with pytest.raises(RuntimeError), recur.export.scan_engine(model):
        assert [layer.impl for layer in model.layers] == ["scan", "scan"]
        raise RuntimeError
    assert [layer.impl for layer in model.layers] == ["reference", "fused"]


def test_clockwork_schedule_from_a_tensor_step_matches_the_int_one():
    cell = ClockworkCell(3, 6, periods=(1, 2, 3))
    for t in range(7):
        assert torch.equal(cell.active_mask(torch.tensor(t), "cpu"), cell.active_mask(t, "cpu"))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, x, d: recur.export.onnx(m, x, os.path.join(d, "missing", "m.onnx")), "path:"),
        (lambda m, x, d: recur.export.onnx(m, x, d), "path:"),
        (lambda m, x, d: recur.export.onnx(m, x, 7), "path:"),
        (lambda m, x, d: recur.export.onnx(m, x, os.path.join(d, "m.onnx"), opset=9), "opset:"),
        (lambda m, x, d: recur.export.onnx(m, x.tolist(), os.path.join(d, "m")), "example_inputs"),
        (lambda m, x, d: recur.export.torch_export(m, ()), "example_inputs:"),
        (lambda m, x, d: recur.export.torch_export(m, (x, None)), r"example_inputs\[1\]"),
        (lambda m, x, d: recur.export.torch_export(m, x[:1]), r"example_inputs\[0\].*batch"),
        (lambda m, x, d: recur.export.torch_export(m, x[:, :1]), r"example_inputs\[0\].*length"),
        (lambda m, x, d: recur.export.torch_export(lambda t: t, x), "model:"),
        (
            lambda m, x, d: recur.export.torch_export(
                m, pack_padded_sequence(x, [5, 3, 2], batch_first=True)
            ),
            "PackedSequence",
        ),
    ],
)
def test_bad_arguments_raise_value_errors_naming_the_argument(call, message, tmp_path):
    layer = recur.GRU(4, 6, batch_first=True)
    with pytest.raises(ValueError, match=message):
        call(layer, torch.randn(*EXAMPLE, 4), str(tmp_path))
