"""The native engine: selection, fallback, engine_info, and the paths the cell files do not reach.

Each cell's test file already holds the native engine (the default "fused" where it builds) to
the reference in float64 (outputs and every gradient, via layer_checks), to gradcheck, and to
torch.nn in float32. Here: batches large enough to split across threads, inference equal to
training, the cache key, and what happens when the library cannot be built.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from layer_checks import as_layer_state, flat_outputs, make_inputs, weighted_loss

import recur
from recur.cells.lstm import LSTMCell
from recur.engine import engine_info, get_engine, native
from recur.engine.native import build
from recur.layers.registry import LAYERS

DOUBLE = torch.float64
needs_native = pytest.mark.skipif(not native.load(), reason="the native engine did not build")

# Every cell and option the kernels branch on.
CELLS = [
    ("lstm", {}),
    ("lstm", {"proj_size": 3}),
    ("peephole", {}),
    ("cifg", {}),
    ("lnlstm", {}),
    ("gru", {}),
    ("gru", {"reset_after": False}),
    ("rnn", {}),
    ("rnn", {"nonlinearity": "relu"}),
    ("clockwork", {"periods": (1, 3, 4)}),
]
IDS = [f"{name}{''.join(f'-{v}' for v in kw.values())}" for name, kw in CELLS]


@pytest.fixture
def broken_build(monkeypatch, tmp_path):
    """A fresh loader state whose compiler fails, as on a machine without one."""

    def no_compiler(directory):
        raise OSError("simulated: no C++ compiler")

    monkeypatch.setattr(build, "_status", build.Status())
    monkeypatch.setattr(build, "build_directory", lambda: tmp_path / "recur_native_test")
    monkeypatch.setattr(build, "_compile", no_compiler)


@needs_native
def test_engine_info_reports_the_native_engine():
    info = engine_info()
    assert info["fused"] == "native" and info["native_available"]
    assert info["reason"] == "built and loaded"
    assert info["library"].endswith(".so")
    assert "LSTMCell" in info["native_cells"] and "ClockworkCell" in info["native_cells"]
    assert "-O3" in info["compile_flags"]
    assert info["threads"] == torch.get_num_threads()


@needs_native
def test_fused_runs_native(monkeypatch):
    calls = []
    run_native = native.run_native

    def spy(*args, **kwargs):
        calls.append(type(args[0]).__name__)
        return run_native(*args, **kwargs)

    monkeypatch.setattr("recur.engine.run_native", spy)
    recur.GRU(3, 4, num_layers=2)(torch.randn(5, 2, 3))
    assert calls == ["GRUCell", "GRUCell"]


@needs_native
@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=IDS)
def test_split_batch_matches_reference(name, kwargs):
    """A batch large enough to run in slices on every thread, padded: native == reference."""
    torch.manual_seed(0)
    native_layer = LAYERS[name](5, 48, dtype=DOUBLE, impl="native", **kwargs)
    reference = copy.deepcopy(native_layer)
    reference.impl = "reference"
    x, state = make_inputs(native_layer, batch=32, steps=24)
    lengths = [24 - (i % 24) for i in range(32)]
    results = []
    for layer in (native_layer, reference):
        out, final = layer(x, as_layer_state(state), lengths=lengths)
        outputs = flat_outputs(out, final)
        inputs = [x, *state, *layer.parameters()]
        results.append((outputs, torch.autograd.grad(weighted_loss(outputs), inputs)))
    for a, b in zip(*(outputs + grads for outputs, grads in results)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-8)


@needs_native
@pytest.mark.parametrize(("name", "kwargs"), CELLS, ids=IDS)
@pytest.mark.parametrize("lengths", [None, [7, 4, 1]])
def test_inference_equals_training_forward(name, kwargs, lengths):
    """Without autograd the kernels keep only two steps of state: same numbers, bit for bit.

    Except the layer-normalised LSTM's input side, which inference forms in one fused pass
    (native layer_norm_linear) whose sums round differently from torch's layer_norm.
    """
    torch.manual_seed(0)
    layer = LAYERS[name](3, 12, num_layers=2, impl="native", **kwargs)
    x = torch.randn(7, 3, 3, requires_grad=True)
    trained = flat_outputs(*layer(x, lengths=lengths))
    with torch.no_grad():
        inferred = flat_outputs(*layer(x, lengths=lengths))
    for a, b in zip(trained, inferred):
        if name == "lnlstm":
            torch.testing.assert_close(a.detach(), b, rtol=1e-5, atol=1e-6)
        else:
            assert torch.equal(a, b)


@needs_native
def test_backward_twice_with_retained_graph():
    torch.manual_seed(0)
    lstm = recur.LSTM(3, 4, impl="native")
    out, _ = lstm(torch.randn(5, 2, 3))
    loss = weighted_loss((out,))
    loss.backward(retain_graph=True)
    first = lstm.weight_hh_l0.grad.clone()
    loss.backward()
    torch.testing.assert_close(lstm.weight_hh_l0.grad, 2 * first)


@needs_native
def test_in_place_change_of_saved_output_is_caught():
    lstm = recur.LSTM(3, 4, impl="native")
    out, _ = lstm(torch.randn(5, 2, 3))
    out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@needs_native
def test_forced_native_rejects_what_it_cannot_run():
    class Tweaked(LSTMCell):  # a subclass may change the math: no kernel
        pass

    class TweakedLSTM(recur.LSTM):
        def make_cell(self, input_size):
            return Tweaked(input_size, self.hidden_size)

    x = torch.randn(4, 2, 3)
    with pytest.raises(ValueError, match="no native kernel for Tweaked"):
        TweakedLSTM(3, 4, impl="native")(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unsupported cell falls back without a word
        TweakedLSTM(3, 4)(x)
    with pytest.raises(ValueError, match="float32 and float64"):
        recur.GRU(3, 4, impl="native", dtype=torch.bfloat16)(x.bfloat16())


def test_failed_build_falls_back_to_python_once(broken_build):
    torch.manual_seed(0)
    gru = recur.GRU(3, 4, num_layers=2, bidirectional=True)
    python = copy.deepcopy(gru)
    python.impl = "python"
    x = torch.randn(6, 2, 3)
    with pytest.warns(RuntimeWarning, match="native engine is unavailable .*no C\\+\\+ compiler"):
        out, h = gru(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once per process
        again, _ = gru(x)
    expected, expected_h = python(x)
    assert torch.equal(out, expected) and torch.equal(h, expected_h)
    assert torch.equal(again, expected)
    info = engine_info()
    assert info["fused"] == "python" and not info["native_available"]
    assert "no C++ compiler" in info["reason"]
    with pytest.raises(RuntimeError, match="impl='native': the native engine is unavailable"):
        recur.GRU(3, 4, impl="native")(x)


def test_without_a_compiler_a_fresh_process_falls_back(tmp_path):
    """End to end: CXX names no compiler, the cache is empty; fused == python, one warning."""
    script = textwrap.dedent(
        """
        import warnings, torch, recur
        gru = recur.GRU(3, 4)
        python = recur.GRU(3, 4, impl="python")
        python.load_state_dict(gru.state_dict())
        x = torch.randn(5, 2, 3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            same = all(torch.equal(gru(x)[0], python(x)[0]) for _ in range(2))
        print(same, len(caught), recur.engine.engine_info()["fused"])
        """
    )
    env = dict(
        os.environ, CXX=str(tmp_path / "no-such-compiler"), TORCH_EXTENSIONS_DIR=str(tmp_path)
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1", "python"]


def test_other_devices_fall_back_with_one_warning(monkeypatch):
    monkeypatch.setattr(build, "_status", build.Status())
    lstm = recur.LSTM(3, 4, device="meta")
    with pytest.warns(RuntimeWarning, match="CPU only; meta tensors use the Python fused engine"):
        out, _ = lstm(torch.empty(5, 2, 3, device="meta"))
    assert out.shape == (5, 2, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lstm(torch.empty(5, 2, 3, device="meta"))


def test_engine_names():
    assert {"fused", "native", "python", "reference"} <= set(recur.engine.ENGINES)
    with pytest.raises(ValueError, match="impl: expected one of"):
        get_engine("cuda")


def test_build_directory_follows_the_sources(monkeypatch, tmp_path):
    sources = tmp_path / "csrc"
    sources.mkdir()
    (sources / "a.cpp").write_text("int a;")
    monkeypatch.setattr(build, "SOURCES", sources)
    first = build.build_directory()
    assert first == build.build_directory() and first.name.startswith("recur_native_")
    (sources / "a.cpp").write_text("int a = 1;")
    assert build.build_directory() != first
