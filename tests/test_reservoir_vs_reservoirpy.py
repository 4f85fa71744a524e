"""recur's Echo State Network against reservoirpy's (the anchor, a dev dependency), both given
the same fixed weights: the same states, readout, predictions and free run."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import reservoirpy
from reservoirpy.nodes import Reservoir, Ridge

from recur.reservoir import EchoStateNetwork, mackey_glass, scale

WASHOUT, RIDGE, LEAK = 50, 1e-5, 0.5


@pytest.fixture(scope="module")
def pair():
    series = scale(mackey_glass(1000))
    x, y = series[:600, None], series[1:601, None]
    ours = EchoStateNetwork(
        1, 120, 1, spectral_radius=1.25, leak_rate=LEAK, connectivity=0.05, ridge=RIDGE,
        washout=WASHOUT, seed=3,
    )  # fmt: skip
    w = ours.weights
    reservoir = Reservoir(W=w.W.copy(), Win=w.W_in.copy(), bias=w.b.copy(), lr=LEAK)
    theirs = reservoirpy.ESN(reservoir=reservoir, readout=Ridge(ridge=RIDGE), input_to_readout=True)
    ours.fit(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its progress and conditioning notices
        theirs.fit(x, y, warmup=WASHOUT)
    return series, ours, theirs


def test_same_states(pair):
    series, ours, theirs = pair
    theirs.reset()
    np.testing.assert_allclose(
        ours.states(series[:300, None]), theirs.reservoir.run(series[:300, None]), atol=1e-12
    )


def test_same_readout_and_one_step_predictions(pair):
    """The same ridge problem (intercept not penalised, washout left out) solved two ways:
    recur's Cholesky on the dual kernel or Gram matrix, reservoirpy's solve on centred normal
    equations."""
    series, ours, theirs = pair
    window = series[600:900, None]
    theirs.reset()
    expected = theirs.run(window)
    np.testing.assert_allclose(ours.predict(window), expected, rtol=0, atol=1e-8)
    assert np.abs(expected[50:, 0] - series[651:901]).max() < 0.05  # and they learnt something


def test_same_free_run(pair):
    series, ours, theirs = pair
    warmup = series[700:900, None]
    theirs.reset()
    y = theirs.run(warmup)[-1]
    generated = [y]
    for _ in range(29):
        y = theirs.step(y)
        generated.append(y)
    np.testing.assert_allclose(
        ours.generate(30, warmup=warmup)[:, 0], np.concatenate(generated), rtol=0, atol=1e-7
    )
