"""The helpers a forecasting task needs: the Mackey–Glass series, NRMSE and the PNG plot."""

import numpy as np
import torch

from recur.reservoir import mackey_glass, nrmse, plot_prediction, rmse, scale


def test_mackey_glass_is_the_chaotic_tau_17_series():
    series = mackey_glass(1500)
    assert series.shape == (1500,) and series.dtype == np.float64
    np.testing.assert_array_equal(series, mackey_glass(1500))  # deterministic for a seed
    assert not np.array_equal(series, mackey_glass(1500, seed=1))
    assert 0.2 < series.min() < 0.5 and 1.2 < series.max() < 1.5  # the attractor's known range
    # tau = 17 is chaotic (largest Lyapunov exponent about 0.007 per time unit): histories 1e-8
    # apart stay close for hundreds of steps, then separate completely
    a, b = mackey_glass(3000, x0=1.2), mackey_glass(3000, x0=1.2 + 1e-8)
    assert abs(a[:100] - b[:100]).max() < 1e-5 and abs(a[-200:] - b[-200:]).max() > 0.1
    # a finer step integrates the same history: the samples converge (second order in dt)
    coarse, fine, finer = (mackey_glass(100, discard=0, dt=dt) for dt in (0.1, 0.05, 0.025))
    assert (
        abs(coarse - fine).max() < 1e-4 and abs(fine - finer).max() < 0.3 * abs(coarse - fine).max()
    )
    unit = scale(series)
    assert unit.min() == -1.0 and unit.max() == 1.0


def test_nrmse_and_rmse():
    truth = np.sin(np.arange(200) / 7.0)
    assert nrmse(truth, truth) == 0.0
    np.testing.assert_allclose(nrmse(truth, np.full_like(truth, truth.mean())), 1.0)
    np.testing.assert_allclose(rmse(truth, truth + 0.1), 0.1)
    two = np.stack([truth, 2 * truth], axis=1)
    np.testing.assert_allclose(nrmse(two, two + [0.1, 0.2]), 0.1 / truth.std())
    np.testing.assert_allclose(nrmse(torch.from_numpy(truth), truth + 0.5, scale=0.5), 1.0)


def test_plot_prediction_writes_a_png(tmp_path):
    truth = np.sin(np.arange(100) / 5.0)
    path = plot_prediction(truth, truth + 0.05, tmp_path / "plots" / "mg.png", title="MG")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    two = np.stack([truth, -truth], axis=1)
    plot_prediction(torch.from_numpy(two), two, tmp_path / "two.png", start=50)
    assert (tmp_path / "two.png").stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots", "two.png"]
