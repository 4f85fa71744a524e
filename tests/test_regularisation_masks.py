"""The regularisers' masks and meaning: rates, reproducibility, evaluation, equations, arguments.

A spy engine records what the layer hands to the engine (the recurrent weights after weight drop
and the :class:`Regularisation` masks) and runs the reference engine. The equations are checked
against loops written here from the papers' definitions; test_regularisation.py holds every
engine to the reference.
"""

from __future__ import annotations

import math

import pytest
import torch

import recur
from recur.engine import ENGINES, native
from recur.engine.reference import run_reference
from recur.engine.regularisation import (
    GAMMA,
    MIX_1,
    MIX_2,
    Regularisation,
    draw_seed,
    threshold,
    zoneout_noise,
)
from recur.layers.registry import LAYERS
from recur.layers.regularisation import bernoulli_mask

DOUBLE = torch.float64
NAMES = ("recurrent_dropout", "zoneout", "weight_drop")


@pytest.fixture
def calls(monkeypatch):
    """Registers impl="spy": records (params, reg, state0) of every engine call."""
    recorded = []

    def spy(cell, params, xp, state0, valid, reg=None):
        recorded.append({"params": params, "reg": reg, "state0": state0})
        return run_reference(cell, params, xp, state0, valid, reg)

    monkeypatch.setitem(ENGINES, "spy", spy)
    return recorded


def within(fraction: float, p: float, count: int) -> bool:
    """|fraction - p| within 5 standard deviations of a Bernoulli(p) mean over count draws."""
    return abs(fraction - p) <= 5 * math.sqrt(p * (1 - p) / count) + 1 / 65536


# ------------------------------------------------------------------ mask statistics
def test_recurrent_dropout_mask_per_sequence_layer_and_direction(calls):
    p, batch, hidden = 0.3, 64, 256
    lstm = recur.LSTM(8, hidden, num_layers=2, bidirectional=True, proj_size=32,
                      recurrent_dropout=p, impl="spy")  # fmt: skip
    lstm(torch.randn(10, batch, 8))
    masks = [call["reg"].recurrent_mask for call in calls]
    assert len(masks) == 4  # two layers, two directions
    for mask in masks:
        assert mask.shape == (batch, 32)  # h's size: the projection
        values = mask.unique()
        assert values[0] == 0 and values[1:].tolist() == [pytest.approx(1 / (1 - p))]
    dropped = torch.stack(masks) == 0
    assert within(dropped.double().mean().item(), p, dropped.numel())
    assert not any(torch.equal(masks[0], m) for m in masks[1:])
    assert all(call["reg"].zoneout == 0.0 for call in calls)


def test_zoneout_mask_per_step_and_unit(calls):
    p, steps, batch, hidden = 0.2, 30, 16, 64
    lstm = recur.LSTM(8, hidden, zoneout=p, impl="spy")
    lstm(torch.randn(steps, batch, 8))
    (call,) = calls
    assert call["reg"].zoneout == p and call["reg"].recurrent_mask is None
    seed = call["reg"].zoneout_seed
    assert seed.shape == () and seed.dtype == torch.int64
    keep = call["reg"].keep_mask(steps, batch, 2 * hidden)  # h and c side by side
    assert within(keep.double().mean().item(), p, keep.numel())
    assert not torch.equal(keep[0], keep[1])  # a new mask at every step


@pytest.mark.parametrize("p", [0.0, 0.05, 0.5, 0.9, 1 - 2**-16])
def test_bernoulli_mask_rate(p):
    """16 random bits per element: the rate is p to 1/65536, at every position of a draw."""
    torch.manual_seed(0)
    mask = bernoulli_mask((4001, 250), p)  # not a multiple of 4 elements
    assert mask.shape == (4001, 250) and mask.dtype == torch.bool
    for lane in range(4):  # each 16-bit lane of the 64-bit draws
        part = mask.flatten()[lane::4].double()
        assert within(part.mean().item(), p, part.numel())


# ------------------------------------------------------------------ zoneout's noise
def splitmix64_words(seed: int, count: int) -> list[int]:
    """splitmix64's first ``count`` outputs from state ``seed``, in Python's exact integers."""
    words, mask = [], (1 << 64) - 1
    for i in range(1, count + 1):
        z = (seed + i * GAMMA) & mask
        z = ((z ^ (z >> 30)) * MIX_1) & mask
        z = ((z ^ (z >> 27)) * MIX_2) & mask
        words.append(z ^ (z >> 31))
    return words


