"""Known-answer tests of recur.diagnostics: gradient flow, Jacobian spectra, gradient tracking."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import recur
from recur.cells.base import Cell
from recur.diagnostics import (
    GradientTracker,
    NonFiniteGradientError,
    gradient_flow,
    jacobian_spectrum,
)
from recur.diagnostics.plots import plot_flow, plot_flow_heatmap, plot_spectrum, plot_tracker
from recur.engine import ENGINES
from recur.layers.base import RecurrentLayer


class LinearCell(Cell):
    """h_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh: the identity-activation RNN."""

    def step(self, xp_t, state, params, t):
        (h_prev,) = state
        return (xp_t + self.recurrent_gemm(h_prev, params),), (h_prev,)

    def step_backward(self, d_state, saved, params, t):
        (dh,) = d_state
        (h_prev,) = saved
        return dh, (dh @ params["weight_hh"],), self.recurrent_grad_terms(dh, h_prev)


class LinearRNN(RecurrentLayer):
    def make_cell(self, input_size):
        return LinearCell(input_size, self.hidden_size, self.bias)


def last_step_loss(g):
    """L = <g, h_{T-1}> summed over the batch: dL/dh_{T-1} = g."""
    return lambda model, x: (model(x)[0][-1] * g).sum()


def test_linear_rnn_flow_is_powers_of_w_transpose():
    torch.manual_seed(0)
    steps, hidden = 12, 5
    layer = LinearRNN(3, hidden, dtype=torch.float64)
    with torch.no_grad():
        layer.weight_hh_l0.copy_(1.1 * torch.linalg.qr(torch.randn(hidden, hidden))[0])
    g = torch.randn(1, hidden, dtype=torch.float64)
    x = torch.randn(steps, 1, 3, dtype=torch.float64)
    flow = gradient_flow(layer, x, last_step_loss(g))
    w = layer.weight_hh_l0.detach()
    expected = torch.stack(
        [torch.linalg.matrix_power(w.t(), steps - 1 - k) @ g[0] for k in range(steps)]
    )
    torch.testing.assert_close(flow.grads["l0"]["h"][:, 0], expected)
    torch.testing.assert_close(flow.norms()["l0"], expected.norm(dim=1))
    # 1.1 x orthogonal: the norm grows by exactly 1.1 per step back in time
    ratios = flow.norms()["l0"][:-1] / flow.norms()["l0"][1:]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 1.1))


def test_linear_rnn_flow_with_loss_on_every_step():
    torch.manual_seed(1)
    steps, hidden = 7, 4
    layer = LinearRNN(2, hidden, dtype=torch.float64)
    g = torch.randn(steps, 3, hidden, dtype=torch.float64)
    x = torch.randn(steps, 3, 2, dtype=torch.float64)
    flow = gradient_flow(layer, x, lambda m, b: (m(b)[0] * g).sum())
    w = layer.weight_hh_l0.detach()
    expected, total = torch.empty_like(g), torch.zeros_like(g[0])
    for k in reversed(range(steps)):  # dL/dh_k = g_k + W^T dL/dh_{k+1}
        total = g[k] + total @ w
        expected[k] = total
    torch.testing.assert_close(flow.grads["l0"]["h"], expected)


def test_zero_recurrent_matrix_gives_gradient_at_last_step_only():
    torch.manual_seed(2)
    model = nn.Module()
    model.rnn = recur.ElmanRNN(3, 6, num_layers=2, bidirectional=True)
    with torch.no_grad():
        for name, p in model.rnn.named_parameters():
            if name.startswith("weight_hh"):
                p.zero_()
    x = torch.randn(9, 4, 3)
    flow = gradient_flow(model, x, lambda m, b: m.rnn(b)[0][-1].pow(2).sum())
    assert set(flow.grads) == {"rnn.l0", "rnn.l0_reverse", "rnn.l1", "rnn.l1_reverse"}
    for key, norms in flow.norms().items():
        # steps are in input order, so the reverse direction's last position is its first step
        assert norms[-1] > 0, key
        assert torch.all(norms[:-1] == 0), key


def test_flow_matches_output_grad_at_last_step_and_restores_the_layer():
    torch.manual_seed(3)
    lstm = recur.LSTM(3, 5)
    x = torch.randn(6, 2, 3)
    flow = gradient_flow(lstm, x, lambda m, b: m(b)[0][-1].sum())
    assert lstm.impl == "fused"
    assert not any(name.startswith("_diagnostics") for name in ENGINES)
    assert all(p.grad is None for p in lstm.parameters())
    torch.testing.assert_close(flow.grads["l0"]["h"][-1], torch.ones(2, 5))
    # c's probe sees only later steps (h_k is computed from c_k before the probe): zero at the
    # last step, nonzero before it as the loss reaches back through the cell state
    c_norms = flow.norms("c")["l0"]
    assert c_norms[-1] == 0 and torch.all(c_norms[:-1] > 0)


def test_flow_of_padded_reverse_direction_keeps_padding_at_the_end():
    torch.manual_seed(4)
    rnn = recur.GRU(2, 3, bidirectional=True)
    x = torch.randn(5, 2, 2)
    lengths = torch.tensor([5, 3])
    flow = gradient_flow(rnn, x, lambda m, b: m(b, lengths=lengths)[0].sum())
    for key in ("l0", "l0_reverse"):
        assert torch.all(flow.grads[key]["h"][3:, 1] == 0)
        assert torch.all(flow.grads[key]["h"][:3, 1].abs().sum(1) > 0)


def _elman_step_jacobians(rnn, x):
    p = {n: t.detach().double() for n, t in rnn.named_parameters()}
    h = torch.zeros(x.shape[1], rnn.hidden_size, dtype=torch.float64)
    out = []
    for x_t in x.double():

        def step(h_prev, x_t=x_t):
            return torch.tanh(
                x_t @ p["weight_ih_l0"].t()
                + p["bias_ih_l0"]
                + h_prev @ p["weight_hh_l0"].t()
                + p["bias_hh_l0"]
            )

        full = torch.autograd.functional.jacobian(step, h)  # (B, H, B, H)
        out.append(torch.stack([full[b, :, b] for b in range(h.shape[0])]))
        h = step(h)
    return torch.stack(out)


def test_jacobian_spectrum_matches_autograd_jacobian_for_elman():
    torch.manual_seed(5)
    rnn = recur.ElmanRNN(2, 4)
    x = torch.randn(6, 3, 2)
    spec = jacobian_spectrum(rnn, x)
    expected = _elman_step_jacobians(rnn, x)
    torch.testing.assert_close(spec.jacobians, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(
        spec.step_singular_values, torch.linalg.svdvals(expected), atol=1e-6, rtol=1e-5
    )
    product = expected[2] @ expected[1] @ expected[0]
    torch.testing.assert_close(
        spec.product_singular_values[2], torch.linalg.svdvals(product), atol=1e-6, rtol=1e-5
    )
    w = rnn.weight_hh_l0.detach().double()
    assert spec.weight_spectral_radius[0] == pytest.approx(
        float(torch.linalg.eigvals(w).abs().max())
    )
    assert spec.weight_max_singular_value[0] == pytest.approx(float(torch.linalg.svdvals(w)[0]))


def test_jacobian_spectrum_of_lstm_state_matches_torch_lstm_cell():
    torch.manual_seed(6)
    lstm = recur.LSTM(2, 3, bidirectional=True, dtype=torch.float64)
    ref = nn.LSTMCell(2, 3, dtype=torch.float64)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(ref, name).data.copy_(getattr(lstm, f"{name}_l0_reverse"))
    x = torch.randn(4, 1, 2, dtype=torch.float64)
    spec = jacobian_spectrum(lstm, x, direction=1)
    state = torch.zeros(1, 6, dtype=torch.float64)
    for t, x_t in enumerate(x.flip(0)):

        def step(s, x_t=x_t):
            return torch.cat(ref(x_t, (s[:, :3], s[:, 3:])), dim=1)

        expected = torch.autograd.functional.jacobian(step, state)[0, :, 0]
        torch.testing.assert_close(spec.jacobians[t, 0], expected)
        state = step(state)
    assert len(spec.weight_spectral_radius) == 4


def test_tracker_norms_and_clip_rate():
    model = nn.Linear(2, 1, bias=True)
    tracker = GradientTracker(model, clip=1.0)
    for step, scale in enumerate((0.1, 3.0, 0.15, 2.0)):
        model.weight.grad = torch.tensor([[3.0, 4.0]]) * scale
        model.bias.grad = torch.zeros(1)
        record = tracker.observe(step, loss=torch.tensor(1.0))
        assert record.global_norm == pytest.approx(5 * scale)
        assert record.group_norms["weight"] == pytest.approx(5 * scale)
    assert tracker.clip_rate == 0.5
    grouped = GradientTracker(model, group_by=lambda name: "all")
    assert grouped.observe(0).group_norms == {"all": pytest.approx(10.0)}


def test_tracker_raises_naming_first_nonfinite_parameter_and_step():
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    tracker = GradientTracker(model)
    x = torch.randn(4, 2)
    model(x).sum().backward()
    tracker.observe(0)
    model.zero_grad()
    with torch.no_grad():
        model[1].weight[0, 1] = float("nan")  # NaN reaches 1.weight's and 0.*'s gradients
    model(x).sum().backward()
    with pytest.raises(NonFiniteGradientError, match=r"step 1: .*gradient of 0\.weight"):
        tracker.observe(1)
    assert tracker.first_nonfinite == (1, "0.weight")


def test_tracker_reports_nonfinite_loss_and_goes_on():
    model = nn.Linear(1, 1)
    tracker = GradientTracker(model, on_nonfinite="report")
    model.weight.grad, model.bias.grad = torch.ones(1, 1), torch.ones(1)
    tracker.observe(0, loss=float("inf"))
    model.weight.grad = torch.full((1, 1), float("inf"))
    record = tracker.observe(1, loss=1.0)
    assert record.nonfinite == "weight"
    assert tracker.first_nonfinite == (0, "loss")


def test_plots_write_pngs(tmp_path):
    torch.manual_seed(8)
    rnn = recur.ElmanRNN(2, 4)
    x = torch.randn(5, 2, 2)
    flow = gradient_flow(rnn, x, lambda m, b: F.mse_loss(m(b)[0][-1], torch.zeros(2, 4)))
    norms = flow.norms()["l0"]
    paths = [
        plot_flow({"elman": norms}, tmp_path / "flow.png"),
        plot_flow_heatmap(torch.stack([norms, norms / 2]), [0, 10], tmp_path / "heat.png"),
        plot_spectrum(jacobian_spectrum(rnn, x), tmp_path / "spec.png"),
    ]
    tracker = GradientTracker(rnn, clip=1.0)
    rnn(x)[0].sum().backward()
    tracker.observe(0)
    paths.append(plot_tracker(tracker, tmp_path / "norms.png"))
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
