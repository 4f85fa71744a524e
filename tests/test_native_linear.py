"""The native input projection (csrc/linear.cpp, recur/engine/native/linear.py).

Held to torch.nn.functional.linear in float32 (output and every gradient; the products round
differently, so to float32 tolerance), and the rule that picks it: only where the native engine
runs the layer, in float32 on the CPU, and never while something traces.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import recur
from recur.engine import native
from recur.engine.native import linear as native_linear_module
from recur.engine.native.linear import input_linear, layer_norm_linear, native_linear

pytestmark = pytest.mark.skipif(not native.load(), reason="the native engine did not build")


@pytest.mark.parametrize(
    ("shape", "out", "bias"),
    [((7, 3, 5), 12, True), ((130, 64), 256, True), ((3, 2, 300), 40, False), ((0, 4), 8, True)],
)
def test_matches_torch_linear(shape, out, bias):
    torch.manual_seed(0)
    x = torch.randn(*shape, requires_grad=True)
    w = torch.randn(out, shape[-1], requires_grad=True)
    b = torch.randn(out, requires_grad=True) if bias else None
    inputs = [t for t in (x, w, b) if t is not None]
    y, expected = native_linear(x, w, b), F.linear(x, w, b)
    torch.testing.assert_close(y, expected, rtol=1e-5, atol=1e-5)
    dy = torch.randn_like(expected)
    for got, want in zip(
        torch.autograd.grad(y, inputs, dy), torch.autograd.grad(expected, inputs, dy)
    ):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_only_inputs_that_need_it_get_gradients():
    x = torch.randn(4, 3)
    w = torch.randn(5, 3, requires_grad=True)
    (dw,) = torch.autograd.grad(native_linear(x, w).sum(), [w])
    torch.testing.assert_close(dw, torch.ones(5, 4) @ x)


def test_rejects_other_dtypes_by_name():
    with pytest.raises(RuntimeError, match="x must be a float32 CPU tensor, got Double"):
        torch.ops.recur_native.linear_forward(
            torch.randn(2, 3, dtype=torch.float64), torch.randn(4, 3), None, None, 0.0
        )
    with pytest.raises(RuntimeError, match=r"x \(\.\.\., 3\) expected"):
        torch.ops.recur_native.linear_forward(torch.randn(2, 4), torch.randn(4, 3), None, None, 0.0)


def test_chosen_only_where_the_native_engine_runs(monkeypatch):
    x32, x64 = torch.randn(2, 3), torch.randn(2, 3, dtype=torch.float64)
    assert input_linear("fused", x32) is native_linear
    assert input_linear("native", x32) is native_linear
    for impl, x in [("reference", x32), ("python", x32), ("scan", x32), ("fused", x64)]:
        assert input_linear(impl, x) is F.linear
    monkeypatch.setattr(native_linear_module, "tracing", lambda: True)
    assert input_linear("fused", x32) is F.linear


def test_a_native_layer_projects_with_it(monkeypatch):
    calls = []

    def spy(x, weight, bias=None):
        calls.append(tuple(x.shape))
        return native_linear(x, weight, bias)

    monkeypatch.setattr("recur.layers.base.input_linear", lambda impl, x: spy)
    recur.GRU(3, 4, num_layers=2)(torch.randn(5, 2, 3))
    assert calls == [(5, 2, 3), (5, 2, 4)]


@pytest.mark.parametrize("beta", [True, False])
def test_layer_norm_linear_matches_torch(beta):
    """LN(x Wᵀ; γ, β): one fused pass without autograd, the composed ops with it; both as torch."""
    torch.manual_seed(0)
    x, w = torch.randn(5, 7, 16), torch.randn(48, 16)
    gamma, b = torch.rand(48) + 0.5, torch.randn(48) if beta else None
    expected = F.layer_norm(F.linear(x, w), (48,), gamma, b, 1e-5)
    with torch.no_grad():
        torch.testing.assert_close(layer_norm_linear(x, w, gamma, b, 1e-5), expected)
    w.requires_grad_(True)
    y = layer_norm_linear(x, w, gamma, b, 1e-5)
    assert y.grad_fn is not None
    torch.testing.assert_close(y, F.layer_norm(F.linear(x, w), (48,), gamma, b, 1e-5))


def test_norm_weight_of_the_wrong_size_is_named():
    with pytest.raises(RuntimeError, match=r"norm_weight \(4\) expected"):
        torch.ops.recur_native.linear_forward(
            torch.randn(2, 3), torch.randn(4, 3), None, torch.ones(5), 1e-5
        )
