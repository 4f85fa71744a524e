"""ESNLayer: the reservoir as a torch module, fast path == reference path, inside a model."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from recur.reservoir import EchoStateNetwork, ESNLayer, fit_readout


@pytest.fixture(autouse=True, scope="module")
def single_threaded():
    """One torch and one BLAS thread: on a busy 2-core machine their worker threads spin against
    each other, and the small products here run 100x slower with two threads than with one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
    else:
        with threadpool_limits(1):
            yield
    torch.set_num_threads(threads)


def make(**kwargs):
    defaults = dict(connectivity=0.1, spectral_radius=0.9, leak_rate=0.6, bias_scaling=0.1, seed=0)
    return ESNLayer(3, 40, **{**defaults, **kwargs, "dtype": torch.float64})


@pytest.mark.parametrize(
    "activation, dense_limit",
    [("tanh", 1024), ("identity", 1024), ("relu", 1024), ("sigmoid", 1024), ("tanh", 0)],
)
def test_fast_path_equals_reference_path(activation, dense_limit, monkeypatch):
    monkeypatch.setattr("recur.reservoir.layer.DENSE_LIMIT", dense_limit)  # 0: sparse W
    layer = make(activation=activation)
    x = torch.randn(25, 4, 3, dtype=torch.float64)
    hx = torch.randn(1, 4, 40, dtype=torch.float64) * 0.1
    layer.impl = "fast"
    fast, h_fast = layer(x, hx)
    layer.impl = "reference"
    reference, h_reference = layer(x, hx)
    torch.testing.assert_close(fast, reference, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_fast, h_reference, rtol=0, atol=1e-12)
    assert fast.shape == (25, 4, 40) and h_fast.shape == (1, 4, 40)


def test_layouts_batch_first_and_unbatched():
    layer = make()
    x = torch.randn(4, 25, 3, dtype=torch.float64)
    batch_first = make(batch_first=True)
    out_bf, h_bf = batch_first(x)
    out, h = layer(x.transpose(0, 1))
    torch.testing.assert_close(out_bf, out.transpose(0, 1))
    single, h_single = layer(x[1].clone())  # (L, H_in)
    assert single.shape == (25, 40) and h_single.shape == (1, 40)
    torch.testing.assert_close(single, out[:, 1])


def test_same_seed_same_reservoir_as_echo_state_network():
    layer = make(leak_rate=1.0, bias_scaling=0.0)
    esn = EchoStateNetwork(
        3, 40, 1, connectivity=0.1, spectral_radius=0.9, bias_scaling=0.0, seed=0
    )
    u = np.random.default_rng(0).uniform(-1, 1, (30, 3))
    states, _ = layer(torch.from_numpy(u))
    np.testing.assert_allclose(states.numpy(), esn.states(u), rtol=0, atol=1e-12)


def test_fast_path_follows_changed_weights():
    """The fast path keeps W's CSR form between calls; load_state_dict (an in-place copy),
    in-place edits and new buffers must still be seen."""
    layer, other = make(impl="fast"), make(seed=1, impl="reference")
    u = torch.from_numpy(np.random.default_rng(2).uniform(-1, 1, (20, 2, 3)))
    before = layer(u)[0]
    layer.load_state_dict(other.state_dict())
    expected = other(u)[0]
    torch.testing.assert_close(layer(u)[0], expected, rtol=0, atol=1e-12)
    layer.weight_hh_values.mul_(0.5)
    other.weight_hh_values.mul_(0.5)
    torch.testing.assert_close(layer(u)[0], other(u)[0], rtol=0, atol=1e-12)
    replacement = torch.empty_like(other.weight_hh_values).copy_(other.weight_hh_values).mul_(2)
    assert replacement._version == layer.weight_hh_values._version  # only identity tells them apart
    layer.weight_hh_values = replacement
    torch.testing.assert_close(layer(u)[0], expected, rtol=0, atol=1e-12)
    assert not torch.allclose(before, expected)
    layer.leak_rate = 0.3
    fast = layer(u)[0]
    layer.impl = "reference"
    torch.testing.assert_close(fast, layer(u)[0], rtol=0, atol=1e-12)