@pytest.mark.parametrize("seed", [0, 1234567, -1, -(2**63), 2**63 - 1])
def test_zoneout_noise_is_splitmix64(seed):
    """Word w of row (t, b) is output (t B + b) W + w + 1 (W words a row), in lanes low first."""
    steps, batch, width = 3, 5, 10  # width not a multiple of 4: the last word's lanes cut
    words_per_row = 3
    words = splitmix64_words(seed % 2**64, steps * batch * words_per_row)
    lanes = [(word >> (16 * k)) & 0xFFFF for word in words for k in range(4)]
    expected = torch.tensor([v - 2**16 if v >= 2**15 else v for v in lanes], dtype=torch.int16)
    expected = expected.view(steps, batch, 4 * words_per_row)[..., :width]
    assert torch.equal(zoneout_noise(torch.tensor(seed), steps, batch, width), expected)
    if seed == 1234567:  # the published first output of splitmix64 from this state
        assert words[0] == 6457827717110365317


@pytest.mark.skipif(not native.load(), reason="the native engine did not build")
@pytest.mark.parametrize(("steps", "batch", "width"), [(1, 1, 1), (7, 5, 13), (40, 64, 256)])
def test_native_zoneout_noise_is_bit_identical(steps, batch, width):
    """The kernels' inline generator, materialised, against the torch engines' function."""
    torch.manual_seed(width)
    for _ in range(3):
        seed = draw_seed()
        native_noise = torch.ops.recur_native.zoneout_noise(seed, steps, batch, width)
        assert torch.equal(native_noise, zoneout_noise(seed, steps, batch, width))


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 1 - 2**-16])
def test_zoneout_noise_rate(p):
    """P(keep) is p to 1/65536 at each of the four 16-bit lanes of the generator's words."""
    torch.manual_seed(0)
    keep = Regularisation(zoneout=p, zoneout_seed=draw_seed()).keep_mask(50, 40, 250)
    assert keep.shape == (50, 40, 250) and keep.dtype == torch.bool
    for lane in range(4):
        part = keep[..., lane::4].double()
        assert within(part.mean().item(), p, part.numel())


@pytest.mark.parametrize("impl", ["native", "python"])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_zoneout_keeps_h_where_the_noise_says(name, impl):
    """Engines keep h_{t-1} just where noise(seed) < threshold(p), seed the layer's draw."""
    if impl == "native" and not native.load():
        pytest.skip("the native engine did not build")
    p, steps, batch, hidden = 0.3, 12, 33, 24
    layer = getattr(recur, name)(3, hidden, zoneout=p, impl=impl)
    x = torch.randn(steps, batch, 3)
    torch.manual_seed(5)
    out = layer(x)[0].detach()
    torch.manual_seed(5)  # the layer's one draw: the seed of its zoneout noise
    width = hidden * (2 if name == "LSTM" else 1)
    keep = zoneout_noise(draw_seed(), steps, batch, width)[..., :hidden] < threshold(p)
    assert torch.equal(out[1:][keep[1:]], out[:-1][keep[1:]])
    assert (out[1:][~keep[1:]] != out[:-1][~keep[1:]]).all()


def test_weight_drop_masks_w_hh_once_per_forward(calls):
    p = 0.4
    gru = recur.GRU(8, 128, weight_drop=p, impl="spy")
    gru(torch.randn(5, 2, 8))
    gru(torch.randn(5, 2, 8))
    first, second = (call["params"]["weight_hh"] for call in calls)
    raw = gru.weight_hh_l0
    for dropped in (first, second):
        kept = dropped != 0
        assert within(1 - kept.double().mean().item(), p, kept.numel())
        torch.testing.assert_close(dropped[kept], raw[kept] / (1 - p))
    assert not torch.equal(first, second)
    assert calls[0]["reg"] is None  # weight drop acts before the engine only
    first.sum().backward()  # the gradient reaches the raw weight through the mask
    torch.testing.assert_close(raw.grad, (first != 0).float() / (1 - p))


def test_off_draws_nothing(calls):
    """p = 0: the engine gets no masks and the raw weight, and the RNG is untouched."""
    lstm = recur.LSTM(3, 4, num_layers=2, impl="spy")
    state = torch.get_rng_state()
    lstm(torch.randn(5, 2, 3))
    torch.set_rng_state(state)  # the input above used the RNG, the layer must not have
    lstm(torch.zeros(5, 2, 3))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(call["reg"] is None for call in calls)
    assert calls[0]["params"]["weight_hh"] is lstm.weight_hh_l0


# ------------------------------------------------------------------ reproducibility, evaluation
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_same_seed_same_output(name):
    layer = LAYERS[name](3, 8, num_layers=2, recurrent_dropout=0.3, zoneout=0.2, weight_drop=0.3)
    x = torch.randn(6, 2, 3)
    outputs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        outputs.append(layer(x)[0])
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], outputs[2])


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("regulariser", ["recurrent_dropout", "weight_drop"])
def test_evaluation_drops_nothing(name, regulariser):
    """In evaluation the dropouts are off: the layer equals its p = 0 twin, deterministically."""
    torch.manual_seed(0)
    layer = LAYERS[name](3, 8, num_layers=2, bidirectional=True, **{regulariser: 0.5}).eval()
    plain = LAYERS[name](3, 8, num_layers=2, bidirectional=True).eval()
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(6, 2, 3)
    state = torch.get_rng_state()
    out = layer(x)[0]
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(out, layer(x)[0])
    assert torch.equal(out, plain(x)[0])


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_evaluation_zoneout_is_deterministic(name):
    layer = LAYERS[name](3, 8, zoneout=0.3).eval()
    x = torch.randn(6, 2, 3)
    state = torch.get_rng_state()
    assert torch.equal(layer(x)[0], layer(x)[0])
    assert torch.equal(torch.get_rng_state(), state)


# ------------------------------------------------------------------ the equations
def elman_loop(rnn, x, mask=None, keep=None):
    """h_t = k h_{t-1} + (1-k) tanh(W_ih x_t + b_ih + W_hh (m ⊙ h_{t-1}) + b_hh), h_0 = 0."""
    h = x.new_zeros(x.shape[1], rnn.hidden_size)
    outputs = []
    for t in range(x.shape[0]):
        h_in = h if mask is None else mask * h
        h_new = torch.tanh(x[t] @ rnn.weight_ih_l0.t() + rnn.bias_ih_l0
                           + h_in @ rnn.weight_hh_l0.t() + rnn.bias_hh_l0)  # fmt: skip
        k = keep[t].to(x.dtype) if isinstance(keep, torch.Tensor) else keep or 0.0
        h = k * h + (1 - k) * h_new
        outputs.append(h)
    return torch.stack(outputs)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_recurrent_dropout_is_gals(calls, impl):
    """One mask for the whole sequence on h_{t-1}, scaled by 1/(1-p)."""
    p = 0.5
    rnn = recur.ElmanRNN(3, 16, recurrent_dropout=p, dtype=DOUBLE, impl="spy")
    x = torch.randn(8, 4, 3, dtype=DOUBLE)
    torch.manual_seed(0)
    out = rnn(x)[0]
    mask = calls[0]["reg"].recurrent_mask
    with torch.no_grad():
        torch.testing.assert_close(out, elman_loop(rnn, x, mask=mask), rtol=0, atol=1e-12)
    rnn.impl = impl
    torch.manual_seed(0)
    torch.testing.assert_close(rnn(x)[0], out, rtol=0, atol=1e-12)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_zoneout_is_kruegers(calls, training):
    """Training: each unit keeps h_{t-1} where d_t = 1; evaluation: the blend with p."""
    p = 0.3
    rnn = recur.ElmanRNN(3, 16, zoneout=p, dtype=DOUBLE, impl="spy").train(training)
    x = torch.randn(8, 4, 3, dtype=DOUBLE)
    out = rnn(x)[0]
    reg = calls[0]["reg"]
    keep = reg.keep_mask(8, 4, 16) if training else reg.zoneout
    assert reg.zoneout == p and (reg.zoneout_seed is None) != training
    with torch.no_grad():
        torch.testing.assert_close(out, elman_loop(rnn, x, keep=keep), rtol=0, atol=1e-12)


def test_lstm_zoneout_keeps_h_where_the_mask_says(calls):
    lstm = recur.LSTM(3, 16, zoneout=0.5, impl="spy")
    out = lstm(torch.randn(10, 4, 3))[0]
    keep_h = calls[0]["reg"].keep_mask(10, 4, 32)[..., :16]
    assert torch.equal(out[1:][keep_h[1:]], out[:-1][keep_h[1:]])
    assert (out[1:][~keep_h[1:]] != out[:-1][~keep_h[1:]]).all()


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("argument", NAMES)
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan"), True, "0.1", None])
def test_bad_probability_names_the_argument(name, argument, value):
    with pytest.raises(ValueError, match=rf"^{argument}: expected a probability in \[0, 1\)"):
        LAYERS[name](3, 4, **{argument: value})


@pytest.mark.parametrize("argument", NAMES)
def test_options_are_read_only_and_shown(argument):
    lstm = recur.LSTM(3, 4, **{argument: 0.25})
    assert getattr(lstm, argument) == 0.25
    assert f"{argument}=0.25" in repr(lstm)
    with pytest.raises(AttributeError):
        setattr(lstm, argument, 0.5)