def test_layer_with_its_kernel_cache_copies_and_saves(tmp_path):
    layer = make(impl="fast")
    u = torch.from_numpy(np.random.default_rng(3).uniform(-1, 1, (10, 2, 3)))
    states = layer(u)[0]
    assert "_cached_kernel" in layer.__dict__
    torch.testing.assert_close(copy.deepcopy(layer)(u)[0], states, rtol=0, atol=0)
    torch.save(layer, tmp_path / "layer.pt")
    loaded = torch.load(tmp_path / "layer.pt", weights_only=False)
    assert "_cached_kernel" not in loaded.__dict__ and "_cached_kernel" in layer.__dict__
    torch.testing.assert_close(loaded(u)[0], states, rtol=0, atol=0)


@pytest.mark.parametrize("dense_limit", [1024, 0])
def test_gradient_flows_through_the_reservoir_to_the_input(dense_limit, monkeypatch):
    monkeypatch.setattr("recur.reservoir.layer.DENSE_LIMIT", dense_limit)
    layer = ESNLayer(3, 12, connectivity=0.3, leak_rate=0.6, seed=0, dtype=torch.float64)
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x)[0], (x,))
    layer.impl = "fast"
    with pytest.raises(ValueError, match="impl: 'fast' runs on the CPU without gradients"):
        layer(x)
    assert all(not p.requires_grad for p in layer.buffers() if p.is_floating_point())
    assert list(layer.parameters()) == []


class Forecaster(nn.Module):
    """A trainable encoder, a fixed reservoir and a trainable readout."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(1, 3, dtype=torch.float64)
        self.reservoir = make(spectral_radius=0.8)
        self.readout = nn.Linear(40, 1, dtype=torch.float64)

    def forward(self, u):
        states, _ = self.reservoir(torch.tanh(self.encoder(u)))
        return self.readout(states)


def test_works_inside_a_model_trained_by_an_optimiser():
    torch.manual_seed(0)
    t = torch.arange(0, 120, dtype=torch.float64)
    u = torch.sin(t / 4).reshape(-1, 1, 1)  # (L, B=1, 1)
    model = Forecaster()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        loss = ((model(u[:-1])[20:] - u[1:][20:]) ** 2).mean()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert model.encoder.weight.grad is not None  # the gradient crossed the reservoir
    assert losses[-1] < 0.05 * losses[0]
    # state_dict round trip carries the reservoir buffers
    copy = Forecaster()
    copy.load_state_dict(model.state_dict())
    torch.testing.assert_close(copy(u), model(u))


def test_ridge_readout_on_the_states():
    layer = make()
    u = torch.sin(torch.arange(400, dtype=torch.float64) / 5).reshape(-1, 1, 1).repeat(1, 1, 3)
    states, _ = layer(u[:-1])
    readout = nn.Linear(40, 1, dtype=torch.float64)
    fit_readout(readout, states[50:], u[1:, :, :1][50:], ridge=1e-8)
    with torch.no_grad():
        error = (readout(states[50:]) - u[1:, :, :1][50:]).pow(2).mean().sqrt()
    assert error < 1e-4
    with pytest.raises(ValueError, match="readout: expected nn.Linear\\(40, 1\\) with a bias"):
        fit_readout(nn.Linear(40, 1, bias=False), states, u[1:, :, :1], ridge=1e-8)


def test_bad_layer_input():
    layer = make()
    with pytest.raises(ValueError, match="input: expected last dimension input_size=3"):
        layer(torch.zeros(5, 2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="input: expected dtype torch.float64"):
        layer(torch.zeros(5, 2, 3))
    with pytest.raises(ValueError, match="hx: expected shape \\(1, 2, 40\\)"):
        layer(torch.zeros(5, 2, 3, dtype=torch.float64), torch.zeros(2, 40, dtype=torch.float64))
    with pytest.raises(ValueError, match="impl: expected one of"):
        make(impl="cuda")
